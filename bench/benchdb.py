"""Deterministic benchmark databases: one cluster's week of rounds, and N clusters copied from it.

Shared by bench_read, bench_fleet, bench_selfmetrics and bench_api, so each measures the same data.

  * One cluster, one round every 30 s (a week: 20,160 `metrics_snapshots` rows) and 5 `node_snapshots`
    rows per round (2 FEs and 3 BEs, filled like the collector fills them: FE-only columns are NULL on
    BEs and the other way round; BE 3 is dead for the last 20 rounds), from a fixed seed (numpy
    default_rng). Written with sqlite3 executemany in one transaction into a file whose schema (and
    pragmas) `Store` created.
  * N clusters: the 1-cluster database is attached and copied N times with one INSERT ... SELECT per
    table, in time order with the clusters interleaved round by round (the row order a live collector
    produces), every float scaled by a per-cluster factor.
"""

from __future__ import annotations

import math
import sqlite3
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from starmon import schema  # noqa: E402
from starmon.config import ClusterConfig  # noqa: E402
from starmon.store import Store  # noqa: E402

SEED = 20240607
STEP = 30  # seconds between rounds
DAY_ROUNDS = 86400 // STEP  # 2,880
WEEK_ROUNDS = 7 * DAY_ROUNDS  # 20,160
FES = ("10.0.0.1", "10.0.0.2")
BES = ("10.0.0.3", "10.0.0.4", "10.0.0.5")
NODES_PER_ROUND = len(FES) + len(BES)
DEAD_BE, DEAD_ROUNDS = "10.0.0.5", 20

SNAP_COLS = [c.name for c in schema.metrics_snapshots.c]
NODE_COLS = [c.name for c in schema.node_snapshots.c]


def floats(table: sa.Table) -> set[str]:
    """The float columns of a table but its time: what a copy scales per cluster."""
    return {c.name for c in table.c if isinstance(c.type, schema.Float)} - {"ts"}


# -- deterministic data ----------------------------------------------------------------------------------


