"""Sign-in: accounts, roles, the rate limit, and viewers kept away from the cluster editor."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from starmon import clusters as registry
from starmon import users
from starmon.secrets import Secrets
from starmon.store import Store

from .fixtures import MAIN, PAGE, ROOT, add_cluster


@pytest.fixture
def store(env):
    """The dashboard's store (conftest `env`) with cluster `prod` declared."""
    add_cluster(env["store"])
    return env["store"]


def _sign_in(name: str, password: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=30).run()
    at.text_input(key="sign-in-name").input(name)
    at.text_input(key="sign-in-password").input(password)
    return at.button[0].click().run()


def test_open_without_accounts(store):
    at = AppTest.from_file(MAIN, default_timeout=30).run()
    assert not at.exception and not at.text_input
    at.switch_page(PAGE["clusters"]).run()
    assert not at.exception and at.header[0].value == "Clusters"


def test_viewer_cannot_reach_the_cluster_editor(store):
    users.add(store, "ann", "admin", "admin-pass-1")
    users.add(store, "vic", "viewer", "viewer-pass-1")
    at = AppTest.from_file(MAIN, default_timeout=30).run()
    assert [t.label for t in at.text_input] == ["User name", "Password"]  # signed out: only the form
    at = _sign_in("vic", "viewer-pass-1")
    assert not at.exception and "Signed in as vic (viewer)" in [c.value for c in at.sidebar.caption]
    with pytest.raises(ValueError):  # not registered for a viewer, so no URL reaches it
        at.switch_page(PAGE["clusters"]).run()
    # Run the page file itself with a viewer's session: it refuses before drawing the editor.
    page = AppTest.from_file(str(ROOT / "pages" / "clusters.py"), default_timeout=30)
    page.session_state["user"] = users.User("vic", "viewer")
    page.run()
    assert [e.value for e in page.error] == ["Only admins can change clusters."] and not page.text_input
    admin = _sign_in("ann", "admin-pass-1")
    admin.switch_page(PAGE["clusters"]).run()
    assert not admin.exception and admin.header[0].value == "Clusters" and admin.text_input


def _enabled(store: Store, name: str) -> bool:
    return any(r["name"] == name for r in store.enabled_clusters())


def test_a_deleted_account_or_a_lowered_role_acts_on_open_sessions(store):
    """Signed in on the Clusters page, an admin is deleted (or made a viewer) from the command line;
    their next click on Disable changes nothing and their session ends (or loses the page)."""
    registry.add(store, Secrets.from_environment(store.key_file()), {"name": "lab", "fe_host": "10.0.0.9"})
    users.add(store, "ann", "admin", "admin-pass-1")
    users.add(store, "bob", "admin", "admin-pass-2")
    ann = _sign_in("ann", "admin-pass-1")
    ann.switch_page(PAGE["clusters"]).run()
    ann.selectbox(key="edit-choice").select("lab").run()
    assert ann.button(key="toggle-enabled").label == "Disable"
    users.delete(store, "ann")
    ann.button(key="toggle-enabled").click().run()
    assert not ann.exception and _enabled(store, "lab")
    assert [t.label for t in ann.text_input] == ["User name", "Password"] and not ann.header
    assert [w.value for w in ann.warning] == ["You were signed out: your account no longer exists."]
    assert "signed_in_user" not in ann.session_state

    bob = _sign_in("bob", "admin-pass-2")
    bob.switch_page(PAGE["clusters"]).run()
    bob.selectbox(key="edit-choice").select("lab").run()
    users.set_role(store, "bob", "viewer")
    bob.button(key="toggle-enabled").click().run()
    assert not bob.exception and _enabled(store, "lab")
    assert "Signed in as bob (viewer)" in [c.value for c in bob.sidebar.caption]
    assert not [h for h in bob.header if h.value == "Clusters"]
    with pytest.raises(ValueError):  # the page is no longer registered for bob
        bob.switch_page(PAGE["clusters"]).run()


def test_wrong_password_and_the_rate_limit(store):
    users.add(store, "ann", "admin", "admin-pass-1")
    at = _sign_in("ann", "not-the-password")
    assert [e.value for e in at.error] == ["wrong user name or password"]
    assert "signed_in_user" not in at.session_state
    at = _sign_in("nobody", "whatever-123")  # unknown names get the same answer
    assert [e.value for e in at.error] == ["wrong user name or password"]
    for _ in range(users.MAX_FAILURES - 1):
        _sign_in("ann", "still-wrong")
    at = _sign_in("ann", "admin-pass-1")  # even the right password waits now
    assert at.error and "too many failed sign\\-ins" in at.error[0].value
    assert "signed_in_user" not in at.session_state
    later = users.sign_in(store, "ann", "admin-pass-1", now=time.time() + users.FAILURE_WINDOW_SECONDS + 1)
    assert later == users.User("ann", "admin")


