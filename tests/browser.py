"""Shared plumbing for the browser tests: Debian's Chromium through Playwright, and a dashboard
started as a user starts it (`streamlit run app.py`) on a free port.

Test modules import the `browser` and `page` fixtures from here, so each module opens and
closes its own Playwright (its sync API keeps an event loop running in the main thread, which
must not outlive the module: the collector tests run their own loops).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from .fixtures import ROOT, free_port

CHROMIUM = os.environ.get("STARMON_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-output" / "screenshots"

needs_chromium = pytest.mark.skipif(
    not shutil.which(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (.ci/run installs it)"
)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright, for the importing module only."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-sync",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def dashboard_env(tmp: Path, *, demo: bool, collector: bool = True, config: str = "") -> dict[str, str]:
    """The environment of a dashboard over `tmp`: its starmon.toml (written with `config`), its SQLite
    file `starmon.db` and its key file; the demo and the embedded collector on or off."""
    (tmp / "starmon.toml").write_text(config)
    env = {
        "STARMON_DB_URL": f"sqlite:///{tmp / 'starmon.db'}",
        "STARMON_CONFIG": str(tmp / "starmon.toml"),
        "STARMON_SECRET_KEY_FILE": str(tmp / "secret.key"),
        "STARMON_DEMO": "1" if demo else "0",
    }
    if not collector:
        env["STARMON_EMBEDDED_COLLECTOR"] = "0"
    return env


@dataclass(frozen=True)
class Dashboard:
    """A running dashboard: its URL, the environment it was started with, and its SQLite file."""

    url: str
    env: dict[str, str]
    db: Path


def count_rows(db: Path, table: str) -> int:
    """The rows of `table` in a dashboard's SQLite file; 0 while the file or its schema is still being created."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.Error:
        return 0


def wait_until(ready: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ready() twice a second until it holds; fail, naming `what`, if it still does not after `seconds`."""
    deadline = time.time() + seconds
    while not ready():
        assert time.time() < deadline, f"not within {seconds:.0f} s: {what}"
        time.sleep(0.5)


@contextmanager
def dashboard_server(
    tmp: Path,
    env: dict[str, str],
    *,
    port: int | None = None,
    args: tuple[str, ...] = (),
    ready: Callable[[], bool] = lambda: True,
    wait_seconds: float = 90,
) -> Iterator[str]:
    """`streamlit run app.py` with the given environment; yields its URL once healthy and ready()."""
    port = port or free_port()
    log_path = tmp / "streamlit.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
                *args,
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + wait_seconds
        try:
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"{url}/_stcore/health", timeout=1).text == "ok" and ready():
                        break
                except httpx.HTTPError:
                    pass
                assert time.time() < deadline, log_path.read_text()
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def visit(page, url: str) -> None:
    """Go to url and wait until the script has run and the page has settled."""
    page.goto(url)
    settle(page)


def settle(page) -> None:
    """Wait until the app is connected, its script has run and the page has settled."""
    page.wait_for_load_state("load")
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=30000)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=60000)
    page.wait_for_timeout(1500)
