"""The SQLite store: WAL, atomic rounds, cluster sync and the single-writer lock."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
import sqlalchemy as sa

from starmon import schema
from starmon.config import ClusterConfig
from starmon.store import Store, StoreError

from .fixtures import cluster_rows


def _count(store, table):
    with store.reader.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'db' / 'starmon.db'}")
    s.sync_clusters((ClusterConfig("a", "h1"), ClusterConfig("b", "h2")))
    yield s
    s.close()


@pytest.fixture
def any_store(db_url):
    """A store on each engine (SQLite, and PostgreSQL when configured)."""
    s = Store(db_url)
    s.sync_clusters((ClusterConfig("a", "h1"), ClusterConfig("b", "h2")))
    yield s
    s.close()


def test_wal_mode_and_parent_directory_created(store, tmp_path):
    assert (tmp_path / "db" / "starmon.db").exists()
    with store.reader.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_round_is_atomic(any_store):
    store = any_store
    cid = store.cluster_ids()["a"]
    store.write_round(
        cid, {"ts": 1.0, "status": "ok", "collect_ms": 5, "qps": 3.0}, [{"role": "FE", "host": "h1", "qps": 3.0}]
    )
    with pytest.raises(sa.exc.IntegrityError):  # a node without a host: the whole round is refused
        store.write_round(cid, {"ts": 2.0, "status": "ok", "collect_ms": 5}, [{"role": "BE", "host": None}])
    assert _count(store, schema.metrics_snapshots) == 1
    assert _count(store, schema.node_snapshots) == 1
    with pytest.raises(sa.exc.IntegrityError):  # the same cluster and time twice is a duplicate
        store.write_round(cid, {"ts": 1.0, "status": "ok", "collect_ms": 5}, [])
    prev = store.previous_round(cid)
    assert prev.ts == 1.0 and prev.nodes[0].qps == 3.0 and prev.nodes[0].disk_total_bytes is None


def test_a_field_that_is_no_column_is_refused_not_stored_as_null(any_store):
    cid = any_store.cluster_ids()["a"]
    with pytest.raises(ValueError, match="no such column: qsp"):
        any_store.write_round(cid, {"ts": 1.0, "status": "ok", "collect_ms": 5, "qsp": 3.0}, [])
    with pytest.raises(ValueError, match="no such column: cpu_pcnt"):
        any_store.write_round(
            cid, {"ts": 1.0, "status": "ok", "collect_ms": 5}, [{"role": "BE", "host": "h", "cpu_pcnt": 1}]
        )
    assert _count(any_store, schema.metrics_snapshots) == 0


def test_last_round_times(any_store):
    """What a collector that gains a cluster reads to keep that cluster's cadence."""
    store = any_store
    ids = store.cluster_ids()
    for ts in (10.0, 40.0, 25.0):
        store.write_round(ids["a"], {"ts": ts, "status": "ok", "collect_ms": 5}, [])
    assert store.last_round_times([ids["a"], ids["b"]]) == {ids["a"]: 40.0}  # b has none yet
    store.write_round(ids["b"], {"ts": 7.5, "status": "down", "collect_ms": 5}, [])
    assert store.last_round_times([ids["b"]]) == {ids["b"]: 7.5}


def test_clusters_removed_from_file_are_disabled_not_deleted(any_store):
    store = any_store
    cid = store.cluster_ids()["b"]
    store.write_round(cid, {"ts": 1.0, "status": "ok", "collect_ms": 1}, [])
    store.sync_clusters((ClusterConfig("a", "h1-new"),))
    assert set(store.cluster_ids()) == {"a"}
    assert _count(store, schema.metrics_snapshots) == 1
    with store.reader.connect() as conn:
        hosts = dict(conn.execute(sa.select(schema.clusters.c.name, schema.clusters.c.fe_host)).all())
    assert hosts == {"a": "h1-new", "b": "h2"}


