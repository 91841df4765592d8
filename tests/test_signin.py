"""Sign-in: accounts, roles, the rate limit, and viewers kept away from the cluster editor."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from starmon import clusters as registry
from starmon import sessions, signin, users
from starmon.secrets import Secrets
from starmon.store import Store
from starmon.ui import auth

from .fixtures import MAIN, PAGE, ROOT, add_cluster


@pytest.fixture
def store(env):
    """The dashboard's store (conftest `env`) with cluster `prod` declared."""
    add_cluster(env["store"])
    return env["store"]


@pytest.fixture
def sign_in(store, monkeypatch):
    """An AppTest of the dashboard signed in as a browser is once the sign-in page set its cookie
    (AppTest cannot send cookies: the cookie the tab connected with is patched in)."""
    key = Secrets.from_environment(store.key_file()).derive(sessions.KEY_PURPOSE)

    def signed_in(name: str, password: str) -> AppTest:
        cookie = sessions.create(store, key, users.sign_in(store, name, password).name, hours=1)
        monkeypatch.setattr(auth, "_cookie", lambda: cookie)
        return AppTest.from_file(MAIN, default_timeout=30).run()

    return signed_in


def _sent_to(at: AppTest) -> str | None:
    """Where a signed-out page sends the browser: the sign-in page's address, with where to go after."""
    links = [re.search(r"\]\((/signin\?[^)]*)\)", m.value) for m in at.markdown]
    return next((link[1] for link in links if link), None)


def test_open_without_accounts(store):
    at = AppTest.from_file(MAIN, default_timeout=30).run()
    assert not at.exception and not at.text_input
    at.switch_page(PAGE["clusters"]).run()
    assert not at.exception and at.header[0].value == "Clusters"


def test_signed_out_visitors_are_sent_to_sign_in_and_back(store):
    users.add(store, "ann", "admin", "admin-pass-1")
    at = AppTest.from_file(MAIN, default_timeout=30).run()
    assert _sent_to(at) == "/signin?next=%2F" and not at.sidebar.caption and not at.metric  # nothing else
    assert any('<meta http-equiv="refresh" content="0;url=/signin?next=%2F">' in m.value for m in at.markdown)
    at.query_params["cluster"] = "prod"
    at.query_params["range"] = "7d"
    at.switch_page(PAGE["performance"]).run()  # a deep link: the page and its query come back after sign-in
    assert _sent_to(at) == "/signin?next=%2Fperformance%3Fcluster%3Dprod%26range%3D7d"
    assert not at.exception and not at.metric


def test_viewer_cannot_reach_the_cluster_editor(store, sign_in):
    users.add(store, "ann", "admin", "admin-pass-1")
    users.add(store, "vic", "viewer", "viewer-pass-1")
    at = sign_in("vic", "viewer-pass-1")
    assert not at.exception and "Signed in as vic (viewer)" in [c.value for c in at.sidebar.caption]
    with pytest.raises(ValueError):  # not registered for a viewer, so no URL reaches it
        at.switch_page(PAGE["clusters"]).run()
    # Run the page file itself with a viewer's session: it refuses before drawing the editor.
    page = AppTest.from_file(str(ROOT / "pages" / "clusters.py"), default_timeout=30)
    page.session_state["user"] = users.User("vic", "viewer")
    page.run()
    assert [e.value for e in page.error] == ["Only admins can change clusters."] and not page.text_input
    admin = sign_in("ann", "admin-pass-1")
    admin.switch_page(PAGE["clusters"]).run()
    assert not admin.exception and admin.header[0].value == "Clusters" and admin.text_input


def _enabled(store: Store, name: str) -> bool:
    return any(r["name"] == name for r in store.enabled_clusters())


def test_a_deleted_account_or_a_lowered_role_acts_on_open_sessions(store, sign_in):
    """Signed in on the Clusters page, an admin is deleted (or made a viewer) from the command line;
    their next click on Disable changes nothing and their session ends (or loses the page)."""
    registry.add(store, Secrets.from_environment(store.key_file()), {"name": "lab", "fe_host": "10.0.0.9"})
    users.add(store, "ann", "admin", "admin-pass-1")
    users.add(store, "bob", "admin", "admin-pass-2")
    ann = sign_in("ann", "admin-pass-1")
    ann.switch_page(PAGE["clusters"]).run()
    ann.selectbox(key="edit-choice").select("lab").run()
    assert ann.button(key="toggle-enabled").label == "Disable"
    users.delete(store, "ann")
    ann.button(key="toggle-enabled").click().run()
    assert not ann.exception and _enabled(store, "lab")
    assert not ann.header and "signed_in_user" not in ann.session_state
    assert _sent_to(ann) == "/signin?next=%2Fclusters%3Fcluster%3Dlab&reason=gone"  # which the sign-in page words
    assert signin.NOTICES["gone"] == "You were signed out: your account no longer exists."
    ann.run()  # a second run (two auto-refreshing parts) still says why
    assert _sent_to(ann) == "/signin?next=%2Fclusters%3Fcluster%3Dlab&reason=gone"

    bob = sign_in("bob", "admin-pass-2")
    bob.switch_page(PAGE["clusters"]).run()
    bob.selectbox(key="edit-choice").select("lab").run()
    users.set_role(store, "bob", "viewer")
    bob.button(key="toggle-enabled").click().run()
    assert not bob.exception and _enabled(store, "lab")
    assert "Signed in as bob (viewer)" in [c.value for c in bob.sidebar.caption]
    assert not [h for h in bob.header if h.value == "Clusters"]
    with pytest.raises(ValueError):  # the page is no longer registered for bob
        bob.switch_page(PAGE["clusters"]).run()


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
    assert _sent_to(at) == "/signin?next=%2F" and not at.error
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
