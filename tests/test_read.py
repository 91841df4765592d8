"""The read side: ranges, bucketing to at most 1,500 points, and the overview CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from starmon import coverage, rollup, schema, size_history
from starmon.config import ClusterConfig
from starmon.health import format_delta
from starmon.read import MAX_POINTS, Reader, TimeRange, parse_range
from starmon.store import Store

from .fixtures import ENGINES, ROOT, fresh_url

NOW = float(int(time.time()) // 3600 * 3600)


@pytest.fixture(scope="module", params=ENGINES)
def week_of_rounds(request, tmp_path_factory):
    """A week of rounds every 30 s for one cluster: qps = minute of the hour, p99 spikes hourly."""
    url = fresh_url(request.param, tmp_path_factory.mktemp("read"))
    store = Store(url)
    store.sync_clusters((ClusterConfig("prod", "10.0.0.1"),))
    cid = store.cluster_ids()["prod"]
    rounds = []
    for i in range(7 * 2880):
        ts = NOW - 7 * 86400 + i * 30
        rounds.append(
            (
                {
                    "ts": ts,
                    "status": "down" if i % 100 == 0 else "ok",
                    "collect_ms": 5,
                    "qps": float((ts // 60) % 60),
                    "query_latency_p99": 5000.0 if ts % 3600 == 0 else 100.0,
                    "disk_usage_pct": 50 + i / 20160,
                    "query_error_rate": 1.0,
                },
                [],
            )
        )
    store.write_rounds(cid, rounds)
    yield store, cid, url
    store.close()


@pytest.mark.parametrize("label", ["1h", "6h", "24h", "3d", "7d"])
def test_every_range_is_bucketed_to_at_most_1500_points(week_of_rounds, label):
    store, cid, _ = week_of_rounds
    tr = parse_range(label, NOW)
    df = Reader(store).series(cid, tr, ["qps", "query_latency_p99"])
    assert 0 < len(df) <= MAX_POINTS
    assert str(df["time"].dt.tz) == "UTC"
    # p99 keeps its spikes (max per bucket), qps is averaged.
    assert df["query_latency_p99"].max() == 5000.0
    if label == "7d":  # ~400 s buckets average ~13 rounds; the first and last may hold only a few
        assert df["qps"].iloc[1:-1].max() < 59


def test_parse_range_errors():
    assert (
        parse_range("custom", NOW, "2026-11-01", "2026-11-02").end
        - parse_range("custom", NOW, "2026-11-01", "2026-11-02").start
        == 86400
    )
    for args, message in [
        (("2y",), "unknown range"),
        (("custom", "2026-11-02", "2026-11-01"), "after its start"),
        (("custom", "yesterday", "2026-11-01"), "not a date"),
        (("custom",), "needs both"),
        (("custom", "2026-01-01", "2026-11-01"), "at most 90 days"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_range(args[0], NOW, *args[1:])


def test_aggregates(week_of_rounds):
    store, cid, _ = week_of_rounds
    agg = Reader(store).aggregates(cid, parse_range("24h", NOW))
    assert agg["max_qps"] == 59 and agg["avg_qps"] == pytest.approx(29.5, abs=0.5)
    assert agg["p99_latency_ms"] == 5000.0 and agg["error_rate"] == 1.0
    assert agg["availability_pct"] == pytest.approx(99.0, abs=0.05)


def _cli(url, *args):
    env = {**os.environ, "STARMON_DB_URL": url, "STARMON_CONFIG": os.devnull}
    return subprocess.run(
        [sys.executable, "-m", "starmon", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_overview_json_cli(week_of_rounds):
    store, cid, url = week_of_rounds
    store.write_round(
        cid,
        {
            "ts": NOW + 1,
            "status": "ok",
            "collect_ms": 7,
            "qps": 42.0,
            "disk_usage_pct": 93.0,
            "backend_total": 3,
            "backend_alive": 3,
        },
        [],
    )
    result = _cli(url, "overview", "--cluster", "prod", "--range", "24h", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"cluster", "collected_at", "status", "health_cards", "aggregates", "forecast"} <= set(data)
    cards = {c["key"]: c for c in data["health_cards"]}
    assert cards["qps"]["value"] == 42.0 and cards["disk_usage_pct"]["status"] == "critical"
    assert (cards["be_dead"]["value"], cards["be_dead"]["total"], cards["be_dead"]["display"]) == (3, 3, "3/3")
    assert (cards["cluster_status"]["value"], cards["cluster_status"]["display"]) == (0, "ok")
    assert cards["query_error_rate"]["value"] is None
    for card in data["health_cards"]:  # numbers (or null) on every card; words only in `display`
        assert card["value"] is None or type(card["value"]) in (int, float), card
    assert set(data["aggregates"]) == {"avg_qps", "max_qps", "p99_latency_ms", "error_rate", "availability_pct"}
    assert data["aggregate_units"] == {
        "avg_qps": "queries/s",
        "max_qps": "queries/s",
        "p99_latency_ms": "ms",
        "error_rate": "%",
        "availability_pct": "%",
    }
    # No node disk history was seeded: the forecast says so rather than guessing.
    assert data["forecast"]["status"] == "insufficient_data" and data["forecast"]["first_node"] is None


def test_a_range_with_no_round_says_so_and_exits_1(week_of_rounds):
    """Before the first stored round every value is null: the CLI says why, and a script can tell."""
    _, _, url = week_of_rounds
    for args in (("--json",), ()):
        result = _cli(
            url,
            "overview",
            "--cluster",
            "prod",
            "--range",
            "custom",
            "--start",
            "2020-01-01",
            "--end",
            "2020-01-02",
            *args,
        )
        assert result.returncode == 1, result.stderr
        assert result.stderr.strip() == "starmon: no round of prod was stored by the end of the range"
        if args:
            assert json.loads(result.stdout)["collected_at"] is None
        else:
            assert result.stdout.startswith("prod: no data yet (collected never)")


@pytest.mark.parametrize(
    "args, message",
    [
        (("--cluster", "nope"), "unknown cluster 'nope' (known: prod)"),
        (("--cluster", "prod", "--range", "2y"), "unknown range '2y'"),
    ],
)
def test_overview_cli_errors(week_of_rounds, args, message):
    result = _cli(week_of_rounds[2], "overview", *args, "--json")
    assert result.returncode == 2
    assert result.stderr.strip() == f"starmon: {message}" or message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


def test_overview_cli_over_custom_dates(week_of_rounds):
    """A report over a past day: aggregates of exactly the rounds in it, the cards as of its end."""
    _, _, url = week_of_rounds
    start, end = NOW - 2 * 86400, NOW - 86400
    iso = lambda ts: datetime.fromtimestamp(ts, UTC).isoformat()  # noqa: E731
    result = _cli(
        url, "overview", "--cluster", "prod", "--range", "custom", "--start", iso(start), "--end", iso(end), "--json"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    # the seeded rounds in [start, end], by the fixture's own rules
    stamps = [NOW - 7 * 86400 + i * 30 for i in range(7 * 2880)]
    inside = [(i, ts) for i, ts in enumerate(stamps) if start <= ts <= end]
    up = [ts for i, ts in inside if i % 100]
    assert data["range"] == {"label": "custom", "start": iso(start), "end": iso(end)}
    assert data["collected_at"] == iso(end) and data["status"] == "ok"
    agg = data["aggregates"]
    assert agg["availability_pct"] == pytest.approx(100 * len(up) / len(inside))
    assert agg["avg_qps"] == pytest.approx(sum((ts // 60) % 60 for _, ts in inside) / len(inside))
    assert agg["p99_latency_ms"] == 5000.0


def test_overview_cli_text_gives_units(week_of_rounds):
    """The text report: each card with its delta in the card's unit, and the aggregates with theirs."""
    _, _, url = week_of_rounds
    start, end = NOW - 2 * 86400, NOW - 86400
    iso = lambda ts: datetime.fromtimestamp(ts, UTC).isoformat()  # noqa: E731
    args = ("overview", "--cluster", "prod", "--range", "custom", "--start", iso(start), "--end", iso(end))
    result = _cli(url, *args)
    data = json.loads(_cli(url, *args, "--json").stdout)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    agg = data["aggregates"]
    assert any(re.fullmatch(rf"\s+avg_qps\s+{agg['avg_qps']:,.1f}/s", line) for line in lines), lines
    assert any(re.fullmatch(r"\s+p99_latency_ms\s+5,000 ms", line) for line in lines), lines
    assert any(re.fullmatch(rf"\s+availability_pct\s+{agg['availability_pct']:.1f} %", line) for line in lines)
    qps = next(c for c in data["health_cards"] if c["key"] == "qps")
    if qps["delta"]:  # the seeded QPS cycles over an hour; the day's first and last rounds may differ
        assert f"{format_delta(qps['delta'], 'queries/s')} since {data['deltas_since']}" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("--range", "custom", "--start", "2026-11-20"), "a custom range needs both a start and an end"),
        (("--range", "custom", "--start", "2026-11-22", "--end", "2026-11-20"), "must come after its start"),
        (("--range", "custom", "--start", "yesterday", "--end", "2026-11-20"), "start 'yesterday' is not a date"),
        (("--range", "24h", "--start", "2026-11-20"), "--start and --end need --range custom"),
    ],
)
def test_overview_cli_custom_range_errors(week_of_rounds, args, message):
    result = _cli(week_of_rounds[2], "overview", "--cluster", "prod", *args, "--json")
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