def test_passwords_are_not_stored(tmp_path):
    path = tmp_path / "s.db"
    s = Store(f"sqlite:///{path}")
    s.sync_clusters((ClusterConfig("a", "h", password="plain-secret-123"),))
    s.close()
    for f in tmp_path.iterdir():
        assert b"plain-secret-123" not in f.read_bytes()


def test_single_writer_lock(store):
    first, second = store.writer_lock(), Store(store.url).writer_lock()
    assert first.acquire()
    assert not second.acquire()
    assert first.holder().isdigit()
    first.release()
    assert second.acquire()
    second.release()


@pytest.mark.parametrize(
    "url, message",
    [
        ("sqlite://", "not an in-memory database"),
        ("sqlite:///:memory:", "not an in-memory database"),
        ("nosuchdb://x", "invalid database URL"),
        ("sqlite:////proc/starmon-cannot-write/x.db", "cannot"),
    ],
)
def test_unusable_databases_raise_readable_errors(url, message):
    with pytest.raises(StoreError, match=message):
        Store(url)


def test_sync_writes_only_what_changed(store):
    before = {r["name"]: r["updated_at"] for r in cluster_rows(store)}
    store.sync_clusters((ClusterConfig("a", "h1"), ClusterConfig("b", "h2")))  # same as the file says
    assert {r["name"]: r["updated_at"] for r in cluster_rows(store)} == before
    store.sync_clusters((ClusterConfig("a", "h1", http_port=8031), ClusterConfig("b", "h2")))
    after = {r["name"]: r for r in cluster_rows(store)}
    assert after["a"]["http_port"] == 8031 and after["a"]["updated_at"] > before["a"]
    assert after["b"]["updated_at"] == before["b"]


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_database_files_are_owner_only(tmp_path, umask):
    """The snapshots and the encrypted passwords are nobody else's business: db, WAL and shm are 0600."""
    db = tmp_path / "starmon.db"
    old = os.umask(umask)
    try:
        store = Store(f"sqlite:///{db}")
        store.sync_clusters((ClusterConfig("a", "h1"),))
        store.write_round(store.cluster_ids()["a"], {"ts": 1.0, "status": "ok", "collect_ms": 1}, [])
        files = {f.name: stat.S_IMODE(f.stat().st_mode) for f in tmp_path.iterdir()}
        store.close()
    finally:
        os.umask(old)
    assert files == {"starmon.db": 0o600, "starmon.db-wal": 0o600, "starmon.db-shm": 0o600}


def test_an_existing_database_keeps_its_mode(tmp_path):
    db = tmp_path / "starmon.db"
    Store(f"sqlite:///{db}").close()
    db.chmod(0o640)  # chosen by the operator, e.g. for a backup group
    Store(f"sqlite:///{db}").close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o640


def test_a_second_store_in_the_process_keeps_other_processes_from_deleting_the_log(tmp_path):
    """Opening the database file to check it, then closing it, dropped every SQLite lock this process
    held on it: another process closing its own connection then took itself for the last user and
    deleted the write-ahead log, so everything written after was invisible and lost on restart."""
    db = tmp_path / "s.db"
    first = Store(f"sqlite:///{db}")
    first.sync_clusters((ClusterConfig("one", "10.0.0.1"),))
    second = Store(f"sqlite:///{db}")  # the dashboard opens a second one: its pages' store
    read = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print(*[r[0] for r in c.execute('SELECT name FROM clusters ORDER BY name')]); c.close()"  # noqa: E501
    subprocess.run([sys.executable, "-c", read, str(db)], check=True, capture_output=True)
    first.sync_clusters((ClusterConfig("one", "10.0.0.1"), ClusterConfig("two", "10.0.0.1")))
    seen = subprocess.run([sys.executable, "-c", read, str(db)], check=True, capture_output=True, text=True)
    assert seen.stdout.split() == ["one", "two"]
    assert (tmp_path / "s.db-wal").exists()
    first.close()
    second.close()
