"""Collector crash and restart: `python collector.py` killed with SIGKILL, again and again.

A real collector process (loop mode, `interval_seconds = 1`) collects three emulated
clusters, one of them slow (every HTTP answer waits SLOW_SECONDS), so a round is often
still in flight. It is killed with SIGKILL at varied moments: during start-up, in the middle
of a round (the fast clusters stored, the slow one not yet) and after varied delays. After
every kill the SQLite file must open cleanly and pass `PRAGMA integrity_check`, every row
committed before the kill must still be there, every stored round must be whole (a snapshot
with all its node rows, never one without the other), no (cluster, ts) may repeat, and the
writer lock must be free again (the OS releases it), so the next collector takes over at
once and keeps appending rounds with strictly increasing timestamps.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from starmon import schema
from starmon.emulator import ClusterSpec
from starmon.writer_lock import WriterLock

from .fixtures import ROOT, exact_workload

CLUSTERS = ("alpha", "beta", "slow")
SLOW_SECONDS = 0.6  # the slow cluster's round takes about 2-3 × this (two HTTP phases)
TIMEOUT_SECONDS = 3.0  # > SLOW_SECONDS: the slow cluster is late, not down
# When to kill, after the restarted collector stored its first new row (or after its start).
KILLS = (("start-up", 0.4), ("mid-round", None), ("delay", 0.15), ("delay", 0.7), ("delay", 1.3), ("delay", 2.2))
WAIT_SECONDS = 30  # bound on every wait for the collector


# -- the database, read with plain sqlite3 as any tool would ----------------------------------------


def _open(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, timeout=30)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def _rows(db: Path) -> list[tuple]:
    """(snapshot id, cluster name, ts) of every stored round."""
    if not db.exists():
        return []
    with _open(db) as conn:
        try:
            return conn.execute(
                "SELECT s.id, c.name, s.ts FROM metrics_snapshots s JOIN clusters c "
                "ON c.id = s.cluster_id ORDER BY s.id"
            ).fetchall()
        except sqlite3.OperationalError as exc:  # the schema is not created yet
            if "no such table" in str(exc):
                return []
            raise


def _check(db: Path, seen: list[tuple]) -> dict[str, list[float]]:
    """Everything a killed collector must leave behind; returns the ts of every round by cluster."""
    conn = _open(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # the schema is created in one transaction: all of it or none of it
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables in (set(), set(schema.metadata.tables) | {"alembic_version"}), tables  # all or nothing
        if not tables:
            assert not seen
            return {}
        rows = conn.execute(
            "SELECT s.id, c.name, s.ts FROM metrics_snapshots s JOIN clusters c ON c.id = s.cluster_id ORDER BY s.id"
        ).fetchall()
        # every round committed before the kill survived it
        missing = set(seen) - set(rows)
        assert not missing, f"{len(missing)} committed rounds lost: {sorted(missing)[:5]}"
        # no duplicate (cluster, ts)
        dupes = conn.execute(
            "SELECT cluster_id, ts, count(*) FROM metrics_snapshots GROUP BY cluster_id, ts HAVING count(*) > 1"
        ).fetchall()
        assert dupes == [], dupes
        # every round is whole: a snapshot has exactly the node rows its counts say, and no node row
        # is left without its snapshot
        torn = conn.execute("""
            SELECT s.id, s.status, coalesce(s.frontend_total, 0) + coalesce(s.backend_total, 0)
                   + coalesce(s.compute_total, 0) AS expected,
                   (SELECT count(*) FROM node_snapshots n WHERE n.snapshot_id = s.id) AS stored
            FROM metrics_snapshots s""").fetchall()
        assert all(stored == expected for _, _, expected, stored in torn), [t for t in torn if t[2] != t[3]][:5]
        assert all(stored > 0 for _, status, _, stored in torn if status != "down"), torn[:5]
        orphans = conn.execute(
            "SELECT count(*) FROM node_snapshots n WHERE NOT EXISTS "
            "(SELECT 1 FROM metrics_snapshots s WHERE s.id = n.snapshot_id)"
        ).fetchone()[0]
        assert orphans == 0
        mismatched = conn.execute(
            "SELECT count(*) FROM node_snapshots n JOIN metrics_snapshots s "
            "ON s.id = n.snapshot_id WHERE n.ts != s.ts OR n.cluster_id != s.cluster_id"
        ).fetchone()[0]
        assert mismatched == 0
    finally:
        conn.close()
    by_cluster: dict[str, list[float]] = {}
    for _, name, ts in rows:
        by_cluster.setdefault(name, []).append(ts)
    # in the order they were stored, each cluster's rounds move strictly forward in time
    for name, times in by_cluster.items():
        assert all(b > a for a, b in zip(times, times[1:])), (name, times)
    return by_cluster


# -- the collector process ------------------------------------------------------------------------


def _start(tmp_path: Path, run: int) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / f"collector-{run}.log"
    env = {
        **os.environ,
        "STARMON_DB_URL": f"sqlite:///{tmp_path / 'data' / 'starmon.db'}",
        "STARMON_CONFIG": str(tmp_path / "starmon.toml"),
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "collector.py", "-v"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    return proc, log


def _wait_for(condition, proc: subprocess.Popen, log: Path, what: str, poll: float = 0.02):
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        result = condition()
        if result:
            return result
        assert proc.poll() is None, f"collector exited ({proc.returncode}) waiting for {what}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {what} within {WAIT_SECONDS} s:\n{log.read_text()}"
        time.sleep(poll)


def _mid_round(db: Path, known: int):
    """A round whose fast clusters are stored while the slow one is still being collected."""
    rows = _rows(db)[known:]
    fast = {ts for _, name, ts in rows if name != "slow"}
    slow = {ts for _, name, ts in rows if name == "slow"}
    return rows if fast - slow else None


@pytest.fixture
def cluster_file(emulator, tmp_path):
    emu = emulator(*(ClusterSpec(name, "3.3", workload=exact_workload()) for name in CLUSTERS))
    emu.set_faults("slow", {"slow_seconds": SLOW_SECONDS})
    text = f"interval_seconds = 1\nstatistics_interval_seconds = 600\ntimeout_seconds = {TIMEOUT_SECONDS}\n"
    for d in emu.describe():
        text += (
            f'\n[[clusters]]\nname = "{d["name"]}"\nfe_host = "{d["fe_host"]}"\n'
            f'http_port = {d["http_port"]}\nquery_port = {d["query_port"]}\nuser = "root"\n'
        )
    (tmp_path / "starmon.toml").write_text(text)
    return tmp_path


def test_sigkill_at_any_moment_loses_nothing_committed_and_a_restart_continues(cluster_file):
    tmp_path = cluster_file
    db = tmp_path / "data" / "starmon.db"
    lock_path = db.with_name(db.name + ".collector.lock")
    logs: list[Path] = []
    kills: list[str] = []
    by_cluster: dict[str, list[float]] = {}
    started = time.monotonic()

    for run, (moment, delay) in enumerate(KILLS):
        known = len(_rows(db))
        proc, log = _start(tmp_path, run)
        logs.append(log)
        try:
            if moment == "start-up":
                time.sleep(delay)
            elif moment == "mid-round":
                _wait_for(lambda known=known: _mid_round(db, known), proc, log, "a round in flight", poll=0.01)
            else:
                _wait_for(lambda known=known: len(_rows(db)) > known, proc, log, "a new round")
                time.sleep(delay)
            seen = _rows(db)
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(10) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        kills.append(moment if delay is None else f"{moment} +{delay} s")
        if db.exists():
            by_cluster = _check(db, seen)
        # the OS released the dead collector's lock: anyone can take it now
        lock = WriterLock(lock_path)
        assert lock.acquire(), f"lock still held after the kill ({lock.holder()})"
        lock.release()

    # A last collector takes over at once and keeps collecting every cluster.
    before = {name: len(times) for name, times in by_cluster.items()}
    last_ts = {name: times[-1] for name, times in by_cluster.items()}
    proc, log = _start(tmp_path, len(KILLS))
    logs.append(log)
    try:

        def two_new_rounds_each():
            rows = _rows(db)
            return all(sum(1 for _, n, _ in rows if n == name) >= before.get(name, 0) + 2 for name in CLUSTERS)

        _wait_for(two_new_rounds_each, proc, log, "two new rounds of every cluster")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    by_cluster = _check(db, seen)
    for name in CLUSTERS:
        assert by_cluster[name][-1] > last_ts.get(name, 0)

    for log in logs:
        text = log.read_text()
        assert "staying idle" not in text, text  # the lock was never found held
        for bad in ("database is locked", "malformed", "round not stored", "collection round failed"):
            assert bad not in text, text

    # Rounds cut short: the fast clusters stored a round the slow one never finished.
    ts_sets = {name: set(times) for name, times in by_cluster.items()}
    cut = len((ts_sets["alpha"] | ts_sets["beta"]) - ts_sets["slow"])
    kept = sum(len(times) for times in by_cluster.values())
    print(
        f"\n[crash] kills={len(kills)} ({', '.join(kills)}); rounds kept={kept} "
        f"({', '.join(f'{n} {len(t)}' for n, t in sorted(by_cluster.items()))}); "
        f"rounds cut short by a kill={cut}; elapsed={time.monotonic() - started:.1f} s"
    )
    assert len(kills) == len(KILLS)
    assert cut >= 1  # at least the mid-round kill landed while a round was in flight
