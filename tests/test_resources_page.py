"""The Resources page's node table and the reasons empty charts give (issue 13, items 7, 9, 10, 11).

The cluster's clock and the reasons are pure and checked on known values; the page through
AppTest on seeded rounds; what only a browser shows (the table fits the page at 1440×900,
heartbeats in the browser's zone, tick dates and Capacity labels left legible) in Chromium
against the demo, one dashboard for the module.
"""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from playwright.sync_api import expect

from starmon import clock
from starmon.coverage import ALL_NA, Held, why_empty
from starmon.read import TimeRange
from starmon.ui.nodes import table

from .browser import SCREENSHOTS, browser, needs_chromium, settle, wait_until  # noqa: F401
from .fixtures import add_cluster, open_page, seed_rounds

SHANGHAI = timezone(timedelta(hours=8))  # the FE default time zone, and the emulator's
NOW = 1_796_000_000.0


def fe_time(ts: float, tz=SHANGHAI) -> str:
    """A time as an FE prints it: local to the cluster, no zone."""
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M:%S")


# -- the cluster's clock ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("hours", [8, 5.5, -3.5, 0, -10])
def test_the_cluster_offset_is_inferred_from_a_fresh_heartbeat(hours):
    tz = timezone(timedelta(hours=hours))
    beats = [fe_time(NOW - 3, tz), fe_time(NOW - 3600, tz), None, "garbage"]  # one fresh, one from a dead node
    offset = clock.offset(beats, NOW)
    assert offset == hours * 3600
    assert clock.to_epoch(fe_time(NOW - 3, tz), offset) == NOW - 3


def test_no_fresh_heartbeat_no_offset():
    assert clock.offset([fe_time(NOW - 7 * 60)], NOW) is None  # 7 min stale: 8 h, or 7 h 45?
    assert clock.offset([None, "2026-13-45 25:61:00"], NOW) is None
    assert clock.describe_offset(8 * 3600) == "UTC+08:00" and clock.describe_offset(-12600) == "UTC-03:30"


# -- the node table --------------------------------------------------------------------------------------------


def nodes(heartbeat_tz=SHANGHAI) -> pd.DataFrame:
    """One round's node rows as Reader.nodes returns them: a leader FE, a live BE and a dead one."""
    beat = lambda ts: fe_time(ts, heartbeat_tz)  # noqa: E731
    return pd.DataFrame(
        [
            ("FE", "10.0.0.1", "3.3.5", True, True, beat(NOW - 2), None, None, None, None, None, None, None, None),
            ("BE", "10.0.0.2", "3.3.5", True, None, beat(NOW - 4), 19.44, 28.0, 4.5e9, 4e11, 1e12, 1480, 3, None),
            ("BE", "10.0.0.3", None, False, None, beat(NOW - 7200), None, None, None, None, 1e12, None, None, "x"),
        ],
        columns=[
            "role",
            "host",
            "version",
            "alive",
            "is_leader",
            "last_heartbeat",
            "cpu_pct",
            "mem_pct",
            "mem_used_bytes",
            "disk_used_bytes",
            "disk_total_bytes",
            "tablet_count",
            "running_queries",
            "error",
        ],
    ).astype(object)


def test_unknown_values_read_na_never_none():
    rows = table(nodes(), NOW, "UTC").rows
    assert not rows.isna().any(axis=None)
    assert "None" not in rows.to_string()
    fe, be, dead = (rows.iloc[i] for i in range(3))
    assert (fe["role"], fe["tablets"], fe["cpu"], fe["queries"]) == ("FE leader", "n/a", "n/a", "n/a")
    assert fe["memory"] == "n/a"  # an FE reports no process memory
    assert (be["cpu"], be["memory"], be["disk"], be["tablets"], be["error"]) == (
        "19.4 %",
        "4.5 GB · 28.0 %",
        "40.0 %",
        "1,480",
        "",
    )
    assert (dead["alive"], dead["version"], dead["memory"], dead["disk"], dead["error"]) == (
        "no",
        "n/a",
        "n/a",
        "n/a",
        "x",
    )


def test_heartbeats_are_shown_in_the_viewers_zone():
    shown = table(nodes(), NOW, "America/New_York")
    local = lambda ts: datetime.fromtimestamp(ts, ZoneInfo("America/New_York")).strftime("%b %d %H:%M:%S")  # noqa: E731
    assert list(shown.rows["heartbeat"]) == [local(NOW - 2), local(NOW - 4), local(NOW - 7200)]
    header = shown.columns["heartbeat"]
    assert header["label"] == "Last heartbeat" and "UTC+08:00" in header["help"]


def test_heartbeats_of_an_unknown_zone_say_so():
    frozen = nodes().assign(alive=False)  # no live node: no fresh heartbeat to infer the zone from
    shown = table(frozen, NOW, "UTC")
    assert shown.rows["heartbeat"][0] == fe_time(NOW - 2)  # as the FE printed it
    assert shown.columns["heartbeat"]["label"] == "Last heartbeat (cluster time)"


