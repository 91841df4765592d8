"""Read-path benchmarks: the Overview over 7 days, 1 vs 100 clusters, the page through AppTest, bytes per round.

`run(quick=False)` returns one row per measurement, `{"what", "compared_with", "target", "figures", "met"}`;
`python bench/bench_read.py [--quick]` prints them as a table. Nothing is asserted.

Inputs are deterministic: every database is generated from a fixed seed (numpy default_rng) into a
temporary directory that is removed afterwards. Timings are the best of a few repetitions
(time.perf_counter) with a warm OS page cache; the first (cold Store) run is shown beside them.

How the data is generated
  * One cluster, 7 days, one round every 30 s: 20,160 `metrics_snapshots` rows and 5 `node_snapshots`
    rows per round (2 FEs and 3 BEs, filled like the collector fills them: FE-only columns are NULL on
    BEs and the other way round; BE 3 is dead for the last 20 rounds). Written with sqlite3 executemany
    in one transaction into a file whose schema (and pragmas) `Store` created.
  * N clusters (100, or 10 with quick=True): the 1-cluster database is attached and copied N times with
    one INSERT ... SELECT per table, in time order with the clusters interleaved round by round (the row
    order a live collector produces), every float scaled by a per-cluster factor.
  * Bytes per cluster-round: rounds written through `Store.write_round` (the collector's path), one
    transaction per cluster per round, WAL checkpointed before each file-size reading.
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from starmon import health, schema  # noqa: E402
from starmon.config import ClusterConfig  # noqa: E402
from starmon.read import MAX_POINTS, Reader, health_at, parse_range  # noqa: E402
from starmon.read import forecast as read_forecast  # noqa: E402
from starmon.store import Store  # noqa: E402

SEED = 20240607
STEP = 30  # seconds between rounds
WEEK_ROUNDS = 7 * 86400 // STEP  # 20,160
FES = ("10.0.0.1", "10.0.0.2")
BES = ("10.0.0.3", "10.0.0.4", "10.0.0.5")
NODES_PER_ROUND = len(FES) + len(BES)
DEAD_BE, DEAD_ROUNDS = "10.0.0.5", 20
SERIES = ["qps", "query_latency_p99", "avg_cpu_usage", "disk_usage_pct"]
MAIN = str(ROOT / "starmon" / "ui" / "main.py")

SNAP_COLS = [c.name for c in schema.metrics_snapshots.c]
NODE_COLS = [c.name for c in schema.node_snapshots.c]
SNAP_FLOATS = {c.name for c in schema.metrics_snapshots.c if isinstance(c.type, schema.Float)} - {"ts"}
NODE_FLOATS = {c.name for c in schema.node_snapshots.c if isinstance(c.type, schema.Float)} - {"ts"}


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


def _new_store(path: Path, clusters: int) -> dict[str, int]:
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
def _bulk(path: Path):
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


def build_one(path: Path, end_ts: float) -> tuple[int, float]:
    """The 1-cluster, 7-day database. Returns (cluster id, seconds taken)."""
    t0 = time.perf_counter()
    ids = _new_store(path, 1)
    snaps, nodes = make_rounds(WEEK_ROUNDS, end_ts)
    with _bulk(path) as con:
        con.execute("BEGIN")
        con.executemany(
            f"INSERT INTO metrics_snapshots ({','.join(SNAP_COLS)}) VALUES ({','.join('?' * len(SNAP_COLS))})", snaps
        )
        con.executemany(
            f"INSERT INTO node_snapshots ({','.join(NODE_COLS)}) VALUES ({','.join('?' * len(NODE_COLS))})", nodes
        )
        con.execute("COMMIT")
    assert ids == {cluster_name(0): 1}
    return 1, time.perf_counter() - t0


def build_many(path: Path, template: Path, clusters: int) -> float:
    """`clusters` copies of the 1-cluster database, interleaved round by round. Returns seconds taken."""
    t0 = time.perf_counter()
    ids = _new_store(path, clusters)
    with _bulk(path) as con:
        con.execute("ATTACH DATABASE ? AS tmpl", (str(template),))
        con.execute("CREATE TEMP TABLE ks (k INTEGER PRIMARY KEY, cid INTEGER, f REAL)")
        con.executemany(
            "INSERT INTO ks VALUES (?, ?, ?)", [(k, ids[cluster_name(k)], 1 + 0.004 * k) for k in range(clusters)]
        )

        def select(cols: list[str], floats: set[str], special: dict[str, str]) -> str:
            return ", ".join(special.get(c, f"t.{c} * k.f" if c in floats else f"t.{c}") for c in cols)

        n = clusters
        con.execute("BEGIN")
        con.execute(
            f"INSERT INTO main.metrics_snapshots ({','.join(SNAP_COLS)}) SELECT "
            + select(SNAP_COLS, SNAP_FLOATS, {"id": f"(t.id - 1) * {n} + k.k + 1", "cluster_id": "k.cid"})
            + " FROM tmpl.metrics_snapshots t CROSS JOIN ks k ORDER BY t.id, k.k"
        )
        con.execute(
            f"INSERT INTO main.node_snapshots ({','.join(NODE_COLS)}) SELECT "
            + select(
                NODE_COLS,
                NODE_FLOATS,
                {
                    "id": f"((t.snapshot_id - 1) * {n} + k.k) * {NODES_PER_ROUND} + (t.id - 1) % {NODES_PER_ROUND} + 1",
                    "snapshot_id": f"(t.snapshot_id - 1) * {n} + k.k + 1",
                    "cluster_id": "k.cid",
                },
            )
            + " FROM tmpl.node_snapshots t CROSS JOIN ks k ORDER BY t.snapshot_id, k.k, t.id"
        )
        con.execute("COMMIT")
        con.execute("DETACH DATABASE tmpl")
    return time.perf_counter() - t0


def file_bytes(path: Path) -> int:
    """Size of the database once the WAL is checkpointed into it."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path.stat().st_size + sum(p.stat().st_size for p in (path.with_name(path.name + "-wal"),) if p.exists())


