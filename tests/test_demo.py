"""The demo: replayed history goes through the real parsers and matches the live model."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import httpx
import pytest
import sqlalchemy as sa

from starmon import clusters, demo, rollup, schema, size_history
from starmon.aggregate import build_round
from starmon.config import ClusterConfig, Config
from starmon.emulator.load import is_weekend
from starmon.fetch import ClusterClient
from starmon.read import Reader, parse_range
from starmon.read import forecast as read_forecast
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
        assert len(df) <= 1500 and set(df["backend_alive"]) == {2, 3}
        assert 19 <= df["backend_alive"].eq(2).sum() <= 21, "one BE down for 20 minutes of the last day"
        # QPS from counter deltas is the model's load curve over the last minute.
        latest = reader.latest(cluster_id)
        expected = model.workload.qps * model.workload.daily_integral(latest["ts"] - 60, latest["ts"]) / 60
        assert latest["qps"] == pytest.approx(expected, rel=0.01)
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


# ---------------------------------------------------------------------------- the demo week's calendar


@pytest.fixture(scope="module")
def week(demo_week):
    """The demo's week replayed into a store once: (store, live model, cluster id, now)."""
    return demo_week[:4]


def _events(store: Store) -> list[tuple[float, str, str, dict]]:
    e = schema.events
    rows = store.read(lambda conn: conn.execute(sa.select(e).order_by(e.c.ts, e.c.id)).all())
    return [(r.ts, r.kind, r.subject, json.loads(r.details)) for r in rows]


def _snapshots(store: Store, *columns: str) -> list:
    s = schema.metrics_snapshots
    query = sa.select(s.c.ts, *(s.c[c] for c in columns)).order_by(s.c.ts)
    return store.read(lambda conn: conn.execute(query).all())


def _incident(key: str) -> tuple[float, float]:
    """(days ago it started, days ago it ended) of the demo's scripted incident switching `key`."""
    days_ago, _, lasts = next(i for i in demo.INCIDENTS if key in i[1])
    return days_ago, days_ago - lasts


def test_the_demo_week_holds_every_change_and_incident_once_at_its_time(week):
    store, model, _, now = week
    got = _events(store)
    be1, be_added = f"BE {model.backends[1].host}", f"BE {demo._ADDED_HOST}"
    fe0, fe1 = f"FE {model.frontends[0].host}", f"FE {model.frontends[1].host}"
    upgraded = [("version_changed", f"BE {b.host}") for b in model.backends]
    upgraded += [("version_changed", f"FE {f.host}") for f in model.frontends] + [("cluster_upgraded", "")]
    assert [(kind, subject) for _, kind, subject, _ in got] == [
        *upgraded,
        ("node_restarted", be1),
        ("schema_change_started", "sales.customers"),
        ("schema_change_finished", "sales.customers"),
        ("leader_changed", fe1),
        ("leader_changed", fe0),
        ("node_added", be_added),
        ("mv_refresh_failed", "sales.mv_daily_revenue"),
        ("mv_recovered", "sales.mv_daily_revenue"),
        ("node_decommissioned", be_added),
        ("node_removed", be_added),
        ("node_restarted", fe1),
        ("node_down", be1),
        ("node_up", be1),
    ]
    at = {(kind, subject): ts for ts, kind, subject, _ in got}

    def seen_after(days_ago: float, key: tuple[str, str], within: float) -> None:
        """The event is stored at the first round (or statistics pass) after the scripted moment."""
        scripted = now - days_ago * 86400
        assert scripted <= at[key] <= scripted + within, (key, (at[key] - scripted) / 60)

    rounds, passes = demo.REPLAY_INTERVAL_SECONDS, 3600  # older days are replayed every 5 min; stats hourly
    seen_after(6.2 - 0.01 * (len(upgraded) - 2), ("cluster_upgraded", ""), rounds)
    seen_after(5.3, ("node_restarted", be1), rounds)
    seen_after(0.8, ("node_restarted", fe1), 60)
    seen_after(_incident("schema_change")[0], ("schema_change_started", "sales.customers"), passes)
    seen_after(_incident("schema_change")[1], ("schema_change_finished", "sales.customers"), passes)
    seen_after(_incident("mv_refresh_failing")[0], ("mv_refresh_failed", "sales.mv_daily_revenue"), passes)
    seen_after(_incident("mv_refresh_failing")[1], ("mv_recovered", "sales.mv_daily_revenue"), passes)
    # the BE down for 20 minutes falls in the last day, replayed every minute
    down, up = _incident("be_down")
    assert down < 1 and (down - up) * 1440 == pytest.approx(20)
    seen_after(down, ("node_down", be1), 60)
    seen_after(up, ("node_up", be1), 60)
    [details] = [d for _, kind, _, d in got if kind == "node_up"]
    assert details["down_seconds"] == pytest.approx(20 * 60, abs=60)
    # the live model was left as it was: no node moved, no incident switched on
    assert model.leader is model.frontends[0] and len(model.backends) == 3 and model.episodes == []
    assert all(n.version is None and n.started_at < now - 8 * 86400 for n in model.backends)