def test_the_resources_page_shows_na_and_converted_heartbeats(env):
    cid = add_cluster(env["store"])
    seed_rounds(env["store"], cid, hours=0.5, dead_rounds=0)
    ts = time.time() - 1
    snapshot = {"ts": ts, "status": "ok", "collect_ms": 10}
    rows = nodes().drop(columns=["disk_used_bytes"]).to_dict("records")
    for row, age in zip(rows, (2, 4, 7200)):
        row["last_heartbeat"] = fe_time(ts - age)
    env["store"].write_rounds(cid, [(snapshot, rows)])
    at = open_page("resources")
    assert not at.exception
    [shown] = at.dataframe
    df = shown.value
    assert "None" not in df.to_string()
    assert list(df["role"]) == ["BE", "BE", "FE leader"]  # by role, then host
    assert list(df["tablets"]) == ["1,480", "n/a", "n/a"]
    utc = lambda t: datetime.fromtimestamp(t, UTC).strftime("%b %d %H:%M:%S")  # noqa: E731  AppTest's zone is UTC
    assert list(df["heartbeat"]) == [utc(ts - 4), utc(ts - 7200), utc(ts - 2)]


# -- why a chart is empty ----------------------------------------------------------------------------------------

DAY = 86400
when = lambda ts: datetime.fromtimestamp(ts, UTC).strftime("%b %d %H:%M")  # noqa: E731
HELD = Held(first_raw=NOW - 3 * DAY + 120, first_hourly=NOW - 3 * DAY, last=NOW - 30)


@pytest.mark.parametrize(
    "tr, held, sentence",
    [
        (
            TimeRange(NOW - 10 * DAY, NOW - 9 * DAY, "custom"),
            HELD,
            f"The range ends before the first round starmon holds, collected {when(NOW - 3 * DAY + 120)}.",
        ),
        (
            TimeRange(NOW + 600 - 3600, NOW + 600, "1h"),
            Held(NOW - DAY, None, NOW - 5000),
            f"Nothing collected since {when(NOW - 5000)}: is the collector running?",
        ),
        (
            TimeRange(NOW - DAY, NOW, "24h"),
            Held(NOW - 2 * DAY, NOW - 2 * DAY, NOW, rounds=40, down=40),
            "The cluster was down at every round of this range: nothing answered.",
        ),
        (TimeRange(NOW - DAY, NOW, "24h"), Held(NOW - 2 * DAY, NOW - 2 * DAY, NOW, rounds=40, down=3), ALL_NA),
        (
            TimeRange(NOW - 2 * DAY, NOW - DAY, "custom"),
            HELD,
            "Nothing was collected in this range: the collector was not running then.",
        ),
        (
            TimeRange(NOW - 20 * DAY, NOW - 20 * DAY + 1800, "custom"),
            Held(NOW - 7 * DAY, NOW - 60 * DAY, NOW),
            f"Rounds before {when(NOW - 7 * DAY)} are no longer kept (retention_days); the hourly averages, kept "
            "longer, are read for ranges longer than 7 days and for whole hours whose rounds are gone.",
        ),
        (  # a day of pruned rounds reads its hourly averages: empty there, the collector was not running
            TimeRange(NOW - 20 * DAY, NOW - 19 * DAY, "custom"),
            Held(NOW - 7 * DAY, NOW - 60 * DAY, NOW),
            "Nothing was collected in this range: the collector was not running then.",
        ),
    ],
    ids=["before-first-round", "collector-stopped", "cluster-down", "never-sent", "outage", "pruned", "pruned-hourly"],
)
def test_an_empty_range_gets_its_reason(tr, held, sentence):
    assert why_empty(tr, held, when) == sentence


def test_the_first_round_is_the_raw_one_unless_only_its_hour_is_left():
    assert Held(NOW + 1800, NOW, NOW + DAY).first == NOW + 1800  # the raw round's own time
    assert Held(NOW + 9 * DAY, NOW, NOW + 10 * DAY).first == NOW  # raw pruned: the oldest hour
    assert Held(NOW, None, NOW).first == NOW


# -- in Chromium, at 1440×900 ----------------------------------------------------------------------------------

VIEWER_ZONE = "America/New_York"  # not the cluster's UTC+08:00, not the machine's


@pytest.fixture(scope="module")
def dashboard(demo_dashboard):
    """The demo's dashboard (conftest's server), once its replayed week is in (the Capacity chart needs it)."""
    wait_until(lambda: _days_held(demo_dashboard.db) > 6, 180, "the demo's week replayed")
    return demo_dashboard.url


def _days_held(db: Path) -> float:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            oldest = conn.execute("SELECT min(ts) FROM metrics_snapshots").fetchone()[0]
    except sqlite3.Error:  # the schema is still being created
        return 0
    return (time.time() - oldest) / DAY if oldest else 0


@pytest.fixture(scope="module")
def resources(browser, dashboard):  # noqa: F811
    context = browser.new_context(viewport={"width": 1440, "height": 900}, timezone_id=VIEWER_ZONE)
    page = context.new_page()
    page.goto(f"{dashboard}/resources?range=7d")
    settle(page)
    yield page
    context.close()