# -- timing helpers ----------------------------------------------------------------------------------------


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """(first run, best run) in seconds, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times[0], min(times), result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


# -- the two read paths ----------------------------------------------------------------------------------


def figure_json(df: pd.DataFrame) -> str:
    """The chart as st.plotly_chart pays for it: 4 traces, serialised."""
    from starmon.ui import charts

    fig = charts.lines(df, {c: c for c in SERIES}, "Overview, 7 days", "UTC")
    return fig.to_json()


def overview_read(reader: Reader, cluster_id: int, now: float, chart: bool = False) -> dict:
    """What the Overview reads: newest and first snapshots, dead nodes, aggregates, cards, problems and the
    4 bucketed series; with `chart`, also the figure built from them and serialised."""
    tr = parse_range("7d", now)
    state = health_at(reader, cluster_id, tr)
    agg = reader.aggregates(cluster_id, tr)
    df = reader.series(cluster_id, tr, SERIES)
    return {
        "cards": state.cards,
        "problems": state.problems(),
        "aggregates": agg,
        "points": len(df),
        "dead": state.dead_nodes,
        "json": len(figure_json(df)) if chart else None,
    }


def naive_read(store: Store, cluster_id: int, now: float) -> dict:
    """Every raw row of the 7 days into pandas, cards from its ends, a figure of every point."""
    tr = parse_range("7d", now)
    with store.reader.connect() as conn:
        df = pd.read_sql(
            sa_text("SELECT * FROM metrics_snapshots WHERE cluster_id = :c AND ts >= :a AND ts <= :b ORDER BY ts"),
            conn,
            params={"c": cluster_id, "a": tr.start, "b": tr.end},
        )
    values = health.cards(df.iloc[-1].to_dict(), df.iloc[0].to_dict())
    df["time"] = pd.to_datetime(df["ts"], unit="s", utc=True)
    return {"cards": values, "points": len(df), "json": len(figure_json(df))}


def sa_text(sql: str):
    import sqlalchemy as sa

    return sa.text(sql)


# -- 1 and 2: read path --------------------------------------------------------------------------------------


def bench_read_path(work: Path, quick: bool, rows: list[dict]) -> dict:
    repeat = 3 if quick else 5
    now = float(int(time.time()) // STEP * STEP)
    one = work / "one.db"
    cid, gen_one = build_one(one, now - 5)
    store = Store(f"sqlite:///{one}")
    reader = Reader(store)
    first_fast, fast, result = best_of(lambda: overview_read(reader, cid, now), repeat)
    _, charted, with_chart = best_of(lambda: overview_read(reader, cid, now, chart=True), repeat)
    first_naive, naive, naive_result = best_of(lambda: naive_read(store, cid, now), repeat)
    _, fc_one, _ = best_of(lambda: read_forecast(reader, cid, 7, now), repeat)
    store.close()
    ratio = naive / fast
    rows.append(
        {
            "what": "Overview read path, 7d, 1 cluster (20,160 snapshots, 100,800 node rows): Reader.latest, first_in, "
            "dead_nodes, aggregates, health.cards/problems and Reader.series of 4 columns",
            "compared_with": "naive: pd.read_sql of all columns for 7 days + go.Figure of 4 traces of every point "
            "+ to_json()",
            "target": "≥ 10× faster; ≤ 1,500 points per series",
            "figures": f"{ms(fast)} vs naive {ms(naive)} = {ratio:.1f}× (first runs {ms(first_fast)} vs "
            f"{ms(first_naive)}); with the same figure built from the buckets and serialised: "
            f"{ms(charted)} = {naive / charted:.1f}×; {result['points']} points per series vs "
            f"{naive_result['points']:,}; figure JSON {with_chart['json'] / 1024:,.0f} KiB vs "
            f"{naive_result['json'] / 1024:,.0f} KiB; DB generated in {gen_one:.1f} s, {mib(file_bytes(one))}",
            "met": ratio >= 10 and result["points"] <= MAX_POINTS,
        }
    )

    clusters = 10 if quick else 100
    many = work / "many.db"
    gen_many = build_many(many, one, clusters)
    size_many = file_bytes(many)
    store = Store(f"sqlite:///{many}")
    reader = Reader(store)
    ids = store.cluster_ids()
    picks = sorted({ids[cluster_name(0)], ids[cluster_name(clusters // 2)], ids[cluster_name(clusters - 1)]})
    per_cluster, firsts, fcs = [], [], []
    for pick in picks:
        first, best, res = best_of(lambda pick=pick: overview_read(reader, pick, now), repeat)
        assert res["points"] == result["points"]
        per_cluster.append(best)
        firsts.append(first)
        fcs.append(best_of(lambda pick=pick: read_forecast(reader, pick, 7, now), repeat)[1])
    store.close()
    worst = max(per_cluster)
    with sqlite3.connect(many) as con:
        n_snap = con.execute("SELECT count(*) FROM metrics_snapshots").fetchone()[0]
        n_node = con.execute("SELECT count(*) FROM node_snapshots").fetchone()[0]
    rows.append(
        {
            "what": f"Same read path, {clusters} clusters × 7 days in one DB ({n_snap:,} snapshots, {n_node:,} node "
            f"rows, rounds interleaved as a collector writes them)",
            "compared_with": "the 1-cluster figure above",
            "target": "within 2×",
            "figures": f"{' / '.join(ms(t) for t in per_cluster)} (clusters {', '.join(map(str, picks))}; first runs "
            f"{' / '.join(ms(t) for t in firsts)}) vs {ms(fast)} = {worst / fast:.2f}× worst; "
            f"generated in {gen_many:.1f} s, {mib(size_many)} "
            f"({size_many / (n_snap or 1):,.0f} B per cluster-round)",
            "met": worst <= 2 * fast,
        }
    )
    rows.append(
        {
            "what": "Disk-full forecast (read.forecast, 7 days of 10-minute buckets, cluster and per BE), which the "
            "Overview recomputes whenever a new round lands",
            "compared_with": f"1 cluster vs {clusters} clusters in one DB",
            "target": "(informational)",
            "figures": f"{ms(fc_one)} vs {' / '.join(ms(t) for t in fcs)} = {max(fcs) / fc_one:.2f}× worst",
            "met": None,
        }
    )
    return {"one": one, "many": many, "clusters": clusters, "size_many": size_many, "n_snap": n_snap, "now": now}


# -- 3: the page through AppTest --------------------------------------------------------------------------------


def bench_page(work: Path, one: Path, quick: bool, rows: list[dict]) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    repeat = 3 if quick else 5
    config = work / "starmon.toml"
    config.write_text("interval_seconds = 30\n")
    saved = {
        k: os.environ.get(k) for k in ("STARMON_DB_URL", "STARMON_CONFIG", "STARMON_DEMO", "STARMON_EMBEDDED_COLLECTOR")
    }
    os.environ.update(
        STARMON_DB_URL=f"sqlite:///{one}", STARMON_CONFIG=str(config), STARMON_DEMO="0", STARMON_EMBEDDED_COLLECTOR="0"
    )
    logging.disable(logging.WARNING)  # AppTest outside a server warns about the missing runtime on every run
    st.cache_data.clear()
    st.cache_resource.clear()

    def page(label: str, cold: bool) -> Callable[[], object]:
        def go():
            if cold:
                st.cache_data.clear()
            at = AppTest.from_file(MAIN, default_timeout=120)
            at.query_params["range"] = label
            at.run()
            if at.exception:
                raise RuntimeError(f"Overview failed: {at.exception}")
            return len(at.metric)

        return go

    try:
        out = {}
        for label in ("7d", "1h"):
            page(label, False)()  # warm up
            _, warm, cards = best_of(page(label, False), repeat)
            _, cold, _ = best_of(page(label, True), repeat)
            out[label] = (warm, cold, cards)
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()
        logging.disable(logging.NOTSET)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    (w7, c7, cards), (w1, c1, _) = out["7d"], out["1h"]
    rows.append(
        {
            "what": f"Overview page through AppTest (frame + page, {cards} cards), 7d range, 1 cluster with 7 days, "
            "cached loaders warm",
            "compared_with": "the same page with the 1h range",
            "target": "within 2×",
            "figures": f"{ms(w7)} vs {ms(w1)} = {w7 / w1:.2f}× (best of {repeat} after one warm-up)",
            "met": w7 <= 2 * w1,
        }
    )
    rows.append(
        {
            "what": "Same, st.cache_data cleared before every run (what the first view after a new round pays)",
            "compared_with": "the same page with the 1h range, cache cleared",
            "target": "within 2×",
            "figures": f"{ms(c7)} vs {ms(c1)} = {c7 / c1:.2f}× (best of {repeat})",
            "met": c7 <= 2 * c1,
        }
    )


# -- 4: bytes on disk per cluster-round ------------------------------------------------------------------------


def bench_bytes(work: Path, quick: bool, read_info: dict, rows: list[dict]) -> None:
    clusters = 10
    warmup, measured = (60, 240) if quick else (120, 1440)
    path = work / "bytes.db"
    ids = _new_store(path, clusters)
    now = float(int(time.time()) // STEP * STEP)
    snaps, nodes = make_rounds(warmup + measured, now)
    rounds = as_dicts(snaps, nodes)
    store = Store(f"sqlite:///{path}")
    order = [ids[cluster_name(k)] for k in range(clusters)]

    def write(block) -> float:
        t0 = time.perf_counter()
        for snap, ns in block:
            for cid in order:
                store.write_round(cid, snap, ns)
        return time.perf_counter() - t0

    write(rounds[:warmup])
    before = file_bytes(path)
    took = write(rounds[warmup:])
    after = file_bytes(path)
    store.close()
    per_round = (after - before) / (measured * clusters)

    if read_info["clusters"] == 10:
        week, week_rounds = read_info["size_many"], read_info["n_snap"]
    else:
        week_db = work / "week10.db"
        build_many(week_db, read_info["one"], 10)
        week, week_rounds = file_bytes(week_db), WEEK_ROUNDS * 10
        week_db.unlink()
    per_week_round = week / week_rounds
    big = read_info["size_many"] / read_info["n_snap"]
    rows.append(
        {
            "what": f"Bytes on disk per cluster-round (1 snapshot + {NODES_PER_ROUND} node rows, with their indexes)",
            "compared_with": f"file growth over {measured} rounds × {clusters} clusters written by Store.write_round "
            f"(after {warmup} warm-up rounds), WAL checkpointed; and whole 7d × 10-cluster DB",
            "target": "≤ 2 KB (2,048 B) per cluster-round",
            "figures": f"{per_round:,.0f} B per cluster-round by growth ({ms(took / (measured * clusters))} per "
            f"write_round); 7 days × 10 clusters = {mib(week)} = {per_week_round:,.0f} B per cluster-round"
            + (f" ({read_info['clusters']} clusters: {big:,.0f} B)" if read_info["clusters"] != 10 else ""),
            "met": max(per_round, per_week_round) <= 2048,
        }
    )


# -- entry points ----------------------------------------------------------------------------------------------


def run(quick: bool = False) -> list[dict]:
    rows: list[dict] = []
    work = Path(tempfile.mkdtemp(prefix="starmon-bench-read-"))
    try:
        info = bench_read_path(work, quick, rows)
        bench_page(work, info["one"], quick, rows)
        info["many"].unlink()
        bench_bytes(work, quick, info, rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def print_table(rows: list[dict]) -> None:
    mark = {True: "MET", False: "MISSED", None: "-"}
    for i, r in enumerate(rows, 1):
        print(
            f"{i}. {r['what']}\n   vs {r['compared_with']}\n   target: {r['target']}  [{mark[r['met']]}]\n"
            f"   {r['figures']}\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs (10 clusters), under a minute")
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows = run(quick=args.quick)
    print_table(rows)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
