"""The Clusters page in Chromium: each change says what it did where the user is looking, and a
combination that means nothing is refused with a reason and stores nothing."""

from __future__ import annotations

import sqlite3

import pytest
from playwright.sync_api import expect

from .browser import browser, dashboard_env, dashboard_server, needs_chromium, page, settle, visit  # noqa: F401

pytestmark = needs_chromium

# Longer than a toast lasts (4 s): a message still there after it was not a toast.
TOAST_SECONDS = 4


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """`streamlit run app.py` with no cluster, no demo and no collector: the page is all there is."""
    tmp = tmp_path_factory.mktemp("clusters-page")
    with dashboard_server(tmp, dashboard_env(tmp, demo=False, collector=False)) as url:
        yield url, tmp / "starmon.db"


def _clusters(db) -> dict[str, tuple]:
    """The stored clusters: name -> (FE host, HTTPS, verify, enabled).

    Read-only: closing, it never checkpoints or deletes the WAL of the dashboard it watches.
    """
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT name, fe_host, tls, tls_verify, enabled FROM clusters").fetchall()
    finally:
        conn.close()
    return {name: tuple(rest) for name, *rest in rows}


def _fill(form, name: str, host: str) -> None:
    form.get_by_role("textbox", name="Name").fill(name)
    form.get_by_role("textbox", name="FE host").fill(host)


def _said(page, text: str):
    """The message, on screen (where the button was) once the page has rerun."""
    settle(page)
    message = page.get_by_test_id("stAlert").filter(has_text=text)
    expect(message).to_be_in_viewport()
    return message


def test_no_certificate_to_skip_without_https(dashboard, page):
    url, db = dashboard
    visit(page, f"{url}/clusters")
    form = page.get_by_test_id("stForm").first
    _fill(form, "plain", "10.0.0.1")
    form.get_by_text("Do not verify the certificate").click()
    for button in ("Save", "Test connection"):
        form.get_by_role("button", name=button).click()
        settle(page)
        expect(page.get_by_test_id("stAlert").filter(has_text="needs HTTPS")).to_be_visible()
    assert _clusters(db) == {}
    form.get_by_text("HTTPS (certificates are verified)").click()
    form.get_by_role("button", name="Save").click()
    _said(page, "Added plain;")
    assert _clusters(db) == {"plain": ("10.0.0.1", 1, 0, 1)}


def test_every_change_says_what_it_did(dashboard, page):
    url, db = dashboard
    visit(page, f"{url}/clusters")
    for name in ("prod", "qa"):
        form = page.get_by_test_id("stForm").first
        _fill(form, name, "10.0.0.2")
        form.get_by_role("button", name="Save").click()
        _said(page, f"Added {name}; the collector picks it up on its next round.")

    page.get_by_role("tab", name="Edit, disable or delete").click()
    chosen = page.get_by_test_id("stTabs").get_by_test_id("stSelectbox")
    chosen.click()
    page.get_by_role("option", name="prod").click()
    settle(page)
    form = page.get_by_test_id("stForm").nth(1)
    form.get_by_role("textbox", name="Name").fill("prod-eu")
    form.get_by_role("button", name="Save").click()
    _said(page, "Saved prod-eu;")
    expect(form.get_by_role("textbox", name="Name")).to_have_value("prod-eu")  # the form still shows it

    page.get_by_role("button", name="Disable").click()
    _said(page, "Disabled prod-eu: no longer collected; its history stays.")
    assert _clusters(db)["prod-eu"][-1] == 0
    page.get_by_role("button", name="Enable").click()
    _said(page, "Enabled prod-eu;")

    page.get_by_text("Also delete its whole history").click()
    page.get_by_role("button", name="Delete").click()
    deleted = _said(page, "Deleted prod-eu and its history.")
    page.wait_for_timeout(TOAST_SECONDS * 1000 + 1000)
    expect(deleted).to_be_in_viewport()  # not a toast that went by
    assert "prod-eu" not in _clusters(db) and "qa" in _clusters(db)
    # the next cluster chosen is not one click from deletion
    expect(page.get_by_role("checkbox", name="Also delete its whole history")).not_to_be_checked()
    expect(page.get_by_role("button", name="Delete")).to_be_disabled()