def test_tables_by_growth(db_url):
    """Largest first, unknown sizes last, growth between the range's first and last pass; StarRocks'
    own databases are left out even where an older collector stored them (issue 13, item 13)."""
    store = Store(db_url)
    store.sync_clusters((ClusterConfig("prod", "10.0.0.1"),))
    cid = store.cluster_ids()["prod"]
    sizes = {
        ("d", "big_slow"): (10_000, 10_100),
        ("d", "small_fast"): (100, 5_000),
        ("d", "gone_flat"): (50, 50),
        ("d", "unknown"): (None, None),
        ("_statistics_", "column_statistics"): (99_000, 99_500),
    }
    for i, ts in enumerate((NOW - 3600, NOW - 60)):
        store.write_statistics(
            cid,
            {"ts": ts, "status": "ok", "collect_ms": 1},
            [{"db_name": d, "table_name": t, "data_bytes": v[i], "row_count": 1} for (d, t), v in sizes.items()],
        )
    reader = Reader(store)
    tr = parse_range("6h", NOW)
    assert size_history.growth_span(reader, cid, tr) == (NOW - 3600, NOW - 60)
    tables = size_history.table_growth(reader, cid, tr)
    assert list(tables.columns) == ["database", "table", "size_bytes", "rows", "growth_bytes"]
    assert list(tables["table"]) == ["big_slow", "small_fast", "gone_flat", "unknown"]
    assert list(tables["growth_bytes"][:3]) == [100, 4_900, 0]
    assert list(size_history.table_growth(reader, cid, tr, limit=2)["table"]) == ["big_slow", "small_fast"]
    last_only = TimeRange(NOW - 600, NOW, "custom")
    assert size_history.growth_span(reader, cid, last_only) == (NOW - 60, NOW - 60)
    one_pass = size_history.table_growth(reader, cid, last_only)
    assert len(one_pass) == 4 and one_pass["growth_bytes"].isna().all()
    nothing = TimeRange(NOW - 7200, NOW - 7000, "custom")
    assert (
        size_history.growth_span(reader, cid, nothing) == (None, None)
        and size_history.table_growth(reader, cid, nothing).empty
    )
    store.close()


