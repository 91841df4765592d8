"""The demo: replayed history goes through the real parsers and matches the live model."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest
import sqlalchemy as sa

from starmon import clusters, demo, rollup, schema, size_history
from starmon.aggregate import build_round
from starmon.config import ClusterConfig, Config
from starmon.fetch import ClusterClient
from starmon.read import Reader, parse_range
from starmon.round import fetch_round, fetch_statistics
from starmon.store import Store


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'demo.db'}")
    yield s
    s.close()


def test_backfill_replays_history_through_the_real_parsers(store):
    emulator, cluster_id = demo.start(store)
    try:
        model = emulator.cluster(demo.DEMO_NAME)
        seen = []
        written = demo.backfill(store, model, cluster_id, days=1, progress=seen.append)
        assert written == len(demo.backfill_times(model.now(), None, 1)) >= 1400
        assert seen[-1] == 1.0
        reader = Reader(store)
        tr = parse_range("24h", model.now())
        df = reader.series(cluster_id, tr, ["qps", "disk_usage_pct", "backend_alive"])
        assert len(df) <= 1500 and df["backend_alive"].eq(3).all()
        # QPS from counter deltas follows the model's daily curve.
        latest = reader.latest(cluster_id)
        expected = model.workload.qps * model.workload.daily(latest["ts"])
        assert latest["qps"] == pytest.approx(expected, rel=0.05)
        # Disks fill over the day; statistics passes land hourly with table sizes.
        assert df["disk_usage_pct"].iloc[-1] > df["disk_usage_pct"].iloc[0]
        with store.reader.connect() as conn:
            passes = conn.execute(sa.select(sa.func.count()).select_from(schema.data_statistics)).scalar()
        assert 23 <= passes <= 25
        growth = size_history.table_growth(reader, cluster_id, tr)
        assert growth.set_index("table").loc["orders_fact", "growth_bytes"] > 0
        # A second backfill adds nothing that already exists.
        assert demo.backfill(store, model, cluster_id, days=1) == 0
    finally:
        emulator.stop()


def test_demo_only_when_nothing_is_configured(store):
    empty = Config(db_url=store.url)
    assert demo.wanted(empty, store, {})
    assert not demo.wanted(empty, store, {"STARMON_DEMO": "0"})
    assert not demo.wanted(Config(db_url=store.url, clusters=(ClusterConfig("prod", "h"),)), store, {})
    emulator, cluster_id = demo.start(store)
    emulator.stop()
    assert demo.wanted(empty, store, {})  # the demo itself does not count as configured
    demo.retire(store)
    assert demo.DEMO_NAME not in store.cluster_ids()


def test_replayed_statistics_are_what_a_live_pass_reads(store):
    """The demo's past statistics come from the same queries and code as a live pass over MySQL."""
    emulator, _ = demo.start(store)
    try:
        model = emulator.cluster(demo.DEMO_NAME)
        [(_, cluster)] = clusters.collectable(store, None, ())
        live, live_tables = asyncio.run(fetch_statistics(ClusterClient(cluster, None, 5.0)))
        replayed, tables = asyncio.run(fetch_statistics(demo.ReplaySource(model, model.now())))
    finally:
        emulator.stop()
    assert live["status"] == replayed["status"] == "ok"
    same = (
        "database_count",
        "table_count",
        "mv_total",
        "mv_active",
        "mv_inactive",
        "mv_failed",
        "schema_change_running",
        "schema_change_pending",
        "schema_changes",
        "materialized_views",
    )
    assert {k: replayed[k] for k in same} == {k: live[k] for k in same}
    assert replayed["table_count"] > 0 and replayed["mv_total"] > 0 and replayed["schema_changes"]
    assert [(t["db_name"], t["table_name"]) for t in tables] == [(t["db_name"], t["table_name"]) for t in live_tables]


def test_a_replayed_round_is_what_a_live_round_reads(store):
    """The demo's past rounds come through the same assembly as a live round (one ClusterSource)."""
    emulator, _ = demo.start(store)
    try:
        model = emulator.cluster(demo.DEMO_NAME)
        [(_, cluster)] = clusters.collectable(store, None, ())
        t = model.now()

        async def live():
            async with httpx.AsyncClient() as http:
                return await fetch_round(ClusterClient(cluster, http, 5.0), t, 15.0)

        live_raw, replayed = asyncio.run(live()), demo.replay_round(model, t)
    finally:
        emulator.stop()
    assert (replayed.source, replayed.version, replayed.reachable) == (live_raw.source, live_raw.version, True)
    # node lists carry times to the second, which may tick between the two answers
    same = ("IP", "Name", "Role", "Alive", "BackendId", "HttpPort", "Version", "TotalCapacity")
    for rows, live_rows in ((replayed.frontends, live_raw.frontends), (replayed.backends, live_raw.backends)):
        assert [{k: r.get(k) for k in same} for r in rows] == [{k: r.get(k) for k in same} for r in live_rows]
    assert replayed.fe_metrics.keys() == live_raw.fe_metrics.keys() and replayed.problems == live_raw.problems == []
    for host, metrics in replayed.fe_metrics.items():  # the live answer was rendered a moment later
        assert [s[:2] for s in metrics.samples] == [s[:2] for s in live_raw.fe_metrics[host].samples]


def test_backfill_fills_every_tier_even_behind_live_rounds(store):
    """The dashboard's collector stores and rolls up live rounds before the history is in; the
    hourly and daily tiers (30d, 90d and custom ranges) must still cover the replayed days."""
    emulator, cluster_id = demo.start(store)
    try:
        model = emulator.cluster(demo.DEMO_NAME)
        now = model.now()
        live, nodes = build_round(demo.replay_round(model, now), None)
        store.write_round(cluster_id, dataclasses.replace(live, collect_ms=1), nodes)
        rollup.maintain(store, [cluster_id], 30, 7, 90, now + 2 * 3600)  # the live rollups, ahead of the history
        demo.backfill(store, model, cluster_id, days=3)
        hours = store.read(
            lambda conn: conn.execute(
                sa.select(sa.func.min(schema.hourly_snapshots.c.ts), sa.func.count()).where(
                    schema.hourly_snapshots.c.cluster_id == cluster_id
                )
            ).one()
        )
        days = store.read(
            lambda conn: conn.execute(sa.select(sa.func.count()).select_from(schema.daily_snapshots)).scalar()
        )
        df = Reader(store).series(cluster_id, parse_range("30d", now), ["qps"])
    finally:
        emulator.stop()
    assert hours[0] <= now - 3 * 86400 + 3600 and hours[1] >= 3 * 24 - 2  # every replayed hour
    assert days >= 2  # the complete UTC days among them
    assert len(df) > 0 and df["time"].min().timestamp() <= now - 2.5 * 86400
