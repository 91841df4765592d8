"""Retention on PostgreSQL: what a pass costs when nothing is old enough to delete.

Collectors run retention every 10 minutes, so its steady state is a pass that finds
nothing. The benchmark fills a database with two days of 30 s rounds for 200 clusters
(5 node rows each), then compares the old-row search retention makes (the (cluster_id, ts)
index, every cluster named) with the same search by time alone, which PostgreSQL answers
by scanning the table. It needs a PostgreSQL database it may empty:
STARMON_BENCH_PG_URL=postgresql+psycopg://user:password@host/db; without one it is skipped.
"""

from __future__ import annotations

import os
import time

import sqlalchemy as sa

from starmon import rollup, schema
from starmon.config import ClusterConfig
from starmon.store import Store

CLUSTERS = 200
DAYS = 2
STEP = 30
NODES = 5


def _fill(store: Store, now: float, clusters: int, days: float) -> int:
    """Rounds and node rows generated inside the server (quicker than sending them)."""
    store.sync_clusters(tuple(ClusterConfig(f"c{i:03d}", f"10.0.{i // 250}.{i % 250}") for i in range(clusters)))
    with store.writer.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO metrics_snapshots (cluster_id, ts, status, collect_ms) "
                "SELECT c.id, :now - g * :step, 'ok', 5 FROM clusters c, generate_series(0, :n) g"
            ),
            {"now": now, "step": STEP, "n": int(days * 86400 / STEP) - 1},
        )
        conn.execute(
            sa.text(
                "INSERT INTO node_snapshots (snapshot_id, cluster_id, ts, role, host) "
                "SELECT s.id, s.cluster_id, s.ts, 'BE', '10.1.1.' || k "
                "FROM metrics_snapshots s, generate_series(1, :k) k"
            ),
            {"k": NODES},
        )
        conn.execute(sa.text("ANALYZE"))
        return conn.execute(sa.select(sa.func.count()).select_from(schema.node_snapshots)).scalar()


def _best_ms(store: Store, query, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        with store.reader.connect() as conn:
            conn.execute(query).all()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def run(quick: bool = False) -> list[dict]:
    url = os.environ.get("STARMON_BENCH_PG_URL")
    clusters, days = (20, 1) if quick else (CLUSTERS, DAYS)
    what = (
        f"Retention pass with nothing to delete, PostgreSQL, {clusters} clusters × {days} days of rounds "
        f"({NODES} node rows each)"
    )
    if not url:
        return [
            {
                "what": what,
                "compared_with": "the same search by time alone",
                "target": "–",
                "figures": "skipped: set STARMON_BENCH_PG_URL to a database it may empty",
                "met": None,
            }
        ]
    engine = sa.create_engine(url)
    found = sa.MetaData()  # every table there, also ones another version of starmon left
    found.reflect(engine)
    found.drop_all(engine)
    engine.dispose()
    store = Store(url)
    try:
        now = float(int(time.time()))
        rows = _fill(store, now, clusters, days)
        n, cut = schema.node_snapshots, now - 7 * 86400
        ids = list(store.cluster_ids().values())
        by_index = _best_ms(store, sa.select(n.c.id).where(n.c.cluster_id.in_(ids), n.c.ts < cut).limit(5000))
        by_time = _best_ms(store, sa.select(n.c.id).where(n.c.ts < cut).limit(5000))
        started = time.perf_counter()
        deleted = rollup.apply_retention(store, raw_days=7, rollup_days=90, now=now)
        whole = (time.perf_counter() - started) * 1000
        assert not any(deleted.values()), deleted
    finally:
        store.close()
    return [
        {
            "what": what,
            "compared_with": "the same search by time alone (`ts < cut`, no cluster named)",
            "target": "state it",
            "figures": f"node_snapshots ({rows:,} rows): {by_index:.1f} ms through the index vs {by_time:.1f} ms "
            f"by time alone = {by_time / by_index:.0f}×; whole pass over 7 tables {whole:.0f} ms",
            "met": None,
        }
    ]
