"""Freshness: the sidebar badge and the Overview say the same thing about how current the data is.

A down cluster used to get "no data collected yet" in the sidebar (which looked for the newest good
round) beside "Collected 16:30 (15 s ago)" on the Overview (which looked at the newest round).
"""

from __future__ import annotations

import re
import time

import pytest

from starmon.freshness import ago, freshness

from .fixtures import add_cluster, open_page, seed_rounds, unescape

NOW = 1_800_000_000.0
when = lambda ts: f"T{int(NOW - ts)}"  # noqa: E731  (seconds before NOW, so the text names which round)


@pytest.mark.parametrize(
    "seconds, text",
    [(0, "0 s ago"), (59, "59 s ago"), (60, "1 min ago"), (3599, "59 min ago"), (7200, "2 h ago"), (86400, "1 d ago")],
)
def test_ago(seconds, text):
    assert ago(seconds) == text


def test_no_round():
    state = freshness(None, None, 30, NOW, when)
    assert (state.level, state.label) == ("none", "no round collected yet")


def test_fresh_and_stale():
    fresh = freshness({"ts": NOW - 12, "status": "ok"}, {"ts": NOW - 12}, 30, NOW, when)
    assert (fresh.level, fresh.label, fresh.sentence) == ("fresh", "collected 12 s ago", "Collected T12 (12 s ago).")
    stale = freshness({"ts": NOW - 91, "status": "partial"}, {"ts": NOW - 91}, 30, NOW, when)
    assert (stale.level, stale.label) == ("stale", "stale: collected 1 min ago")
    assert "one is due every 30 s" in stale.sentence


def test_down_names_the_last_round_and_the_last_data():
    state = freshness({"ts": NOW - 15, "status": "down"}, {"ts": NOW - 7200, "status": "ok"}, 30, NOW, when)
    assert (state.level, state.label) == ("down", "down: last round 15 s ago")
    assert state.sentence == "The cluster was down at the last round, T15 (15 s ago); last data T7200 (2 h ago)."
    never = freshness({"ts": NOW - 15, "status": "down"}, None, 30, NOW, when)
    assert never.sentence.endswith("; no data collected yet.")


@pytest.fixture
def down_since_start(env):
    """Cluster `prod` whose every round found it down: it has rounds, but never any data."""
    cid = add_cluster(env["store"])
    seed_rounds(env["store"], cid, hours=0.1, dead=None, newest=None)
    env["store"].write(lambda conn: conn.exec_driver_sql("UPDATE metrics_snapshots SET status = 'down'"))
    return env


def test_sidebar_and_overview_agree_on_a_down_cluster(down_since_start):
    at = open_page("overview")
    assert not at.exception
    [badge] = [m.value for m in at.sidebar.markdown if "badge" in m.value]
    assert re.fullmatch(r":red-badge\[:material/cloud_off: down: last round \d+ s ago\]", badge), badge
    captions = [unescape(c.value) for c in at.caption]
    [sentence] = [c for c in captions if c.startswith("The cluster was down")]
    assert "; no data collected yet;" in sentence, sentence
    assert not any(c.startswith("Collected") for c in captions), captions


def test_a_cluster_whose_collector_stopped_is_stale_everywhere(seeded_healthy):
    seeded_healthy["store"].write(
        lambda conn: conn.exec_driver_sql("UPDATE metrics_snapshots SET ts = ts - 600")  # 10 min, 20 intervals
    )
    at = open_page("overview")
    [badge] = [m.value for m in at.sidebar.markdown if "badge" in m.value]
    assert "stale: collected 10 min ago" in badge, badge
    assert any("no round since, though one is due every 30 s" in unescape(c.value) for c in at.caption)
    assert time.time() - seeded_healthy["newest_ts"] < 60  # the seed was fresh before it was aged
