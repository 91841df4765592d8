"""A new user's first minutes, in Chromium: `streamlit run app.py` on a fresh database (the demo).

Measures, and prints into the test log, the time from the server's start to the first settled
Overview and to a filled 30-day chart. While the demo's history is replayed the pages say so with
progress; once it is in, the note goes away by itself and every tier is filled. On the way, the
Overview's cards are checked as a user sees them: even heights, deltas with units, and no Vega
warnings in the console (an empty sparkline made 26 of them).
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from starmon.demo import HISTORY_DAYS

from .browser import SCREENSHOTS, browser, dashboard_env, dashboard_server, needs_chromium, page, settle  # noqa: F401
from .fixtures import ROOT

pytestmark = needs_chromium
LOG = ROOT / "test-output" / "first-minutes.log"
LOADING = re.compile(rf"Loading {HISTORY_DAYS} days of history for demo: \d+%")


def _qps_points(page) -> int:
    """Points drawn on the first chart of the page (Performance: queries per second)."""
    return page.evaluate(
        "() => { const p = document.querySelector('.js-plotly-plot');"
        " return p && p.data && p.data[0] ? p.data[0].x.filter(x => x !== null).length : 0; }"
    )


def test_first_minutes_of_the_demo(tmp_path, page, capsys):
    env = dashboard_env(tmp_path, demo=True)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.set_viewport_size({"width": 1440, "height": 900})
    started = time.monotonic()
    with dashboard_server(tmp_path, env) as url:
        page.goto(url)
        settle(page)
        expect(page.get_by_test_id("stMetric")).to_have_count(15, timeout=60000)
        first_overview = time.monotonic() - started

        # The history is still being replayed: the page says so, with how far it has got.
        progress = page.get_by_text(LOADING)
        loading_seen = progress.count() > 0
        if loading_seen:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "overview-loading.png"), full_page=True)
            assert "What is wrong now" in page.inner_text("body")  # a 24h range is "now" meanwhile
        expect(progress).to_have_count(0, timeout=240000)  # and goes away by itself when done
        history_in = time.monotonic() - started

        page.goto(f"{url}/performance?cluster=demo&range=30d")
        settle(page)
        deadline = time.time() + 60
        while _qps_points(page) < 24 * (HISTORY_DAYS - 1) and time.time() < deadline:
            page.wait_for_timeout(500)
        points = _qps_points(page)
        filled_30d = time.monotonic() - started

        page.goto(f"{url}/?cluster=demo")
        settle(page)
        cards = page.get_by_test_id("stMetric")
        expect(cards).to_have_count(15, timeout=30000)
        boxes = page.locator("[class*='st-key-card-']")
        expect(boxes).to_have_count(14)
        heights = {round(boxes.nth(i).bounding_box()["height"]) for i in range(14)}
        page.screenshot(path=str(SCREENSHOTS / "overview-cards.png"))
        deltas = page.get_by_test_id("stMetricDelta").all_inner_texts()

    line = (
        f"first settled Overview {first_overview:.1f} s; history replayed {history_in:.1f} s "
        f"(progress shown: {'yes' if loading_seen else 'no, done before the first look'}); "
        f"30d QPS chart filled ({points} hourly points) {filled_30d:.1f} s after the server started"
    )
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with LOG.open("a") as log:
        log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
    with capsys.disabled():
        print(f"\n[first minutes] {line}")

    assert points >= 24 * (HISTORY_DAYS - 1), points  # an hourly point for (nearly) every replayed hour
    assert len(heights) == 1, heights
    unitless = [d for d in deltas if not re.fullmatch(r"[+-]?[\d,.]+( %| ms|/s| [KMGTP]?B| [a-z]+)?", d)]
    assert deltas and not unitless, deltas
    vega = [text for text in console if "Infinite extent" in text]
    assert not vega, vega[:3]
