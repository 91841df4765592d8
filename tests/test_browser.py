"""A real browser (Debian's Chromium driven by Playwright) against `streamlit run app.py` in demo mode."""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("STARMON_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-output" / "screenshots"
PAGES = {"overview": "", "performance": "performance", "resources": "resources", "data": "data",
         "clusters": "clusters"}

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (.ci/run installs it)")


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright, for this module only.

    Playwright's sync API keeps an event loop running in the main thread while it is
    open, so it must not outlive these tests (the collector tests run their own loops).
    """
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync",
                  "--disable-component-update", "--no-first-run"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """`streamlit run app.py` with no clusters configured: the demo starts and is collected."""
    tmp = tmp_path_factory.mktemp("dashboard")
    (tmp / "starmon.toml").write_text("")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "STARMON_DB_URL": f"sqlite:///{tmp / 'starmon.db'}", "STARMON_CONFIG": str(tmp / "starmon.toml")}
    env.pop("STARMON_DEMO", None)
    log = (tmp / "streamlit.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        assert proc.poll() is None, (tmp / "streamlit.log").read_text()
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).text == "ok" and _snapshots(tmp / "starmon.db"):
                break
        except (httpx.HTTPError, sqlite3.Error):
            pass
        assert time.time() < deadline, (tmp / "streamlit.log").read_text()
        time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _snapshots(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM metrics_snapshots").fetchone()[0]


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=30000)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=60000)
    page.wait_for_timeout(1500)


@pytest.mark.parametrize("name", PAGES)
def test_every_page_in_a_browser(dashboard, page, name):
    page.set_viewport_size({"width": 1280, "height": 900})
    _open(page, f"{dashboard}/{PAGES[name]}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert page.get_by_test_id("stException").count() == 0
    assert page.get_by_text("demo", exact=False).first.is_visible()
    if name == "overview":
        assert page.get_by_test_id("stMetric").count() == 15
        expect(page.get_by_text("Disk 95 % forecast")).to_be_visible()
        assert page.get_by_test_id("stMetric").first.is_visible()
        assert re.search(r"\d+/\d+", page.get_by_test_id("stMetric").nth(1).inner_text())
    if name in ("performance", "resources"):
        assert page.locator(".js-plotly-plot").count() >= 4
        assert page.locator(".js-plotly-plot").first.is_visible()
    if name == "clusters":
        assert page.get_by_role("button", name="Test connection").is_visible()


def test_range_lives_in_the_url(dashboard, page):
    _open(page, f"{dashboard}/performance?range=6h")
    expect(page.get_by_text("Last 6h").first).to_be_visible()
    page.get_by_role("radio", name="7d").click()
    page.wait_for_url(re.compile(r"range=7d"), timeout=15000)
    expect(page.get_by_text("Last 7d").first).to_be_visible(timeout=20000)


def test_narrow_window(dashboard, page):
    page.set_viewport_size({"width": 420, "height": 900})
    _open(page, dashboard)
    page.screenshot(path=str(SCREENSHOTS / "overview-narrow.png"), full_page=True)
    assert page.get_by_test_id("stException").count() == 0
    assert page.get_by_test_id("stMetric").first.is_visible()
