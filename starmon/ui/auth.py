"""Sign-in for the dashboard: local accounts, or OpenID Connect through st.login.

- `[auth]` in .streamlit/secrets.toml: OpenID Connect; `[access] admin_emails` in
  starmon.toml names the admins, everyone else who signs in is a viewer.
- Else, accounts made with `python -m starmon users add`: a sign-in form.
- Else, if sign-in was turned on before (users.access): a closed page, nothing else.
- Else: open, every visitor may do everything (the README says so).
"""

from __future__ import annotations

import streamlit as st

from starmon import users
from starmon.ui import loaders
from starmon.ui.text import plain

_KEY = "signed_in_user"
_SIGNED_OUT = "signed_out_because"  # why the session was signed out, shown until the next sign-in


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def gate() -> users.User | None:
    """The signed-in user, or None when the dashboard is open; else stops the run at the sign-in form
    (or at the closed page, when sign-in was turned on but the database has no account)."""
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
    if _KEY in st.session_state:  # checked again on every run: a deleted account or a lowered role acts at once
        user = users.find(store, st.session_state[_KEY].name)
        if user is not None:
            st.session_state[_KEY] = user
            return user
        del st.session_state[_KEY]
        # kept in the session: two auto-refreshing parts may each rerun the app, and the second
        # run must still say why the form is back
        st.session_state[_SIGNED_OUT] = "You were signed out: your account no longer exists."
    _sign_in_form(st.session_state.get(_SIGNED_OUT))
    st.stop()


def recheck() -> None:
    """For a fragment redrawing on its own timer: if who may see the page changed, rerun the app.

    A fragment's rerun skips gate(), so without this an account deleted (or demoted, or a
    dashboard whose accounts vanished) would go on receiving fresh numbers until its next click.
    """
    if _oidc_configured():
        return
    store = loaders.store()
    access = users.access(store)
    held = st.session_state.get(_KEY)
    if access == "open":
        return
    if access == "closed" or held is None or users.find(store, held.name) != held:
        st.rerun(scope="app")


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


def _sign_in_form(notice: str | None) -> None:
    st.title("starmon")
    if notice:
        st.warning(notice, icon=":material/logout:")
    with st.form("sign-in"):
        name = st.text_input("User name", key="sign-in-name")
        password = st.text_input("Password", type="password", key="sign-in-password")
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    if submitted:
        try:
            st.session_state[_KEY] = users.sign_in(loaders.store(), name.strip(), password)
            st.session_state.pop(_SIGNED_OUT, None)
        except users.UserError as exc:
            st.error(plain(exc))
            return
        st.rerun()


def sidebar(user: users.User | None) -> None:
    """Who is signed in, and the way out."""
    if user is None:
        return
    st.sidebar.caption(f"Signed in as {plain(user.name)} ({user.role})")
    if st.sidebar.button("Sign out", key="sign-out", icon=":material/logout:"):
        st.session_state.pop(_KEY, None)
        if _oidc_configured():
            st.logout()  # sends the browser to /auth/logout; a rerun here would drop that message
            return
        st.rerun()


def may_edit(user: users.User | None) -> bool:
    """Open dashboards and admins may change clusters; viewers may not."""
    return user is None or user.is_admin


def require_admin() -> None:
    """Stop a page that changes things for anyone but an admin (also when reached by URL)."""
    if not may_edit(st.session_state.get("user")):
        st.error("Only admins can change clusters.", icon=":material/lock:")
        st.stop()
