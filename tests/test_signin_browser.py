"""The session cookie in Chromium, against `streamlit run app.py`: reload, new tab, browser restart,
a deep link through sign-in, sign-out in every tab, expired and forged cookies, CSRF, open redirects."""

from __future__ import annotations

import re
import sqlite3
import time

import httpx
import pytest
from playwright.sync_api import expect

from starmon import sessions, users
from starmon.config import ClusterConfig
from starmon.store import Store

from .browser import SCREENSHOTS, browser, dashboard_env, dashboard_server, needs_chromium, settle  # noqa: F401

pytestmark = needs_chromium
INTERVAL = 3  # the freshness badge redraws (and checks the session) this often
DEEP = "/performance?cluster=prod&range=7d"


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """Cluster "prod" with one round, accounts ann (viewer) and bob (admin), nobody collecting."""
    tmp = tmp_path_factory.mktemp("signin")
    config = f'interval_seconds = {INTERVAL}\n[[clusters]]\nname = "prod"\nfe_host = "127.0.0.1"\n'
    config += "http_port = 1\nquery_port = 1\n"
    env = dashboard_env(tmp, demo=False, collector=False, config=config)
    db = tmp / "starmon.db"
    store = Store(env["STARMON_DB_URL"])
    store.sync_clusters((ClusterConfig("prod", "127.0.0.1", 1, 1),))
    store.write_round(store.cluster_ids()["prod"], {"ts": time.time(), "status": "ok", "collect_ms": 1}, [])
    users.add(store, "ann", "viewer", "correct horse")
    users.add(store, "bob", "admin", "battery staple")
    store.close()
    with dashboard_server(tmp, env) as url:
        yield url, db


def _sign_in(page, url: str, path: str = "/") -> None:
    """Open `path` signed out, sign in as ann on the page it leads to, and wait for `path` to be back."""
    page.goto(url + path)
    page.wait_for_url(re.compile(r"/signin\?next="), timeout=60000)
    page.get_by_role("textbox", name="User name").fill("ann")
    page.get_by_role("textbox", name="Password").fill("correct horse")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "signin.png")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + path, timeout=30000)
    _expect_signed_in(page)


def _expect_signed_in(page) -> None:
    settle(page)
    expect(page.get_by_text("Signed in as ann (viewer)")).to_be_visible(timeout=30000)


def _expect_sign_in_page(page, notice: str | None = None) -> None:
    page.wait_for_url(re.compile(r"/signin\?"), timeout=60000)
    expect(page.get_by_role("textbox", name="User name")).to_be_visible()
    if notice:
        expect(page.get_by_text(notice)).to_be_visible()


def _session_cookie(context) -> dict:
    return next(c for c in context.cookies() if c["name"] == sessions.COOKIE)


def test_a_deep_link_leads_through_sign_in_and_the_session_outlives_reload_tabs_and_restart(dashboard, browser):
    url, _ = dashboard
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, url, DEEP)  # exactly the page and query asked for
    expect(page.get_by_role("heading", name="Performance")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "signed-in.png")
    cookie = _session_cookie(context)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["expires"] > time.time() + 11.9 * 3600
    page.reload()
    _expect_signed_in(page)
    assert page.url == url + DEEP
    tab = context.new_page()
    tab.goto(url + "/data")
    _expect_signed_in(tab)
    saved = context.storage_state()
    context.close()  # the browser closes; its persistent cookie is what a restart brings back
    restarted = browser.new_context(storage_state=saved)
    page = restarted.new_page()
    page.goto(url + "/resources")
    _expect_signed_in(page)
    restarted.close()


def test_signing_out_ends_the_session_in_every_tab(dashboard, browser):
    url, _ = dashboard
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, url)
    other = context.new_page()
    other.goto(url + "/data")
    _expect_signed_in(other)
    cookie = _session_cookie(context)
    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    _expect_sign_in_page(page, "You signed out.")
    assert sessions.COOKIE not in [c["name"] for c in context.cookies()]
    # the other tab, untouched, is sent to sign in at its next redraw, and comes back to its page after
    _expect_sign_in_page(other, "Your session ended")
    assert "next=%2Fdata" in other.url
    replayed = browser.new_context()  # the old cookie, kept by someone, no longer works: revoked, not just cleared
    replayed.add_cookies([cookie])
    _expect_sign_in_page(_goto(replayed, url))
    replayed.close()
    context.close()


def _goto(context, url: str):
    page = context.new_page()
    page.goto(url)
    return page


def test_expired_and_forged_cookies_lead_to_sign_in(dashboard, browser):
    url, db = dashboard
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, url)
    cookie = _session_cookie(context)
    with sqlite3.connect(db) as conn:  # the session's lifetime runs out (the cookie's own is longer)
        conn.execute("UPDATE web_sessions SET expires_at = ?", (time.time() - 1,))
    page.reload()
    _expect_sign_in_page(page)
    context.close()
    session_id, _, signature = cookie["value"].rpartition(".")
    for forged in ("x" * 43 + "." + "y" * 43, session_id + "." + signature[::-1], session_id):
        forger = browser.new_context()
        forger.add_cookies([{**cookie, "value": forged}])
        _expect_sign_in_page(_goto(forger, url))
        forger.close()


def test_csrf_and_open_redirects_are_refused(dashboard, browser):
    url, _ = dashboard
    with httpx.Client(base_url=url) as client:

        def token() -> str:  # the form's, bound to the nonce cookie the client now holds
            return re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text)[1]

        form = {"name": "ann", "password": "correct horse", "next": "/"}
        assert client.post("/signin", data=form).status_code == 403  # no token
        foreign = client.post("/signin", data={**form, "csrf": token()}, headers={"origin": "http://evil.example"})
        assert foreign.status_code == 403
        assert client.post("/signout", data={"csrf": "x"}).status_code == 403
        for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
            signed_in = client.post("/signin", data={**form, "csrf": token(), "next": target}, headers={"origin": url})
            assert signed_in.status_code == 303 and signed_in.headers["location"] == "/", target
            client.cookies.delete(sessions.COOKIE)
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}/signin?next=//evil.example/")
    page.get_by_role("textbox", name="User name").fill("ann")
    page.get_by_role("textbox", name="Password").fill("correct horse")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/", timeout=30000)
    _expect_signed_in(page)
    context.close()