def test_dead_since_is_the_streak_of_the_round_shown(db_url):
    """A BE dead at +60, back at +120, dead again from +300: as of +90 its streak began at +60,
    whatever the rows after +90 say; as of +150 it is up."""
    store = Store(db_url)
    store.sync_clusters((ClusterConfig("prod", "10.0.0.1"),))
    cid = store.cluster_ids()["prod"]
    alive = {0: True, 60: False, 90: False, 120: True, 300: False, 330: False}
    store.write_rounds(
        cid,
        [
            ({"ts": NOW + t, "status": "ok", "collect_ms": 1}, [{"role": "BE", "host": "10.0.0.3", "alive": up}])
            for t, up in alive.items()
        ],
    )
    reader = Reader(store)

    def dead_as_of(t):
        return reader.dead_nodes(cid, reader.latest(cid, before=NOW + t))

    assert dead_as_of(90) == [{"role": "BE", "host": "10.0.0.3", "since": NOW + 60}]
    assert dead_as_of(150) == []
    assert dead_as_of(400) == [{"role": "BE", "host": "10.0.0.3", "since": NOW + 300}]
    store.close()


def _pruned_history(url: str) -> tuple[Store, int]:
    """Twelve days of rounds every 10 minutes (qps = the day's number), rolled up hourly, then the
    rounds older than two days deleted as retention_days = 2 does; plus a cluster collected only
    for the last 30 minutes, its hour rolled up."""
    store = Store(url)
    store.sync_clusters((ClusterConfig("prod", "10.0.0.1"), ClusterConfig("new", "10.0.0.2")))
    ids = store.cluster_ids()
    start = NOW - 12 * 86400
    for cid, first in ((ids["prod"], start), (ids["new"], NOW - 1800)):
        rounds = [
            (
                {
                    "ts": ts,
                    "status": "ok",
                    "collect_ms": 5,
                    "qps": float((ts - start) // 86400),
                    "query_error_rate": 1.0,
                },
                [],
            )
            for ts in range(int(first), int(NOW), 600)
        ]
        store.write_rounds(cid, rounds)
        rollup.roll_up_span(store, cid, first, NOW + 3600, 600, now=NOW + 3600)
    s = schema.metrics_snapshots
    store.write(lambda conn: conn.execute(s.delete().where(s.c.cluster_id == ids["prod"], s.c.ts < NOW - 2 * 86400)))
    return store, ids


def test_a_range_whose_rounds_were_pruned_reads_the_hourly_tier(db_url):
    """Five days ago, 23 hours long: its rounds are gone but its hours are kept, so it reads them (24
    hourly points of qps 7, the seventh day), where raw rounds would draw nothing."""
    store, ids = _pruned_history(db_url)
    reader = Reader(store)
    try:
        day = parse_range("custom", NOW, _day(NOW - 5 * 86400), _day(NOW - 4 * 86400 - 3600))
        assert not day.hourly and reader.tier(ids["prod"], day).hourly
        df = reader.series(ids["prod"], day, ["qps"])
        assert len(df) == 24 and set(df["qps"]) == {7.0}
        assert reader.aggregates(ids["prod"], day)["avg_qps"] == pytest.approx(7.0)
        assert coverage.held(store, ids["prod"], day.start, day.end).rounds == 24 * 6  # 6 rounds an hour
        # what the rounds still hold reads them: the last day, 10-minute rounds, not hours
        recent = parse_range("24h", NOW)
        assert not reader.tier(ids["prod"], recent).hourly and len(reader.series(ids["prod"], recent, ["qps"])) > 100
        # a cluster whose first hour is rolled up while its rounds are still there reads its rounds
        assert not reader.tier(ids["new"], recent).hourly and len(reader.series(ids["new"], recent, ["qps"])) == 3
    finally:
        store.close()


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()