def make_rounds(n: int, end_ts: float, seed: int = SEED) -> tuple[list[tuple], list[tuple]]:
    """`n` rounds of one cluster ending at `end_ts`, as (snapshot rows, node rows) in schema column order,
    with ids 1..n and 1..5n and cluster_id 1."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    ts = end_ts - (n - 1 - i) * STEP
    day = np.sin(2 * np.pi * (ts % 86400) / 86400)
    noise = lambda scale: rng.normal(0.0, scale, n)  # noqa: E731
    dead = i >= n - DEAD_ROUNDS

    qps = np.clip(40 + 25 * day + noise(4), 0.5, None)
    rps = qps * 1.4 + np.abs(noise(2))
    p50 = np.clip(25 + 5 * day + noise(2), 1, None)
    p95 = p50 * 4 + np.abs(noise(5))
    p99 = p95 * 2 + np.abs(noise(20))
    p99[rng.random(n) < 0.002] *= 30  # rare spikes
    queries = np.rint(qps * STEP).astype(np.int64)
    errors = rng.binomial(queries, 0.004)
    timeouts = rng.binomial(queries, 0.001)
    query_total = 3_000_000 + np.cumsum(queries)
    query_error = 12_000 + np.cumsum(errors)
    query_timeout = 3_000 + np.cumsum(timeouts)
    error_rate = 100.0 * errors / np.maximum(queries, 1)
    timeout_rate = 100.0 * timeouts / np.maximum(queries, 1)
    cpu = np.clip(rng.normal(0, 4, (n, 3)) + (30 + 15 * day)[:, None] + [0, 5, 10], 0, 100)
    mem_pct = np.clip(rng.normal(0, 1.5, (n, 3)) + [28.0, 33.0, 37.0], 0, 100)
    disk_total = np.array([1979120929997, 2199023255552, 2418925581107], dtype=np.int64)
    disk_used = (disk_total * (0.52 + 0.004 * (ts - ts[0]) / 86400)[:, None] + rng.normal(0, 2e8, (n, 3))).astype(
        np.int64
    )
    tablets = np.array([1480, 1517, 1554]) + (i // 2880)[:, None] * 3
    compaction = np.rint(np.abs(rng.normal(15, 6, (n, 3))))
    heap_max = 8589934592
    heap = (heap_max * np.clip(0.45 + 0.1 * np.sin(i / 40) + noise(0.03), 0.1, 0.95)).astype(np.int64)
    heap2 = (heap * 0.6).astype(np.int64)
    fe_conn = rng.integers(3, 12, (n, 2))
    jiffy_total = 40_000_000_000 + i.astype(np.int64) * 48_000
    jiffy_busy = (jiffy_total[:, None] * (cpu / 100.0)).astype(np.int64)
    cpu[dead, 2] = np.nan
    mem_pct[dead, 2] = np.nan
    alive_cpu = np.nanmean(cpu, axis=1)
    mem_used = mem_pct / 100.0 * 64 * 2**30
    used_sum = disk_used.sum(axis=1)
    total_sum = int(disk_total.sum())
    txn_running = rng.integers(0, 6, n)
    load_running = rng.integers(0, 3, n)
    txn_success = 500_000 + np.cumsum(rng.integers(0, 20, n))
    load_finished = 90_000 + np.cumsum(rng.integers(0, 4, n))
    threads = rng.integers(420, 460, n)
    collect_ms = rng.integers(40, 400, n)
    # issue 18's columns, filled as a 3.3 cluster fills them: rates from counter deltas, the counters
    # they came from on each FE (leader-only ones 0 on the follower) and each BE's network counters
    txn_begun = rng.poisson(15, n)
    txn_failed = rng.binomial(txn_begun, 0.004)
    txn_begin = 600_000 + np.cumsum(txn_begun)
    txn_failed_total = 2_400 + np.cumsum(txn_failed)
    loads = rng.poisson(6, n)
    gc_ms = 4_000_000 + np.cumsum(rng.integers(10, 20, n))
    gc_ms2 = (gc_ms * 0.8).astype(np.int64)
    io_util = np.clip(cpu * 1.2 + rng.normal(0, 3, (n, 3)), 0, 100)
    rx_rate = np.rint(2e6 * (1 + day)[:, None] * [0.8, 1.0, 1.2] + rng.normal(0, 1e5, (n, 3))).astype(np.int64)
    tx_rate = np.rint(rx_rate * 0.85).astype(np.int64)
    rx_total = 90_000_000_000 + np.cumsum(rx_rate * STEP, axis=0)
    tx_total = 80_000_000_000 + np.cumsum(tx_rate * STEP, axis=0)
    lag = np.rint(12_000 * (1 + 0.5 * day) * (0.8 + 0.4 * rng.random(n))).astype(np.int64)

    def f(x) -> float | None:
        return None if x is None or (isinstance(x, float) and math.isnan(x)) else x

    snaps, nodes = [], []
    start_fe = "2026-11-16 06:19:04"
    for r in range(n):
        is_dead = bool(dead[r])
        t = float(ts[r])
        hb = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))
        snap = {
            "id": r + 1,
            "cluster_id": 1,
            "ts": t,
            "status": "partial" if is_dead else "ok",
            "error": f"BE {DEAD_BE}: heartbeat timed out" if is_dead else None,
            "collect_ms": int(collect_ms[r]),
            "source": "show_proc",
            "version": "3.3.5",
            "qps": float(qps[r]),
            "rps": float(rps[r]),
            "query_latency_p50": round(float(p50[r]), 2),
            "query_latency_p95": round(float(p95[r]), 2),
            "query_latency_p99": round(float(p99[r]), 2),
            "query_total": int(query_total[r]),
            "query_success": int(query_total[r] - query_error[r]),
            "query_error": int(query_error[r]),
            "query_timeout": int(query_timeout[r]),
            "query_error_rate": float(error_rate[r]),
            "query_timeout_rate": float(timeout_rate[r]),
            "connections": int(fe_conn[r].sum()),
            "frontend_total": 2,
            "frontend_alive": 2,
            "backend_total": 3,
            "backend_alive": 2 if is_dead else 3,
            "compute_total": 0,
            "compute_alive": 0,
            "total_cpu_usage": float(alive_cpu[r]),
            "avg_cpu_usage": float(alive_cpu[r]),
            "total_memory_usage": int(np.nansum(mem_used[r])),
            "avg_memory_usage": float(np.nanmean(mem_pct[r])),
            "disk_total_bytes": total_sum,
            "disk_used_bytes": int(used_sum[r]),
            "disk_usage_pct": 100.0 * float(used_sum[r]) / total_sum,
            "tablet_count": int(tablets[r].sum()),
            "max_compaction_score": float(compaction[r].max()),
            "txn_running": int(txn_running[r]),
            "txn_success_total": int(txn_success[r]),
            "txn_failed_total": 37,
            "load_running": int(load_running[r]),
            "load_finished_total": int(load_finished[r]),
            "fe_jvm_heap_used_bytes": int(heap[r]),
            "fe_jvm_heap_max_bytes": heap_max,
            "fe_thread_count": int(threads[r]),
            "running_queries": int(rng.integers(0, 12)),
            "txn_begin_per_second": float(txn_begun[r] / STEP),
            "txn_success_per_second": float((txn_begun[r] - txn_failed[r]) / STEP),
            "txn_failed_per_second": float(txn_failed[r] / STEP),
            "load_finished_per_second": float(loads[r] / STEP),
            "load_failed_per_second": float(txn_failed[r] / STEP),
            "routine_load_lag": int(lag[r]),
        }
        snaps.append(tuple(snap.get(c) for c in SNAP_COLS))
        base = r * NODES_PER_ROUND
        for j, host in enumerate(FES):
            share = 0.6 if j == 0 else 0.4
            node = {
                "id": base + j + 1,
                "snapshot_id": r + 1,
                "cluster_id": 1,
                "ts": t,
                "role": "FE",
                "host": host,
                "name": f"{host}_9010_17000000{j}0000",
                "alive": True,
                "is_leader": j == 0,
                "version": "3.3.5-6d81f75",
                "last_heartbeat": hb,
                "last_start_time": start_fe,
                "connections": int(fe_conn[r, j]),
                "qps": float(qps[r] * share),
                "query_latency_p99": round(float(p99[r]) * (1 - 0.05 * j), 2),
                "query_total": int(query_total[r] * share),
                "query_error": int(query_error[r] * share),
                "query_timeout": int(query_timeout[r] * share),
                "request_total": int(query_total[r] * share * 1.4),
                "jvm_heap_used_bytes": int(heap[r] if j == 0 else heap2[r]),
                "jvm_heap_max_bytes": heap_max,
                "txn_begin_total": int(txn_begin[r]) if j == 0 else 0,
                "txn_success_total": int(txn_begin[r] - txn_failed_total[r]) if j == 0 else 0,
                "txn_failed_total": int(txn_failed_total[r]) if j == 0 else 0,
                "txn_reject_total": 12 if j == 0 else 0,
                "load_finished_total": int(load_finished[r]) if j == 0 else 0,
                "jvm_gc_time_ms": int(gc_ms[r] if j == 0 else gc_ms2[r]),
                "jvm_gc_ms_per_second": round(float(gc_ms[r] - gc_ms[r - 1]) / STEP, 3) if r else None,
            }
            nodes.append(tuple(node.get(c) for c in NODE_COLS))
        for j, host in enumerate(BES):
            down = is_dead and host == DEAD_BE
            node = {
                "id": base + len(FES) + j + 1,
                "snapshot_id": r + 1,
                "cluster_id": 1,
                "ts": t,
                "role": "BE",
                "host": host,
                "name": str(10002 + j),
                "alive": not down,
                "version": "3.3.5-6d81f75",
                "last_heartbeat": hb,
                "last_start_time": "2026-11-17 06:19:04",
                "error": "heartbeat timed out" if down else None,
                "cpu_pct": f(float(cpu[r, j])),
                "mem_pct": f(float(mem_pct[r, j])),
                "mem_used_bytes": None if down else int(mem_used[r, j]),
                "disk_total_bytes": int(disk_total[j]),
                "disk_used_bytes": int(disk_used[r, j]),
                "max_disk_used_pct": round(100.0 * disk_used[r, j] / disk_total[j] + 1.3, 2),
                "tablet_count": int(tablets[r, j]),
                "compaction_score": float(compaction[r, j]),
                "running_queries": None if down else int(rng.integers(0, 8)),
                "cpu_busy_jiffies": None if down else int(jiffy_busy[r, j]),
                "cpu_total_jiffies": None if down else int(jiffy_total[r]),
                "disk_io_util_pct": None if down else float(round(io_util[r, j])),
                "net_receive_bytes_per_second": None if down else int(rx_rate[r, j]),
                "net_send_bytes_per_second": None if down else int(tx_rate[r, j]),
                "net_receive_bytes_total": None if down else int(rx_total[r, j]),
                "net_send_bytes_total": None if down else int(tx_total[r, j]),
            }
            nodes.append(tuple(node.get(c) for c in NODE_COLS))
    return snaps, nodes


def as_dicts(snaps: list[tuple], nodes: list[tuple]) -> list[tuple[dict, list[dict]]]:
    """The same rounds as `Store.write_round` takes them (no ids)."""
    out = []
    for r, row in enumerate(snaps):
        snap = {c: v for c, v in zip(SNAP_COLS, row) if c not in ("id", "cluster_id")}
        ns = [
            {c: v for c, v in zip(NODE_COLS, nrow) if c not in ("id", "snapshot_id", "cluster_id", "ts")}
            for nrow in nodes[r * NODES_PER_ROUND : (r + 1) * NODES_PER_ROUND]
        ]
        out.append((snap, ns))
    return out


def new_store(path: Path, clusters: int) -> dict[str, int]:
    """Create the schema (with Store's pragmas) and the cluster rows; return name -> id."""
    store = Store(f"sqlite:///{path}")
    store.sync_clusters(
        tuple(ClusterConfig(cluster_name(k), f"10.1.{k // 250}.{k % 250 + 1}") for k in range(clusters))
    )
    ids = store.cluster_ids()
    store.close()
    return ids


def cluster_name(k: int) -> str:
    return f"bench-{k + 1:03d}"


@contextmanager
def bulk(path: Path):
    """A raw sqlite3 connection for fast loading: no journal while loading, back to WAL afterwards."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-262144")  # 256 MiB for index maintenance
    try:
        yield con
    finally:
        if con.in_transaction:
            con.execute("ROLLBACK")
        con.execute("PRAGMA journal_mode=WAL")
        con.close()


def held_rounds(quick: bool) -> int:
    """The rounds a read benchmark's cluster holds: a week, or a day for --quick.

    --quick is the smoke run tests/test_bench.py makes: the same reads over a day's rows take a
    seventh of the time to generate, copy and read, and the code they go through is the same.
    """
    return DAY_ROUNDS if quick else WEEK_ROUNDS


def days(rounds: int) -> str:
    """`rounds` as the days they span, for a row's text: "7 days", "1 day"."""
    n = rounds * STEP / 86400
    return f"{n:g} day{'' if n == 1 else 's'}"


def build_one(path: Path, end_ts: float, rounds: int = WEEK_ROUNDS) -> tuple[int, float]:
    """The 1-cluster database, `rounds` rounds (a week) ending at `end_ts`. Returns (cluster id, seconds taken)."""
    t0 = time.perf_counter()
    ids = new_store(path, 1)
    snaps, nodes = make_rounds(rounds, end_ts)
    with bulk(path) as con:
        con.execute("BEGIN")
        for table, cols, rows in (("metrics_snapshots", SNAP_COLS, snaps), ("node_snapshots", NODE_COLS, nodes)):
            con.executemany(f"INSERT INTO {table} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", rows)
        con.execute("COMMIT")
    assert ids == {cluster_name(0): 1}
    return 1, time.perf_counter() - t0


def copy_clusters(path: Path, template: Path, clusters: int, tables: dict[str, tuple[str, dict[str, str]]]) -> dict:
    """A new database of `clusters` copies of the template's rows of `tables`; returns name -> id.

    `tables` maps a table to (ORDER BY of the copy, SQL of the columns not copied as they are), over
    `t` (the template's row) and `k` (k.k the copy's number, k.cid its cluster id, k.f its factor).
    """
    ids = new_store(path, clusters)
    with bulk(path) as con:
        con.execute("ATTACH DATABASE ? AS tmpl", (str(template),))
        con.execute("CREATE TEMP TABLE ks (k INTEGER PRIMARY KEY, cid INTEGER, f REAL)")
        con.executemany(
            "INSERT INTO ks VALUES (?, ?, ?)", [(k, ids[cluster_name(k)], 1 + 0.004 * k) for k in range(clusters)]
        )
        con.execute("BEGIN")
        for name, (order, special) in tables.items():
            table = schema.metadata.tables[name]
            cols = [c.name for c in table.c]
            scaled = floats(table)
            picked = ", ".join(special.get(c, f"t.{c} * k.f" if c in scaled else f"t.{c}") for c in cols)
            con.execute(
                f"INSERT INTO main.{name} ({','.join(cols)}) SELECT {picked} "
                f"FROM tmpl.{name} t CROSS JOIN ks k ORDER BY {order}"
            )
        con.execute("COMMIT")
        con.execute("DETACH DATABASE tmpl")
    return ids


def build_many(path: Path, template: Path, clusters: int) -> float:
    """`clusters` copies of the 1-cluster database's rounds, interleaved round by round. Returns seconds taken."""
    t0 = time.perf_counter()
    n = clusters
    copy_clusters(
        path,
        template,
        clusters,
        {
            "metrics_snapshots": ("t.id, k.k", {"id": f"(t.id - 1) * {n} + k.k + 1", "cluster_id": "k.cid"}),
            "node_snapshots": (
                "t.snapshot_id, k.k, t.id",
                {
                    "id": f"((t.snapshot_id - 1) * {n} + k.k) * {NODES_PER_ROUND} + (t.id - 1) % {NODES_PER_ROUND} + 1",
                    "snapshot_id": f"(t.snapshot_id - 1) * {n} + k.k + 1",
                    "cluster_id": "k.cid",
                },
            ),
        },
    )
    return time.perf_counter() - t0


def file_bytes(path: Path) -> int:
    """Size of the database once the WAL is checkpointed into it."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path.stat().st_size + sum(p.stat().st_size for p in (path.with_name(path.name + "-wal"),) if p.exists())
