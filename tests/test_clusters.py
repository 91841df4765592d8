"""Clusters added in the dashboard: validation, encrypted passwords, and test connection.

The property-based cases (hypothesis, bounded) feed `clusters.add` and `clusters.update` whatever the
form could hand over: a valid cluster is stored as given, anything else is refused with a message and
writes nothing."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa
from hypothesis import event, example, given
from hypothesis import strategies as s

from starmon import clusters, rollup, schema
from starmon.config import ClusterConfig
from starmon.emulator import ClusterSpec
from starmon.probe import check_connection
from starmon.read import Reader
from starmon.secrets import SecretError, Secrets
from starmon.store import Store

from .fixtures import cluster_configs, cluster_rows
from .strategies import ENV_PW, FAST, PASSWORD_IN_INPUT, check_cluster, check_refusal, raw_clusters

SECRET = "pa55-w0rd-never-stored"
FILE = (ClusterConfig("from-file", "10.0.0.9"),)


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'c.db'}")
    s.sync_clusters(FILE)
    yield s
    s.close()


@pytest.fixture
def secrets(tmp_path):
    return Secrets.from_environment(tmp_path / "secret.key", environ={})


def test_add_encrypts_and_collects_with_the_password(store, secrets, tmp_path):
    clusters.add(store, secrets, {"name": "prod", "fe_host": "10.0.0.1", "password": SECRET})
    row = next(r for r in cluster_rows(store) if r["name"] == "prod")
    assert row["source"] == "ui" and row["password_encrypted"] and SECRET not in row["password_encrypted"]
    for f in tmp_path.iterdir():
        assert SECRET.encode() not in f.read_bytes()
    ready = dict((c.name, c) for _, c in clusters.collectable(store, secrets, FILE))
    assert ready["prod"].password == SECRET and set(ready) == {"prod", "from-file"}
    assert SECRET not in repr(ready["prod"])
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"name": "from-file", "fe_host": "h"}, "already exists"),
        ({"name": "FROM-FILE", "fe_host": "h"}, "already exists"),
        ({"name": "x", "fe_host": ""}, "fe_host"),
        ({"name": "x", "fe_host": "h", "http_port": 0}, "1 to 65535"),
        ({"name": "x", "fe_host": "h", "query_port": 65536}, "1 to 65535"),
        ({"name": "", "fe_host": "h"}, "name"),
    ],
)
def test_bad_additions_change_nothing(store, secrets, fields, message):
    before = cluster_rows(store)
    with pytest.raises(clusters.ClusterError, match=message):
        clusters.add(store, secrets, fields)
    assert cluster_rows(store) == before


def test_skipping_certificate_checks_without_https_is_refused(store, secrets):
    """The form's two checkboxes cannot react to each other before Save, so the combination that means
    nothing (no HTTPS, "do not verify the certificate") is refused there, by Save and Test alike."""
    plain_http = {"name": "prod", "fe_host": "10.0.0.1", "tls": False, "tls_verify": False}
    before = cluster_rows(store)
    with pytest.raises(clusters.ClusterError, match="needs HTTPS"):
        clusters.add(store, secrets, plain_http)
    with pytest.raises(clusters.ClusterError, match="needs HTTPS"):
        clusters.validated(plain_http)  # what Test connection checks
    assert cluster_rows(store) == before
    clusters.add(store, secrets, {**plain_http, "tls_verify": True})
    before = cluster_rows(store)
    with pytest.raises(clusters.ClusterError, match="tick HTTPS, or untick"):
        clusters.update(store, secrets, "prod", plain_http)
    assert cluster_rows(store) == before
    assert not clusters.update(store, secrets, "prod", {**plain_http, "tls": True}).tls_verify


def test_edit_keeps_password_disable_and_delete(store, secrets):
    clusters.add(store, secrets, {"name": "prod", "fe_host": "10.0.0.1", "password": SECRET})
    clusters.update(
        store, secrets, "prod", {"name": "prod-eu", "fe_host": "10.0.0.1", "user": "monitor", "password": ""}
    )
    ready = {c.name: c for _, c in clusters.collectable(store, secrets, FILE)}
    assert ready["prod-eu"].password == SECRET and ready["prod-eu"].user == "monitor"
    clusters.set_enabled(store, "prod-eu", False)
    assert "prod-eu" not in {c.name for _, c in clusters.collectable(store, secrets, FILE)}
    with pytest.raises(clusters.ClusterError, match="starmon.toml"):
        clusters.delete(store, "from-file")
    store.write_round(store.cluster_ids()["from-file"], {"ts": 1.0, "status": "ok", "collect_ms": 1}, [])
    clusters.delete(store, "prod-eu")
    assert [r["name"] for r in cluster_rows(store)] == ["from-file"]
    assert store.previous_round(store.cluster_ids()["from-file"]).ts == 1.0  # other history untouched


def test_wrong_key_skips_the_cluster_and_says_why(store, secrets, tmp_path, caplog):
    clusters.add(store, secrets, {"name": "prod", "fe_host": "10.0.0.1", "password": SECRET})
    clusters.add(store, secrets, {"name": "no-password", "fe_host": "10.0.0.2"})
    other = Secrets.from_environment(tmp_path / "other.key", environ={})
    assert [c.name for _, c in clusters.collectable(store, other, FILE)] == ["from-file", "no-password"]
    assert "cannot be decrypted" in caplog.text and SECRET not in caplog.text
    assert clusters.undecryptable(cluster_rows(store), other) == ["prod"]  # named, so callers can say so
    assert clusters.undecryptable(cluster_rows(store), secrets) == []
    with pytest.raises(SecretError, match="not a valid Fernet key"):
        Secrets.from_environment(tmp_path / "x", environ={"STARMON_SECRET_KEY": "short"})


def test_check_connection_reports_each_check(emulator):
    emu = emulator(ClusterSpec("c1", profile="3.3"))
    [admin] = cluster_configs(emu)
    assert [(c.name, c.status) for c in check_connection(admin, timeout=2)] == [
        ("FE HTTP /metrics", "ok"),
        ("show_proc", "ok"),
        ("MySQL port", "ok"),
        ("Version", "ok"),
    ]
    [monitor] = cluster_configs(emu, user="monitor", password="monitor")
    checks = {c.name: c for c in check_connection(monitor, timeout=2)}
    assert checks["show_proc"].status == "warning"
    assert "lacks admin: falling back to SHOW BACKENDS" in checks["show_proc"].detail
    assert checks["Version"].detail == "StarRocks 3.3.5"
    emu.set_faults("c1", {"mysql_refused": True})
    checks = {c.name: c for c in check_connection(admin, timeout=2)}
    assert checks["MySQL port"].status == "failed" and "connection refused" in checks["MySQL port"].detail
    assert checks["FE HTTP /metrics"].status == "ok"


def test_delete_takes_rollups_and_leases_with_it(store, secrets):
    """Every table keyed by cluster is cleared, so the delete is never blocked by history."""
    clusters.add(store, secrets, {"name": "old", "fe_host": "10.0.0.9"})
    cid = store.cluster_ids()["old"]
    day = 86400 * 20_000
    store.write_rounds(
        cid,
        [
            (
                {"ts": day + i * 600.0, "status": "ok", "collect_ms": 1, "qps": 1.0},
                [{"role": "BE", "host": "10.0.0.9", "cpu_pct": 5.0}],
            )
            for i in range(200)
        ],
    )
    rollup.maintain(store, [cid], 600, 7, 90, now=day + 2 * 86400)
    with store.writer.begin() as conn:
        conn.execute(schema.collector_leases.insert().values(cluster_id=cid, owner="c1", expires_at=1.0))
    keyed = [t for t in schema.metadata.sorted_tables if "cluster_id" in t.c]
    with store.reader.connect() as conn:
        held = {
            t.name
            for t in keyed
            if conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.cluster_id == cid)).scalar()
        }
    assert {"hourly_snapshots", "daily_snapshots", "collector_leases"} <= held  # the history is there
    clusters.delete(store, "old")
    with store.reader.connect() as conn:
        assert all(
            conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.cluster_id == cid)).scalar() == 0
            for t in keyed
        )
    assert "old" not in store.cluster_ids()


def test_every_cluster_setting_is_stored_and_read_back(tmp_path):
    """A ClusterConfig survives the clusters table whole (bar its password), so a new setting is not forgotten."""
    cluster = ClusterConfig(
        "x",
        "10.0.0.9",
        http_port=8031,
        query_port=9031,
        user="monitor",
        password="pw",
        password_env="X_PW",
        tls=True,
        tls_verify=False,
        enabled=False,
    )
    assert set(cluster.row_fields()) == {f.name for f in dataclasses.fields(ClusterConfig)} - {"name", "password"}
    store = Store(f"sqlite:///{tmp_path / 'starmon.db'}")
    store.sync_clusters((cluster,))
    [row] = Reader(store).clusters()
    assert ClusterConfig.from_row(row, "pw") == cluster
    store.close()


# -- a stored password goes only where it was saved for ---------------------------------------------------

STORED = {"fe_host": "10.0.0.1", "http_port": 8030, "query_port": 9030, "tls": True, "tls_verify": True}


@pytest.mark.parametrize(
    "change, allowed",
    [
        ({}, True),
        ({"user": "monitor", "name": "renamed"}, True),
        ({"fe_host": "10.0.0.66"}, False),
        ({"fe_host": "10.0.0.1.nip.io"}, False),
        ({"http_port": 8031}, False),
        ({"query_port": 9031}, False),
        ({"tls": False}, False),  # the password would cross the network in clear
        ({"tls_verify": False}, False),  # anyone on the path could pose as the FE
    ],
)
def test_may_reuse_password_only_for_the_same_address_and_protection(change, allowed):
    assert clusters.may_reuse_password(STORED, {**STORED, **change}) is allowed


def test_may_reuse_password_allows_stronger_protection():
    plain_http = {**STORED, "tls": False, "tls_verify": True}
    assert clusters.may_reuse_password(plain_http, {**plain_http, "tls": True})
    assert clusters.may_reuse_password(plain_http, {**plain_http, "tls_verify": False})  # verify means nothing on http
    unverified = {**STORED, "tls_verify": False}
    assert clusters.may_reuse_password(unverified, {**unverified, "tls_verify": True})
    assert not clusters.may_reuse_password(unverified, {**unverified, "tls": False})


@pytest.mark.parametrize("change", [{"fe_host": "10.0.0.66"}, {"http_port": 8031}, {"query_port": 9031}])
def test_saving_a_new_address_needs_the_password_again(store, secrets, change):
    clusters.add(store, secrets, {"name": "prod", "fe_host": "10.0.0.1", "password": SECRET})
    before = cluster_rows(store)
    edited = {
        "name": "prod",
        "fe_host": "10.0.0.1",
        "http_port": 8030,
        "query_port": 9030,
        "tls": False,
        "tls_verify": True,
        "password": "",
        **change,
    }
    with pytest.raises(clusters.ClusterError, match="type the password again"):
        clusters.update(store, secrets, "prod", edited)
    assert cluster_rows(store) == before  # nothing changed
    with pytest.raises(clusters.ClusterError, match="type the password again"):
        clusters.password_to_test(before[1], edited, secrets)
    clusters.update(store, secrets, "prod", {**edited, "password": "typed-again"})
    ready = {c.name: c for _, c in clusters.collectable(store, secrets, FILE)}
    assert ready["prod"].password == "typed-again"
    assert (ready["prod"].fe_host, ready["prod"].http_port, ready["prod"].query_port) == (
        edited["fe_host"],
        edited["http_port"],
        edited["query_port"],
    )


def test_password_to_test(store, secrets, tmp_path):
    clusters.add(store, secrets, {"name": "prod", "fe_host": "10.0.0.1", "password": SECRET})
    row = next(r for r in cluster_rows(store) if r["name"] == "prod")
    same = {
        "fe_host": "10.0.0.1",
        "http_port": 8030,
        "query_port": 9030,
        "tls": False,
        "tls_verify": True,
        "password": "",
    }
    assert clusters.password_to_test(row, same, secrets) == SECRET
    assert clusters.password_to_test(row, {**same, "fe_host": "elsewhere", "password": "typed"}, secrets) == "typed"
    other = Secrets.from_environment(tmp_path / "other.key", environ={})
    with pytest.raises(clusters.ClusterError, match="cannot be decrypted with the current key") as caught:
        clusters.password_to_test(row, same, other)
    assert SECRET not in str(caught.value)


# -- whatever the form hands over (property-based) --------------------------------------------------------------


@pytest.fixture
def registry_store(store, secrets, pw_env):
    """The store with two clusters added through the form beside the one from the file, and the table as it
    is then: every example starts from it."""
    clusters.add(store, secrets, {"name": "editable", "fe_host": "10.0.0.1", "password": "old-password"})
    clusters.add(store, secrets, {"name": "other", "fe_host": "10.0.0.2"})
    return store, secrets, cluster_rows(store)


def assert_encrypted(stored: str, password: str, secrets: Secrets) -> None:
    """A Fernet token that decrypts to the password. A short password can turn up inside the token's
    base64 by chance ("0" often does), so its absence is only checked where chance cannot explain it."""
    assert stored.startswith("gAAAAA") and secrets.decrypt(stored) == password
    if len(password) >= 6:
        assert password not in stored


def reset(store: Store, baseline: list[dict]) -> None:
    """Put the clusters table back as the fixture made it (without the settings events the example
    stored), so every example starts the same."""
    with store.writer.begin() as conn:
        conn.execute(schema.events.delete())
        conn.execute(schema.clusters.delete())
        conn.execute(schema.clusters.insert(), baseline)


@FAST
@given(fields=raw_clusters)
@example(fields={"name": "Editable", "fe_host": "10.0.0.5"})
@example(fields={"name": "abc\n", "fe_host": "10.0.0.5"})
@example(fields={"name": "new", "fe_host": "10.0.0.5", "password": PASSWORD_IN_INPUT, "password_env": ENV_PW})
def test_add_accepts_valid_or_refuses_and_writes_nothing(registry_store, fields):
    store, secrets, baseline = registry_store
    reset(store, baseline)
    try:
        cluster = clusters.add(store, secrets, fields)
    except clusters.ClusterError as exc:
        event("refused")
        check_refusal(exc, fields)
        assert cluster_rows(store) == baseline
        return
    event("accepted")
    check_cluster(cluster)
    after = cluster_rows(store)
    [row] = [r for r in after if r["id"] not in {b["id"] for b in baseline}]
    assert [r for r in after if r is not row] == baseline
    assert (
        row["name"],
        row["source"],
        row["fe_host"],
        row["http_port"],
        row["query_port"],
        row["user"],
        bool(row["tls"]),
        bool(row["enabled"]),
        row["password_env"],
    ) == (
        cluster.name,
        "ui",
        cluster.fe_host,
        cluster.http_port,
        cluster.query_port,
        cluster.user,
        cluster.tls,
        cluster.enabled,
        cluster.password_env,
    )
    password = fields.get("password")
    if password and not cluster.password_env:
        assert_encrypted(row["password_encrypted"], password, secrets)
    else:
        assert row["password_encrypted"] is None
    assert [r["name"].lower() for r in after].count(cluster.name.lower()) == 1


@FAST
@given(
    target=s.one_of(s.just("editable"), s.sampled_from(["EDITABLE", "from-file", "missing"]), s.text(max_size=10)),
    fields=raw_clusters,
)
@example(target="editable", fields={"name": 5, "fe_host": "10.0.0.5"})
@example(target="editable", fields={"name": None, "fe_host": "10.0.0.5"})
@example(target="editable", fields={"name": "OTHER", "fe_host": "10.0.0.5"})
@example(target="editable", fields={"name": "renamed", "fe_host": "10.0.0.5", "password": ""})
def test_update_accepts_valid_or_refuses_and_writes_nothing(registry_store, target, fields):
    store, secrets, baseline = registry_store
    reset(store, baseline)
    try:
        cluster = clusters.update(store, secrets, target, fields)
    except clusters.ClusterError as exc:
        event("refused")
        check_refusal(exc, fields)
        assert cluster_rows(store) == baseline
        return
    event("accepted")
    check_cluster(cluster)
    assert target.lower() == "editable"
    old = next(b for b in baseline if b["name"] == "editable")
    after = cluster_rows(store)
    row = next(r for r in after if r["id"] == old["id"])
    assert [r for r in after if r is not row] == [b for b in baseline if b is not old]
    assert (
        row["name"],
        row["source"],
        row["fe_host"],
        row["http_port"],
        row["query_port"],
        row["user"],
        row["password_env"],
    ) == (
        cluster.name,
        "ui",
        cluster.fe_host,
        cluster.http_port,
        cluster.query_port,
        cluster.user,
        cluster.password_env,
    )
    password = fields.get("password")
    if password:
        assert_encrypted(row["password_encrypted"], password, secrets)
    elif cluster.password_env:
        assert row["password_encrypted"] is None
    else:
        assert row["password_encrypted"] == old["password_encrypted"]  # empty keeps the stored one
    assert [r["name"].lower() for r in after].count(cluster.name.lower()) == 1
