"""A real browser (Debian's Chromium driven by Playwright) against `streamlit run app.py` in demo mode."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from starmon import users
from starmon.config import ClusterConfig
from starmon.store import Store

from .browser import SCREENSHOTS, browser, dashboard_env, dashboard_server, needs_chromium, page, settle, visit  # noqa: F401
from .fixtures import PAGES

# Where each page lives in the URL: the Overview at the root, the others under their names.
URL_PATH = {name: "" if name == "overview" else name for name in PAGES}

pytestmark = needs_chromium


@pytest.mark.parametrize("name", URL_PATH)
def test_every_page_in_a_browser(demo_dashboard, page, name):
    page.set_viewport_size({"width": 1280, "height": 900})
    visit(page, f"{demo_dashboard.url}/{URL_PATH[name]}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert page.get_by_test_id("stException").count() == 0
    assert page.get_by_text("demo", exact=False).first.is_visible()
    if name == "overview":
        expect(page.get_by_test_id("stMetric")).to_have_count(15, timeout=30000)
        expect(page.get_by_text("Disk 95 % forecast")).to_be_visible()
        assert page.get_by_test_id("stMetric").first.is_visible()
        assert re.search(r"\d+/\d+", page.get_by_test_id("stMetric").nth(1).inner_text())
    if name in ("performance", "resources"):
        expect(page.locator(".js-plotly-plot").nth(3)).to_be_visible(timeout=30000)  # charts load lazily
        assert page.locator(".js-plotly-plot").first.is_visible()
    if name == "clusters":
        assert page.get_by_role("button", name="Test connection").is_visible()


def test_range_lives_in_the_url(demo_dashboard, page):
    visit(page, f"{demo_dashboard.url}/performance?range=6h")
    expect(page.get_by_text("Last 6h").first).to_be_visible()
    page.get_by_role("radio", name="7d").click()
    page.wait_for_url(re.compile(r"range=7d"), timeout=15000)
    expect(page.get_by_text("Last 7d").first).to_be_visible(timeout=20000)


def test_narrow_window(demo_dashboard, page):
    page.set_viewport_size({"width": 420, "height": 900})
    visit(page, demo_dashboard.url)
    page.screenshot(path=str(SCREENSHOTS / "overview-narrow.png"), full_page=True)
    assert page.get_by_test_id("stException").count() == 0
    assert page.get_by_test_id("stMetric").first.is_visible()


def _one_uncollected_cluster(tmp_path: Path, interval: int) -> tuple[str, dict[str, str]]:
    """A database URL and dashboard environment: cluster "prod" in starmon.toml, no demo, no collector."""
    env = dashboard_env(
        tmp_path,
        demo=False,
        collector=False,
        config=f'interval_seconds = {interval}\n[[clusters]]\nname = "prod"\n'
        'fe_host = "127.0.0.1"\nhttp_port = 1\nquery_port = 1\n',
    )
    return env["STARMON_DB_URL"], env


def test_freshness_badge_turns_stale_without_a_reload(tmp_path, page):
    """When rounds stop arriving, the sidebar badge says so by itself: its age is not frozen at page load."""
    interval = 6  # stale after 18 s: room for a slow start before the first look
    db_url, env = _one_uncollected_cluster(tmp_path, interval)  # nobody collects: the one round below only ages
    with dashboard_server(tmp_path, env) as url:
        visit(page, url)  # the first load, slow on a busy machine, before the clock starts
        store = Store(db_url)
        store.sync_clusters((ClusterConfig("prod", "127.0.0.1", 1, 1),))
        store.write_round(store.cluster_ids()["prod"], {"ts": time.time(), "status": "ok", "collect_ms": 1}, [])
        store.close()
        page.reload()
        settle(page)
        sidebar = page.get_by_test_id("stSidebar")
        badge = sidebar.get_by_text(re.compile(r"collected \d+ s ago"))
        expect(badge).to_be_visible()
        expect(badge).not_to_contain_text("stale")
        expect(sidebar.get_by_text(re.compile(r"stale: collected \d+ s ago"))).to_be_visible(
            timeout=(3 * interval + 4 * interval) * 1000
        )


def test_a_deleted_account_stops_getting_fresh_numbers_without_a_click(tmp_path, page):
    """Auto-refresh redraws a fragment without the sign-in gate: each redraw checks the account again."""
    interval = 3
    db_url, env = _one_uncollected_cluster(tmp_path, interval)
    store = Store(db_url)
    store.sync_clusters((ClusterConfig("prod", "127.0.0.1", 1, 1),))
    store.write_round(store.cluster_ids()["prod"], {"ts": time.time(), "status": "ok", "collect_ms": 1, "qps": 5.0}, [])
    users.add(store, "ann", "viewer", "correct horse")
    users.add(store, "bob", "admin", "battery staple")  # an account stays: sign-in stays on
    try:
        with dashboard_server(tmp_path, env) as url:
            page.goto(url)  # sent to the sign-in page, and back
            page.get_by_role("textbox", name="User name").fill("ann")
            page.get_by_role("textbox", name="Password").fill("correct horse")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_text("Signed in as ann (viewer)")).to_be_visible(timeout=30000)
            users.delete(store, "ann")
            # without a click: the sign-in page replaces the numbers, and says why
            # within a few redraws; generous, as a loaded machine (the session's demo server beside) slows them
            expect(page.get_by_role("textbox", name="User name")).to_be_visible(timeout=60000)
            expect(page.get_by_test_id("stMetric")).to_have_count(0)
            expect(page.get_by_text("your account no longer exists")).to_be_visible()
    finally:
        store.close()