def test_the_last_day_shows_a_p99_spike_with_timeouts(week):
    store, model, _, now = week
    start, end = (now - d * 86400 for d in _incident("latency_spike"))
    assert now - start < 86400, "in the Events page's and charts' default range"
    rows = [r for r in _snapshots(store, "query_latency_p99", "query_timeout_rate") if r.ts > now - 86400]
    inside = [r for r in rows if start + 60 <= r.ts <= end]
    outside = [r for r in rows if not start <= r.ts <= end + 60]
    assert len(inside) >= 13
    typical = sorted(r.query_latency_p99 for r in outside)[len(outside) // 2]
    assert min(r.query_latency_p99 for r in inside) > 4 * typical
    assert min(r.query_timeout_rate for r in inside) > 2.5  # % of queries, SPIKE_TIMEOUT_SHARE
    assert max(r.query_timeout_rate for r in outside) < 0.5


def test_the_week_has_failed_loads_and_a_disk_spurt_the_forecast_survives(week):
    store, model, cluster_id, now = week
    start, end = (now - d * 86400 for d in _incident("fail_loads"))
    failed = {r.ts: r.txn_failed_total for r in _snapshots(store, "txn_failed_total")}

    def grew(t0: float, t1: float) -> int:
        inside = [v for ts, v in failed.items() if t0 <= ts <= t1]
        return inside[-1] - inside[0]

    assert grew(start, end) > 50 * grew(start - (end - start), start)
    # the spurt: BE 2's data grew five times faster for three hours; its forecast is still the normal rate's
    spurt = next(changes["disk_spurt"] for _, changes, _ in demo.INCIDENTS if "disk_spurt" in changes)
    be = model.backends[spurt["index"]]
    capacity = read_forecast(Reader(store), cluster_id, 7, now)
    [fit] = [f for f in capacity.fits if f.subject == f"BE {be.host}"]
    assert fit.status == "ok"
    assert fit.slope_bytes_per_day == pytest.approx(model.be_disk_rate(be), rel=0.05)
    # and the replay ends where the live cluster is: the spurt's bytes are in the past, not added twice
    n = schema.node_snapshots
    last = store.read(
        lambda conn: conn.execute(
            sa.select(n.c.ts, n.c.disk_used_bytes).where(n.c.host == be.host).order_by(n.c.ts.desc()).limit(1)
        ).one()
    )
    disk = model.be_disk(be, last.ts)
    assert last.disk_used_bytes == pytest.approx(disk["total"] - disk["avail"], abs=0.001 * 1024**4)


def test_weekday_and_weekend_load_differ_as_the_model_says(week):
    store, model, _, _ = week
    rows = [r for r in _snapshots(store, "qps") if r.qps is not None]
    w = model.workload
    measured: dict[bool, list[float]] = {True: [], False: []}
    expected: dict[bool, list[float]] = {True: [], False: []}
    for before, row in zip(rows, rows[1:]):
        weekend = is_weekend(row.ts)
        measured[weekend].append(row.qps)
        expected[weekend].append(w.qps * w.daily_integral(before.ts, row.ts) / (row.ts - before.ts))
    mean = {k: sum(v) / len(v) for k, v in measured.items()}
    assert len(measured[True]) > 500 and len(measured[False]) > 500  # the replayed week holds a weekend
    for weekend in (True, False):
        assert mean[weekend] == pytest.approx(sum(expected[weekend]) / len(expected[weekend]), rel=0.01)
    assert mean[True] < 0.6 * mean[False]