def _box(locator) -> dict:
    return locator.evaluate(
        "e => { const r = e.getBoundingClientRect(); return {l: r.left, r: r.right, t: r.top, b: r.bottom}; }"
    )


@needs_chromium
def test_the_node_table_fits_the_page_with_every_header_whole(resources):
    frame = resources.get_by_test_id("stDataFrame")
    frame.scroll_into_view_if_needed()
    expect(frame.locator("th").first).to_be_attached(timeout=30000)
    headers = frame.locator("th").all_inner_texts()
    assert headers[0] == "Role" and headers[-1] == "Error" and len(headers) == 11, headers
    scroller = frame.locator(".dvn-scroller").first
    width, visible = scroller.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert width <= visible, f"the table is {width} px wide in {visible} px: its last columns are cut"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    frame.screenshot(path=str(SCREENSHOTS / "resources-nodes.png"))


@needs_chromium
def test_heartbeats_are_in_the_browsers_zone(resources):
    frame = resources.get_by_test_id("stDataFrame")
    cells = frame.locator("td").all_inner_texts()
    beats = [c for c in cells if re.fullmatch(r"[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d", c)]
    assert beats, cells
    now = datetime.now(ZoneInfo(VIEWER_ZONE)).replace(tzinfo=None)
    for text in beats:  # the live nodes heartbeat seconds before a round; the demo's rounds are 30 s apart
        shown = datetime.strptime(f"{now.year} {text}", "%Y %b %d %H:%M:%S")
        assert abs((now - shown).total_seconds()) < 180, (text, now)


@needs_chromium
def test_the_date_under_the_ticks_is_not_covered_by_the_legend(resources):
    chart = resources.locator(".js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    expect(chart.locator(".xtick text").first).to_be_visible(timeout=30000)
    dates = chart.locator(".xtick text tspan.line")  # the second line ("2026") Plotly adds on a multi-day range
    assert dates.count(), "a 7-day chart has a date line under its ticks"
    legend = _box(chart.locator(".legend").first)
    svg = _box(chart.locator("svg.main-svg").first)
    for i in range(dates.count()):
        line = _box(dates.nth(i))
        if line["b"] - line["t"] > 0:
            assert line["b"] <= legend["t"] and line["b"] <= svg["b"], (line, legend, svg)


@needs_chromium
def test_the_capacity_labels_do_not_overlap(resources):
    chart = resources.locator(".js-plotly-plot", has_text="Disk used: history and forecast")
    chart.scroll_into_view_if_needed()
    expect(chart.get_by_text("100 %")).to_be_visible(timeout=30000)
    top, below = _box(chart.get_by_text("100 %")), _box(chart.get_by_text("95 %"))
    assert top["b"] <= below["t"] or below["b"] <= top["t"] or top["r"] <= below["l"] or below["r"] <= top["l"]


# -- the panels of StarRocks' own dashboard, filled by the demo's week (issue 18) -------------------------------

PANELS = {
    "performance": (
        "Open connections",
        "Running queries (busiest BE/CN)",
        "Transactions per second",
        "Loads per second",
        "Routine-load lag",
    ),
    "resources": (
        "Memory used per node, bytes",
        "Disk I/O utilisation (busiest disk)",
        "Compaction score",
        "Network received per node",
        "Network sent per node",
        "Tablets per node",
        "FE JVM heap used, bytes",
        "FE JVM GC time",
    ),
}
CHARTS = {"performance": 10, "resources": 13}  # every chart of the page, the Capacity one included

# Points each chart draws, by title (the event markers left out): what a visitor sees, from Plotly's own data.
_DRAWN = """() => Object.fromEntries(Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => [
    String((p.layout && p.layout.title && (p.layout.title.text || p.layout.title)) || '').replace(/<[^>]+>/g, ''),
    (p.calcdata || []).filter(trace => trace[0] && trace[0].trace && trace[0].trace.name !== 'events')
        .reduce((n, trace) => n + trace.filter(pt => typeof pt.y === 'number' && isFinite(pt.y)).length, 0),
]))"""


@needs_chromium
@pytest.mark.parametrize("name", PANELS)
def test_the_demo_fills_the_panels_of_starrocks_own_dashboard(browser, dashboard, name):  # noqa: F811
    context = browser.new_context(viewport={"width": 1440, "height": 900}, timezone_id=VIEWER_ZONE)
    page = context.new_page()
    try:
        page.goto(f"{dashboard}/{name}?range=7d")
        settle(page)
        page.mouse.move(720, 450)
        for _ in range(12):  # down the page, so every chart is drawn
            page.mouse.wheel(0, 900)
            page.wait_for_timeout(250)
        expect(page.locator(".js-plotly-plot")).to_have_count(CHARTS[name], timeout=30000)
        page.wait_for_timeout(1000)
        drawn = page.evaluate(_DRAWN)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-panels.png"), full_page=True)
        for title in PANELS[name]:
            assert drawn.get(title, 0) >= 100, (title, drawn)  # a week of 10-minute buckets holds ~1,000
        assert page.get_by_text("No data in this range").count() == 0
        assert page.get_by_test_id("stException").count() == 0
    finally:
        context.close()
