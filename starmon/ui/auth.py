"""Sign-in for the dashboard: local accounts, or OpenID Connect through st.login.

- `[auth]` in .streamlit/secrets.toml: OpenID Connect; `[access] admin_emails` in
  starmon.toml names the admins, everyone else who signs in is a viewer.
- Else, accounts made with `python -m starmon users add`: the session cookie set by the
  server's sign-in page (starmon/signin.py), looked up on every run (starmon/sessions.py);
  without a valid one, the browser is sent to that page and, once signed in, back here.
- Else, if sign-in was turned on before (users.access): a closed page, nothing else.
- Else: open, every visitor may do everything (the README says so).
"""

from __future__ import annotations

import html
from urllib.parse import urlencode

import streamlit as st

from starmon import sessions, signin, users
from starmon.ui import loaders
from starmon.ui.text import plain

_KEY = "signed_in_user"  # who the last run found signed in, to tell a session that just ended
_SIGNED_OUT = "signed_out_because"  # why it ended: kept, since two auto-refreshing parts may each rerun the app


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def gate(pages: dict[str, st.Page]) -> users.User | None:
    """The signed-in user, or None when the dashboard is open; else stops the run, sending the browser
    to the sign-in page and, through it, back to the page of `pages` it asked for (or stops at the
    closed page, when sign-in was turned on but the database has no account)."""
    if _oidc_configured():
        if not st.user.is_logged_in:
            st.title("starmon")
            st.button("Sign in", on_click=st.login, type="primary", icon=":material/login:")
            st.stop()
        email = st.user.get("email") or st.user.get("name") or "unknown"
        return users.User(email, "admin" if email in loaders.config().admin_emails else "viewer")
    store = loaders.store()
    access = users.access(store)
    if access == "open":
        return None
    if access == "closed":
        st.session_state.pop(_KEY, None)
        _closed()
        st.stop()
    user = _session_user()  # on every run: a deleted account, a lowered role or a sign-out elsewhere acts at once
    if user is not None:
        st.session_state[_KEY] = user
        st.session_state.pop(_SIGNED_OUT, None)
        return user
    held = st.session_state.pop(_KEY, None)
    if held is not None:
        st.session_state[_SIGNED_OUT] = "gone" if users.find(store, held.name) is None else "ended"
    _to_sign_in(pages, st.session_state.get(_SIGNED_OUT))
    st.stop()


def recheck() -> None:
    """For a fragment redrawing on its own timer: if who may see the page changed, rerun the app.

    A fragment's rerun skips gate(), so without this an account deleted (or demoted, or signed out
    in another tab, or a dashboard whose accounts vanished) would go on receiving fresh numbers
    until its next click.
    """
    if _oidc_configured():
        return
    access = users.access(loaders.store())
    if access == "open":
        return
    if access == "closed" or _session_user() != st.session_state.get(_KEY):
        st.rerun(scope="app")


def _cookie() -> str | None:
    """The session cookie as the browser sent it when this tab connected (a client without
    cookies, such as AppTest's stand-in, reads as none)."""
    value = st.context.cookies.get(sessions.COOKIE)
    return value if isinstance(value, str) else None


def _key() -> bytes:
    return loaders.secrets().derive(sessions.KEY_PURPOSE)


def _session_user() -> users.User | None:
    return sessions.find(loaders.store(), _key(), _cookie())


def _to_sign_in(pages: dict[str, st.Page], reason: str | None) -> None:
    """Send the browser to the sign-in page, which leads back to the page and query asked for."""
    asked = st.navigation(list(pages.values()), position="hidden")  # only to name it, never run
    query = urlencode([(k, v) for k in st.query_params for v in st.query_params.get_all(k)])
    target = signin.url(f"/{asked.url_path}" + (f"?{query}" if query else ""), reason)
    st.title("starmon")
    st.markdown(f"Signing in… [Sign in]({target}) if nothing happens.")
    # A meta refresh works where a script would not: Streamlit runs none of a page's HTML.
    st.markdown(f'<meta http-equiv="refresh" content="0;url={html.escape(target)}">', unsafe_allow_html=True)


def _closed() -> None:
    """The whole page when sign-in was turned on but this database has no account."""
    st.title("starmon")
    st.error(
        "Sign-in is turned on for this dashboard, but no account exists in its database, so nobody "
        "can sign in. The database was lost or replaced, or `STARMON_DB_URL` names a new one. On the "
        "server, add an account with `python -m starmon users add NAME --role admin`, or open the "
        "dashboard to everyone with `python -m starmon users open`.",
        icon=":material/lock:",
    )


def sidebar(user: users.User | None) -> None:
    """Who is signed in, and the way out: for local accounts a form posting to the server's
    sign-out route, which ends the session in every tab and clears the cookie."""
    if user is None:
        return
    st.sidebar.caption(f"Signed in as {plain(user.name)} ({user.role})")
    if _oidc_configured():
        if st.sidebar.button("Sign out", key="sign-out", icon=":material/logout:"):
            st.logout()  # sends the browser to /auth/logout; a rerun here would drop that message
        return
    st.sidebar.html(signin.signout_form(_key(), _cookie() or ""))


def may_edit(user: users.User | None) -> bool:
    """Open dashboards and admins may change clusters; viewers may not."""
    return user is None or user.is_admin


def require_admin() -> None:
    """Stop a page that changes things for anyone but an admin (also when reached by URL)."""
    if not may_edit(st.session_state.get("user")):
        st.error("Only admins can change clusters.", icon=":material/lock:")
        st.stop()
