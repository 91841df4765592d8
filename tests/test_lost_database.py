"""A SQLite file deleted or replaced under a running starmon: noticed at the next write, said in one line.

SQLite keeps writing into a deleted file through its open descriptor, so without a check the
collector and the pages would go on "storing" rounds that vanish at the next start.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest

from starmon import clusters as registry
from starmon.config import ClusterConfig
from starmon.secrets import Secrets
from starmon.store import DatabaseLost, Store, StoreError

from .fixtures import ROOT, add_cluster, free_port, open_page, seed_rounds, unescape

LOST = "was deleted or replaced while starmon was running"


def remove_database(db) -> None:
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'starmon.db'}")
    s.sync_clusters((ClusterConfig("a", "h1"),))
    s.write_round(s.cluster_ids()["a"], {"ts": 1.0, "status": "ok", "collect_ms": 1}, [])
    yield s
    s.close()


def test_a_deleted_database_stops_every_write(store, tmp_path):
    db = tmp_path / "starmon.db"
    cid = store.cluster_ids()["a"]
    remove_database(db)
    with pytest.raises(DatabaseLost, match=LOST) as caught:
        store.write_round(cid, {"ts": 2.0, "status": "ok", "collect_ms": 1}, [])
    assert str(db) in str(caught.value) and "restart starmon" in str(caught.value)
    assert isinstance(caught.value, StoreError)  # what every entry point already reports
    with pytest.raises(DatabaseLost):
        registry.add(
            store, Secrets.from_environment(tmp_path / "secret.key", environ={}), {"name": "b", "fe_host": "h2"}
        )
    with pytest.raises(DatabaseLost):
        store.sync_clusters((ClusterConfig("c", "h3"),))
    store.reader.dispose()  # a new connection is checked too ...
    with pytest.raises(DatabaseLost):
        store.enabled_clusters()
    assert not db.exists()  # ... before SQLite makes an empty file there


def test_a_replaced_database_stops_every_write(store, tmp_path):
    db = tmp_path / "starmon.db"
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    os.replace(other, db)  # e.g. a backup restored while running
    with pytest.raises(DatabaseLost, match=LOST):
        store.write_round(store.cluster_ids()["a"], {"ts": 2.0, "status": "ok", "collect_ms": 1}, [])
    assert sqlite3.connect(db).execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)  # untouched


def test_the_collector_stops_rather_than_collect_into_nothing(tmp_path, make_collector):
    db = tmp_path / "starmon.db"
    collector = make_collector([ClusterConfig("gone", "127.0.0.1", free_port(), free_port())], db=db)
    targets = collector.clusters()
    remove_database(db)
    with pytest.raises(DatabaseLost, match=LOST):
        collector.run_round(targets)


def test_the_collector_loop_exits_with_one_line(tmp_path):
    db = tmp_path / "data" / "starmon.db"
    (tmp_path / "starmon.toml").write_text(
        f'interval_seconds = 1\n[[clusters]]\nname = "gone"\n'
        f'fe_host = "127.0.0.1"\nhttp_port = {free_port()}\n'
        f"query_port = {free_port()}\n"
    )
    env = {
        **os.environ,
        "STARMON_CONFIG": str(tmp_path / "starmon.toml"),
        "STARMON_DB_URL": f"sqlite:///{db}",
        "STARMON_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
    }
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "collector.py")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not _stored(db):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.1)
        remove_database(db)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("starmon collector: the database file") and LOST in last, err
    assert "Traceback" not in err, err
    assert not db.exists()  # nothing recreated an empty file in its place


def _stored(db) -> bool:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT count(*) FROM metrics_snapshots").fetchone()[0] > 0
    except sqlite3.Error:
        return False


def test_the_pages_show_the_error(env):
    cid = add_cluster(env["store"])
    seed_rounds(env["store"], cid, hours=0.2)
    at = open_page("overview")
    assert not at.exception and not at.error
    remove_database(env["db"])
    for page in ("overview", "clusters"):
        at = open_page(page)
        assert not at.exception, (page, at.exception)
        errors = [unescape(e.value) for e in at.error]
        assert len(errors) == 1 and LOST in errors[0] and str(env["db"]) in errors[0], (page, errors)
    assert not env["db"].exists()