def test_concurrent_guesses_are_checked_at_most_max_failures_times(db_url, tmp_path, monkeypatch):
    """50 wrong passwords for one name at once, from 50 threads with their own connections: the
    count is taken and the attempt recorded in one serialised transaction, so only MAX_FAILURES
    reach the password check and the rest are refused as rate-limited."""
    monkeypatch.setenv("STARMON_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    store = Store(db_url)
    try:
        users.add(store, "ann", "admin", "admin-pass-1")
        start = threading.Barrier(50)
        answers: list[str] = []

        def guess(i: int) -> None:
            start.wait()
            try:
                users.sign_in(store, "ann", f"guess-{i:02d}")
                answers.append("signed in")
            except users.UserError as exc:
                answers.append(str(exc))

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        checked = answers.count("wrong user name or password")
        refused = sum(a.startswith("too many failed sign-ins") for a in answers)
        assert (len(answers), checked, refused) == (50, users.MAX_FAILURES, 50 - users.MAX_FAILURES), answers
        with pytest.raises(users.UserError, match="too many"):  # the right password waits too
            users.sign_in(store, "ann", "admin-pass-1")
    finally:
        store.close()


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "starmon", "users", *args],
        cwd=ROOT,
        env={**os.environ},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_lost_database_closes_the_dashboard_instead_of_opening_it(store, tmp_path, monkeypatch):
    """Sign-in was turned on, then the dashboard finds an empty database (a new STARMON_DB_URL):
    a visitor sees only the closed page, until `users add` or `users open` says what to do."""
    assert _cli("add", "ann", "--role", "admin", "--password-stdin", stdin="admin-pass-1\n").returncode == 0
    assert users.marker(store) == tmp_path / "sign-in.required" and users.marker(store).exists()
    monkeypatch.setenv("STARMON_DB_URL", f"sqlite:///{tmp_path / 'replaced.db'}")
    st.cache_resource.clear()
    at = AppTest.from_file(MAIN, default_timeout=30).run()
    assert not at.exception and not at.text_input and not at.tabs and not at.sidebar.caption
    assert [e.value for e in at.error] == [
        "Sign-in is turned on for this dashboard, but no account exists in its database, so nobody can sign in. "
        "The database was lost or replaced, or `STARMON_DB_URL` names a new one. On the server, add an account "
        "with `python -m starmon users add NAME --role admin`, or open the dashboard to everyone with "
        "`python -m starmon users open`."
    ]
    at.switch_page(PAGE["clusters"]).run()  # a link to the editor gets the same page
    assert not at.exception and not at.header and not at.text_input and len(at.error) == 1

    assert _cli("add", "bob", "--password-stdin", stdin="viewer-pass-1\n").returncode == 0  # reopens to sign-in
    at = AppTest.from_file(MAIN, default_timeout=30).run()
    assert [t.label for t in at.text_input] == ["User name", "Password"] and not at.error
    refused = _cli("open")
    assert refused.returncode == 2 and "accounts exist" in refused.stderr and users.marker(store).exists()
    last = _cli("delete", "bob")
    assert "no account is left" in last.stdout
    assert AppTest.from_file(MAIN, default_timeout=30).run().error  # closed again, not open
    assert _cli("open").returncode == 0 and not users.marker(store).exists()
    at = AppTest.from_file(MAIN, default_timeout=30).run()
    at.switch_page(PAGE["clusters"]).run()
    assert not at.exception and at.header[0].value == "Clusters"  # open, as asked


def test_the_marker_follows_the_key_file(store, tmp_path, monkeypatch):
    monkeypatch.setenv("STARMON_SECRET_KEY_FILE", str(tmp_path / "keys" / "secret.key"))
    users.add(store, "ann", "admin", "admin-pass-1")
    assert (tmp_path / "keys" / "sign-in.required").exists() and not (tmp_path / "sign-in.required").exists()
    (tmp_path / "keys" / "sign-in.required").unlink()  # a dashboard that finds accounts puts it back
    assert users.access(store) == "sign-in" and (tmp_path / "keys" / "sign-in.required").exists()


def test_hashes_are_salted_and_slow(store):
    first, second = users.hash_password("same-password"), users.hash_password("same-password")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert users.verify_password("same-password", first) and not users.verify_password("other", first)
    assert not users.verify_password("same-password", "garbage")
    with pytest.raises(users.UserError, match="at least 8"):
        users.add(store, "x", "viewer", "short")
    with pytest.raises(users.UserError, match="role"):
        users.add(store, "x", "root", "long-enough")


def test_users_cli(store):
    result = _cli("add", "carol", "--role", "admin", "--password-stdin", stdin="carol-pass-9\n")
    assert result.returncode == 0 and result.stdout.strip() == "added carol (admin)"
    assert _cli("list").stdout.strip() == "carol\tadmin"
    assert _cli("role", "carol", "viewer").stdout.strip() == "carol is now viewer"
    assert _cli("list").stdout.strip() == "carol\tviewer"
    assert "carol-pass-9" not in open(store.sqlite_path, "rb").read().decode("latin-1")
    bad = _cli("add", "carol", "--password-stdin", stdin="another-pass\n")
    assert bad.returncode == 2 and bad.stderr.strip() == "starmon: user 'carol' already exists"
    assert _cli("delete", "carol").returncode == 0 and _cli("list").stdout == ""
    # no account left: the list is empty, and says what that means rather than nothing
    assert "no accounts: the dashboard is closed" in _cli("list").stderr
