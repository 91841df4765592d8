"""The plaintext password never leaves memory: not in the database, logs, UI, CLI output or error messages.

The emulated cluster's admin user `root` needs the password, so a round that comes back `ok` proves the
password was really used; every place starmon writes to is then searched for it, as text and as bytes
(UTF-8, UTF-16, URL-encoded, and base64 as in an HTTP Basic header).
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from starmon import clusters as registry
from starmon import schema
from starmon.config import ClusterConfig, Config
from starmon.emulator import ClusterSpec
from starmon.probe import check_connection
from starmon.scheduler import Collector
from starmon.scheduler import main as collector_main
from starmon.secrets import SecretError, Secrets
from starmon.store import Store

from .fixtures import PW, ROOT, assert_absent, exact_workload, free_port, open_page, ui_dump

WRONG = "Wr0ng-S3cret-pw?"  # a wrong password someone typed
LOGGERS = ("", "starmon", "httpx", "httpcore", "pymysql", "mysql_mimic", "asyncio", "sqlalchemy")


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("STARMON_SECRET_KEY", "STARMON_SECRET_KEY_FILE", "STARMON_CONFIG", "STARMON_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def secure(emulator):
    """One emulated cluster whose admin user `root` has the password PW."""
    emu = emulator(ClusterSpec("secure", workload=exact_workload()), admin_password=PW)
    return emu.describe()[0]


def config_for(d: dict, name: str, password: str, **overrides) -> ClusterConfig:
    return ClusterConfig(
        name=name,
        fe_host=d["fe_host"],
        http_port=d["http_port"],
        query_port=d["query_port"],
        password=password,
        **{"user": "root", **overrides},
    )


def form_fields(d: dict, name: str, password: str) -> dict:
    return {
        "name": name,
        "fe_host": d["fe_host"],
        "http_port": d["http_port"],
        "query_port": d["query_port"],
        "user": "root",
        "password": password,
        "tls": False,
    }


def files_under(path: Path) -> dict[str, bytes]:
    return {str(f): f.read_bytes() for f in path.rglob("*") if f.is_file()}


def assert_files_clean(path: Path, *passwords: str) -> None:
    found = files_under(path)
    assert any(name.endswith(".db") for name in found)
    for name, data in found.items():
        assert_absent(data, name, *passwords)


# -- the database and its files ---------------------------------------------------------------------------------


def test_password_is_not_in_the_database_files(secure, tmp_path, clean_env):
    db = tmp_path / "starmon.db"
    url = f"sqlite:///{db}"
    store = Store(url)
    secrets = Secrets.from_environment(store.key_file())
    registry.add(store, secrets, form_fields(secure, "ui-cluster", PW))
    assert db.with_name("starmon.db-wal").exists()
    assert_files_clean(tmp_path)

    file_cluster = config_for(secure, "file-cluster", PW)  # a password straight from starmon.toml
    collector = Collector(Config(db_url=url, clusters=(file_cluster,), timeout_seconds=5), store)
    try:
        results = {r.name: r for r in collector.run_round()}
        # ok means show_proc (admin only) and MySQL both accepted the password
        assert {n: (r.status, r.reason) for n, r in results.items()} == {
            "ui-cluster": ("ok", None),
            "file-cluster": ("ok", None),
        }
        collector.run_statistics()
        registry.update(store, secrets, "ui-cluster", form_fields(secure, "ui-cluster", PW))  # re-encrypted
        collector.run_round()
        assert_files_clean(tmp_path)  # the WAL and shm as the collector left them
        with store.reader.connect() as conn:
            rows = conn.execute(sa.select(schema.clusters)).mappings().all()
            sources = conn.exec_driver_sql("SELECT DISTINCT source FROM metrics_snapshots").scalars().all()
            passes = conn.exec_driver_sql("SELECT status FROM data_statistics").scalars().all()
        assert sources == ["show_proc"] and passes == ["ok", "ok"]
        tokens = [r["password_encrypted"] for r in rows if r["password_encrypted"]]
        assert len(tokens) == 1 and secrets.decrypt(tokens[0]) == PW
        for row in rows:
            assert_absent(repr(dict(row)), f"clusters row {row['name']}")
    finally:
        collector.close()
        store.close()
    assert_files_clean(tmp_path)  # and after a checkpoint on close


# -- logs -------------------------------------------------------------------------------------------------------


@pytest.fixture
def debug_logs(caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    return caplog


def logged_text(caplog) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.args), str(record.exc_info), record.exc_text or ""]
    return "\n".join(parts)


def test_password_is_not_logged_at_any_level(secure, tmp_path, clean_env, debug_logs):
    url = f"sqlite:///{tmp_path / 'starmon.db'}"
    store = Store(url)
    secrets = Secrets.from_environment(store.key_file())
    registry.add(store, secrets, form_fields(secure, "good", PW))
    registry.add(store, secrets, form_fields(secure, "wrong", WRONG))
    refused = ClusterConfig("refused", "127.0.0.1", free_port(), free_port(), password=PW)
    collector = Collector(Config(db_url=url, clusters=(refused,), timeout_seconds=3), store)
    try:
        results = {r.name: r for r in collector.run_round()}
        collector.run_statistics()
    finally:
        collector.close()
        store.close()
    assert results["good"].status == "ok"
    assert results["wrong"].status != "ok" and "access denied" in results["wrong"].reason
    assert results["refused"].status == "down" and "connection refused" in results["refused"].reason
    names = {r.name.split(".")[0] for r in debug_logs.records}
    assert {"starmon", "httpcore", "mysql_mimic"} <= names, names  # DEBUG really was captured
    assert any(r.levelno == logging.DEBUG for r in debug_logs.records)
    assert_absent(logged_text(debug_logs), "the logs", PW, WRONG)


# -- error messages ---------------------------------------------------------------------------------------------


def test_password_is_not_in_error_messages(secure, emulator, tmp_path, clean_env, debug_logs):
    url = f"sqlite:///{tmp_path / 'starmon.db'}"
    no_mysql = emulator(ClusterSpec("no-mysql"), admin_password=PW)
    no_mysql.set_faults("no-mysql", {"mysql_refused": True})
    clusters = (
        config_for(secure, "wrong-password", WRONG),
        config_for(secure, "wrong-user", PW, user="nobody"),
        config_for(no_mysql.describe()[0], "mysql-refused", PW),
        ClusterConfig("refused", "127.0.0.1", free_port(), free_port(), password=PW),
    )
    store = Store(url)
    collector = Collector(
        Config(db_url=url, clusters=clusters, timeout_seconds=3),
        store,
        secrets=Secrets.from_environment(tmp_path / "secret.key", environ={}),
    )
    try:
        results = collector.run_round()
        collector.run_statistics()
    finally:
        collector.close()
    reasons = {r.name: r.reason for r in results}
    assert all(r.status != "ok" and r.reason for r in results), results
    assert "access denied (check user and password)" in reasons["wrong-password"]
    assert "access denied (check user and password)" in reasons["wrong-user"]
    assert "connection refused" in reasons["mysql-refused"] and "connection refused" in reasons["refused"]
    for result in results:
        assert_absent(result.line(), f"the --once line of {result.name}", PW, WRONG)
    with store.reader.connect() as conn:
        errors = (
            conn.exec_driver_sql(
                "SELECT error FROM metrics_snapshots UNION ALL SELECT error FROM data_statistics"
                " UNION ALL SELECT error FROM node_snapshots"
            )
            .scalars()
            .all()
        )
    store.close()
    assert len([e for e in errors if e]) >= 8
    for error in errors:
        assert_absent(error or "", "a stored error", PW, WRONG)
    for checked in (config_for(secure, "probe", WRONG), clusters[2], clusters[3]):
        checks = check_connection(checked, timeout=3)
        assert any(c.status == "failed" for c in checks)
        for check in checks:
            assert_absent(f"{check.name} {check.detail}", "Test connection", PW, WRONG)
    assert_absent(logged_text(debug_logs), "the logs", PW, WRONG)


# -- the dashboard ----------------------------------------------------------------------------------------------


def test_password_is_not_shown_in_the_dashboard(secure, env, tmp_path):
    store = env["store"]
    registry.add(store, Secrets.from_environment(store.key_file()), form_fields(secure, "api-added", PW))
    at = open_page("clusters")
    assert not at.exception, at.exception
    # Add a second one through the form itself.
    at.text_input[0].input("form-added")
    at.text_input[1].input(secure["fe_host"])
    at.number_input[0].set_value(secure["http_port"])
    at.number_input[1].set_value(secure["query_port"])
    at.text_input[3].input(PW)
    next(b for b in at.button if b.label == "Save").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert {r["name"] for r in store.enabled_clusters()} == {"api-added", "form-added"}
    assert list(at.dataframe[0].value["Password"]) == ["stored (encrypted)", "stored (encrypted)"]
    assert_absent(ui_dump(at), "the Clusters page after saving")

    # The edit form: the password box stays empty, and Test connection uses the stored password.
    assert all(not t.value for t in at.text_input if t.label == "Password")
    [test_button] = [b for b in at.button if b.label == "Test connection" and "edit-" in b.proto.form_id]
    test_button.click()
    at.run()
    assert not at.exception, at.exception
    assert len(at.success) == 4, [(e.value) for e in at.error + at.warning]  # every check passed
    assert_absent(ui_dump(at), "the Clusters page after Test connection")

    again = open_page("clusters")  # a later visit
    assert not again.exception
    assert_absent(ui_dump(again), "the Clusters page on a later visit")
    assert_files_clean(tmp_path)


# -- the command line -------------------------------------------------------------------------------------------


def run_cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    full = {**{k: v for k, v in os.environ.items() if not k.startswith("STARMON_")}, **env}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60)


def test_password_is_not_in_cli_output(secure, tmp_path):
    db = tmp_path / "starmon.db"
    config = tmp_path / "starmon.toml"
    port, query_port = free_port(), free_port()
    config.write_text(
        "timeout_seconds = 3\n\n"
        f'[[clusters]]\nname = "good"\nfe_host = "{secure["fe_host"]}"\nhttp_port = {secure["http_port"]}\n'
        f'query_port = {secure["query_port"]}\npassword = "{PW}"\n\n'
        f'[[clusters]]\nname = "wrong"\nfe_host = "{secure["fe_host"]}"\nhttp_port = {secure["http_port"]}\n'
        f'query_port = {secure["query_port"]}\npassword = "{WRONG}"\n\n'
        f'[[clusters]]\nname = "refused"\nfe_host = "127.0.0.1"\nhttp_port = {port}\nquery_port = {query_port}\n'
        f'password = "{PW}"\n'
    )
    env = {"STARMON_DB_URL": f"sqlite:///{db}", "STARMON_CONFIG": str(config)}
    once = run_cli(["collector.py", "--once", "--statistics", "--verbose"], env)
    assert once.returncode == 0, once.stderr
    lines = dict(line.split(": ", 1) for line in once.stdout.splitlines())
    assert lines["good"].startswith("ok in ")
    assert "access denied" in lines["wrong"] and "connection refused" in lines["refused"]
    assert_absent(once.stdout + once.stderr, "collector --once output", PW, WRONG)

    for cluster in ("good", "wrong", "refused"):
        overview = run_cli(["-m", "starmon", "overview", "--cluster", cluster, "--range", "1h", "--json"], env)
        assert overview.returncode == 0, overview.stderr
        data = json.loads(overview.stdout)
        assert (
            data["cluster"] == cluster
            and data["status"] == {"good": "ok", "wrong": "partial", "refused": "down"}[cluster]
        )
        assert_absent(overview.stdout + overview.stderr, f"overview --json of {cluster}", PW, WRONG)
    assert any("connection refused" in p for p in data["problems"]), data["problems"]
    for name, blob in files_under(tmp_path).items():
        if not name.endswith(".toml"):  # the TOML file is where the passwords were put
            assert_absent(blob, name, PW, WRONG)


# -- the key ----------------------------------------------------------------------------------------------------


def test_key_file_is_created_owner_only(tmp_path):
    key_file = tmp_path / "new" / "dir" / "secret.key"
    old = os.umask(0)  # even with a permissive umask
    try:
        secrets = Secrets.from_environment(key_file, environ={})
    finally:
        os.umask(old)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = secrets.encrypt(PW)
    assert_absent(token, "the Fernet token")
    assert_absent(key_file.read_bytes(), "the key file")
    assert Secrets.from_environment(key_file, environ={}).decrypt(token) == PW  # the same key is reused
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_secret_key_from_the_environment(secure, tmp_path, clean_env):
    key = Fernet.generate_key().decode()
    clean_env.setenv("STARMON_SECRET_KEY", key)
    url = f"sqlite:///{tmp_path / 'starmon.db'}"
    store = Store(url)
    try:
        registry.add(store, Secrets.from_environment(store.key_file()), form_fields(secure, "env-key", PW))
        collector = Collector(Config(db_url=url, timeout_seconds=5), store)  # its own Secrets, from the env
        try:
            [(_, cluster)] = collector.clusters()
            assert cluster.password == PW
            [result] = collector.run_round()
        finally:
            collector.close()
        assert result.status == "ok", result.reason
        assert not store.key_file().exists()  # no key file when the key comes from the environment
        with store.reader.connect() as conn:
            token = conn.exec_driver_sql("SELECT password_encrypted FROM clusters").scalar_one()
        assert Secrets(key.encode()).decrypt(token) == PW
    finally:
        store.close()
    assert_files_clean(tmp_path)


def test_wrong_key_gives_a_readable_error_without_the_secret(tmp_path, clean_env, caplog, capsys):
    right = Secrets(Fernet.generate_key())
    token = right.encrypt(PW)
    wrong = Secrets(Fernet.generate_key())
    with pytest.raises(SecretError) as caught:
        wrong.decrypt(token)
    message = str(caught.value)
    assert "cannot be decrypted" in message and "STARMON_SECRET_KEY" in message
    assert token not in message and caught.value.__cause__ is None and caught.value.__suppress_context__
    assert_absent(message, "the SecretError")

    bad_key = "not-a-fernet-key-" + PW
    with pytest.raises(SecretError) as caught:
        Secrets.from_environment(tmp_path / "unused.key", environ={"STARMON_SECRET_KEY": bad_key})
    assert "not a valid Fernet key" in str(caught.value)
    assert_absent(str(caught.value), "the invalid-key error")
    assert bad_key not in str(caught.value)

    # A dashboard cluster whose key changed is skipped with a reason, by the collector and its CLI.
    db = tmp_path / "starmon.db"
    store = Store(f"sqlite:///{db}")
    registry.add(store, right, {"name": "locked", "fe_host": "10.0.0.1", "password": PW})
    assert registry.collectable(store, wrong, ()) == []
    store.close()
    assert "locked skipped" in caplog.text and "cannot be decrypted" in caplog.text
    assert_absent(logged_text(caplog), "the logs")
    clean_env.setenv("STARMON_DB_URL", f"sqlite:///{db}")
    clean_env.setenv("STARMON_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    clean_env.setenv("STARMON_SECRET_KEY", Fernet.generate_key().decode())  # valid, but not the one used
    assert collector_main(["--once"]) == 2
    clean_env.setenv("STARMON_SECRET_KEY", bad_key)
    assert collector_main(["--once"]) == 2
    out = capsys.readouterr()
    assert "not a valid Fernet key" in out.err
    assert_absent(out.out + out.err + logged_text(caplog), "collector output with a wrong key")
