"""The Overview's cards: every card has a sparkline, deltas carry units at the value's precision and
say what they are measured over, and a 24h range is "now" however the rounds were written."""

from __future__ import annotations

import re
import time

import pytest

from starmon import health, rollup
from starmon.read import Reader, TimeRange
from starmon.ui.widgets import sparkline_svg

from .fixtures import NEWEST, add_cluster, open_page, seed_rounds, unescape

SNAP = {"id": 2, "status": "ok", "qps": 12.0, "query_latency_p99": 400.0, "disk_usage_pct": 50.0}


@pytest.mark.parametrize(
    "delta, unit, text",
    [
        (-9.413, "%", "-9.4 %"),
        (0.13, "ms", "+0.1 ms"),
        (-40.2, "ms", "-40 ms"),
        (2.0, "queries/s", "+2.0/s"),
        (-1, "nodes", "-1 node"),
        (3, "nodes", "+3 nodes"),
        (12, "tablets", "+12 tablets"),
        (0.0001, "%", "0.0 %"),  # no change at the value's precision has no sign
        (42.0, "score", "+42"),
    ],
)
def test_delta_text(delta, unit, text):
    assert health.format_delta(delta, unit) == text


def test_no_delta_against_the_snapshot_itself():
    """One round in the range: the change over it is unknown, not 0."""
    assert all(v.delta is None for v in health.cards(SNAP, dict(SNAP)))
    earlier = {**SNAP, "id": 1, "qps": 10.0}
    assert {v.key: v.delta for v in health.cards(SNAP, earlier)}["qps"] == 2.0


def test_card_values_are_numbers():
    """What a script reads: alive cards give alive and total nodes, the status its level."""
    snap = {**SNAP, "frontend_total": 3, "frontend_alive": 2, "status": "partial"}
    cards = {v.key: v for v in health.cards(snap, None)}
    assert (cards["fe_dead"].value, cards["fe_dead"].total, cards["fe_dead"].display) == (2, 3, "2/3")
    assert (cards["cluster_status"].value, cards["cluster_status"].display) == (1, "partial")
    assert all(v.value is None or isinstance(v.value, int | float) for v in cards.values())


def test_sparkline_svg():
    """Scaled to its own range, left to right; a flat series in the middle; none for one point."""
    svg = sparkline_svg([0.0, 5.0, 10.0], size=(102, 42))
    assert 'points="1.0,41.0 51.0,21.0 101.0,1.0"' in svg
    assert 'points="1.0,21.0 101.0,21.0"' in sparkline_svg([7.0, 7.0], size=(102, 42))
    assert sparkline_svg([3.0]) is None and sparkline_svg([]) is None


def test_series_derives_the_share_of_rounds_down_and_the_heap_percentage(seeded_healthy):
    """The status and FE JVM heap cards' sparklines: derived per bucket, raw and hourly alike."""
    store, cid = seeded_healthy["store"], seeded_healthy["cluster_id"]
    store.write(lambda conn: conn.exec_driver_sql("UPDATE metrics_snapshots SET status = 'down' WHERE id % 4 = 0"))
    downs = store.read(lambda conn: conn.exec_driver_sql("SELECT ts FROM metrics_snapshots WHERE id % 4 = 0").all())
    now = time.time()
    df = Reader(store).series(cid, TimeRange(now - 3600, now, "1h"), ["down_pct", "fe_jvm_heap_pct"])
    assert set(df["fe_jvm_heap_pct"]) == {25.0}  # 2 GiB of 8 GiB in every seeded round
    assert set(df["down_pct"]) == {0.0, 100.0}  # a round a minute, 30 s buckets, one round of each four down
    assert df["down_pct"].sum() == 100.0 * len(downs)
    rollup.roll_up_span(store, cid, now - 7200, now, 60)
    hourly = Reader(store).series(cid, TimeRange(now - 30 * 86400, now, "30d"), ["down_pct", "fe_jvm_heap_pct"])
    hours = [ts // 3600 * 3600 for (ts,) in downs]
    rounds = store.read(lambda conn: conn.exec_driver_sql("SELECT ts FROM metrics_snapshots").all())
    ended = [h for h in {ts // 3600 * 3600 for (ts,) in rounds} if h + 3600 <= now]  # hours rolled up
    expected = {h: 100.0 * hours.count(h) / sum(ts // 3600 * 3600 == h for (ts,) in rounds) for h in ended}
    got = dict(zip((t.timestamp() for t in hourly["time"]), hourly["down_pct"]))
    assert got == pytest.approx(expected) and set(hourly["fe_jvm_heap_pct"]) == {25.0}


def test_every_card_has_a_sparkline_and_deltas_have_units(seeded_with_problems):
    at = open_page("overview")
    assert not at.exception
    cards = {m.label.split(" ", 1)[1]: m.proto for m in at.metric}
    health_cards = {k: v for k, v in cards.items() if k != "Disk 95 % forecast"}
    assert len(health_cards) == len(health.CARDS)
    sparklines = [image.proto.imgs[0].url for image in at.get("image")]
    assert len(sparklines) == len(health.CARDS)  # one per card, Cluster status and FE JVM heap included
    assert all(url.startswith("data:image/svg+xml;base64,") for url in sparklines)
    assert cards["BE alive"].delta == "-1 node"
    assert cards["QPS"].delta == f"+{NEWEST['qps'] - 50.0:.1f}/s"  # the first seeded round had 50 queries/s
    assert cards["Tablets"].delta == "0 tablets"
    assert cards["Cluster status"].delta == ""
    since = {c.delta_description for c in health_cards.values() if c.delta}
    assert len(since) == 1 and re.fullmatch(r"since \w{3} \d\d \d\d:\d\d", since.pop())  # 2 h of a 24h range


def test_deltas_over_the_range_when_its_first_round_is_at_its_start(seeded_with_problems):
    at = open_page("overview", range="1h")
    descriptions = {m.proto.delta_description for m in at.metric if m.proto.delta}
    assert descriptions == {"over the last 1h"}


@pytest.fixture
def history_written_after_the_live_rounds(env):
    """Live rounds stored first, then older history replayed behind them (as the demo does): the
    newest snapshot id belongs to an old round."""
    cid = add_cluster(env["store"])
    seed_rounds(env["store"], cid, hours=0.1, dead=None)
    live = env["store"].read(lambda conn: conn.exec_driver_sql("SELECT max(id) FROM metrics_snapshots").scalar())
    seed_rounds(env["store"], cid, hours=0.1, dead=None)
    env["store"].write(
        lambda conn: conn.exec_driver_sql(f"UPDATE metrics_snapshots SET ts = ts - 7200 WHERE id > {live}")
    )
    return env


def test_a_relative_range_is_now_while_history_is_written_behind_it(history_written_after_the_live_rounds):
    at = open_page("overview")
    assert not at.exception
    subheaders = [unescape(s.value) for s in at.subheader]
    assert "What is wrong now" in subheaders, subheaders
    assert not any("What was wrong" in s for s in subheaders)
    assert not any("as of the range's end" in unescape(c.value) for c in at.caption)
