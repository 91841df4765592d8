"""Single sign-on end to end: `st.login` against an OpenID Connect provider, in a real browser.

The dashboard runs as users run it, with `[auth]` in a secrets file and `[access] admin_emails`
in starmon.toml; tests/oidc_provider.py plays the identity provider on loopback.
"""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import expect

from starmon.ui.text import WORD_JOINER

from .browser import SCREENSHOTS, browser, dashboard_server, needs_chromium, page, settle, visit  # noqa: F401
from .fixtures import free_port
from .oidc_provider import Provider

pytest.importorskip("authlib", reason="st.login needs Authlib (requirements-dev.txt installs it)")
pytestmark = needs_chromium

ADMIN = {"email": "alice@example.com", "name": "Alice"}
VIEWER = {"email": "bob@example.com", "name": "Bob"}


@pytest.fixture(scope="module")
def provider():
    with Provider("starmon-test", secrets.token_urlsafe(24)) as running:
        yield running


@pytest.fixture(scope="module")
def sso_dashboard(tmp_path_factory, provider):
    tmp = tmp_path_factory.mktemp("sso")
    port = free_port()
    (tmp / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        f'client_id = "{provider.client_id}"\n'
        f'client_secret = "{provider.client_secret}"\n'
        f'server_metadata_url = "{provider.issuer}/.well-known/openid-configuration"\n'
    )
    (tmp / "starmon.toml").write_text(f'[access]\nadmin_emails = ["{ADMIN["email"]}"]\n')
    env = {
        "STARMON_DB_URL": f"sqlite:///{tmp / 'starmon.db'}",
        "STARMON_CONFIG": str(tmp / "starmon.toml"),
        "STARMON_DEMO": "0",
    }
    with dashboard_server(tmp, env, port=port, args=("--secrets.files", str(tmp / "secrets.toml"))) as url:
        yield url


def _sign_in(page, url: str, provider: Provider, who: dict) -> None:
    provider.login_as = who
    visit(page, url)
    with page.expect_response(lambda r: "/oauth2callback" in r.url, timeout=30000):
        page.get_by_role("button", name="Sign in").click()  # to the provider and back
    page.wait_for_url(f"{url}/", timeout=30000)  # where the callback sends the browser
    settle(page)


def _signed_in_as(page) -> str:
    """Who the sidebar says is signed in, as a person reads it (invisible word joiners dropped)."""
    caption = page.get_by_test_id("stSidebar").get_by_text("Signed in as")
    expect(caption).to_be_visible()
    return caption.inner_text().replace(WORD_JOINER, "").removeprefix("Signed in as ")


def _nav(page, name: str):
    """The page's link in the navigation bar."""
    return page.get_by_test_id("stTopNavLink").filter(has_text=name)


def test_nothing_shows_before_sign_in(sso_dashboard, page):
    visit(page, sso_dashboard)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.get_by_text("Signed in as").count() == 0
    assert _nav(page, "Overview").count() == 0
    visit(page, f"{sso_dashboard}/clusters")  # no page by URL either
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.get_by_role("button", name="Test connection").count() == 0


def test_admin_by_email_may_change_clusters(sso_dashboard, page, provider):
    issued = provider.tokens_issued
    _sign_in(page, sso_dashboard, provider, ADMIN)
    assert provider.tokens_issued == issued + 1
    assert _signed_in_as(page) == f"{ADMIN['email']} (admin)"
    assert page.locator("a[href^='mailto:']").count() == 0  # the e-mail is text, not a link
    page.screenshot(path=str(SCREENSHOTS / "sso-admin.png"))
    expect(_nav(page, "Clusters")).to_be_visible()
    visit(page, f"{sso_dashboard}/clusters")
    expect(page.get_by_role("button", name="Test connection")).to_be_visible()


def test_everyone_else_is_a_viewer_and_can_sign_out(sso_dashboard, page, provider):
    _sign_in(page, sso_dashboard, provider, VIEWER)
    assert _signed_in_as(page) == f"{VIEWER['email']} (viewer)"
    expect(_nav(page, "Overview")).to_be_visible()
    assert _nav(page, "Clusters").count() == 0
    expect(page.get_by_text("An admin can add one on the Clusters page.")).to_be_visible()
    visit(page, f"{sso_dashboard}/clusters")  # not registered for a viewer: Streamlit's "not found"
    page.screenshot(path=str(SCREENSHOTS / "sso-viewer-clusters-url.png"))
    assert page.get_by_role("button", name="Test connection").count() == 0
    visit(page, sso_dashboard)
    with page.expect_response(lambda r: "/auth/logout" in r.url, timeout=30000):  # st.logout navigates there
        page.get_by_role("button", name="Sign out").click()
    # /auth/logout redirects back to the app: let that navigation finish rather than start another
    page.wait_for_url(lambda url: "/auth/" not in url, wait_until="load", timeout=60000)
    settle(page)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.get_by_text("Signed in as").count() == 0


def test_a_forged_id_token_signs_nobody_in(sso_dashboard, page, provider):
    provider.forge = True
    try:
        issued = provider.tokens_issued
        _sign_in(page, sso_dashboard, provider, ADMIN)
        assert provider.tokens_issued == issued + 1  # the flow did reach the token endpoint
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        assert page.get_by_text("Signed in as").count() == 0
    finally:
        provider.forge = False
