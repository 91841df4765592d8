"""Browser sessions (starmon/sessions.py) and the server's sign-in and sign-out pages (starmon/signin.py),
without a browser: the store directly, and the routes through Starlette's test client."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from starmon import sessions, signin, users
from starmon.config import Config
from starmon.secrets import Secrets

KEY = b"k" * 32


@pytest.fixture
def store(env):
    return env["store"]


def test_a_session_names_its_account_until_it_expires(store):
    users.add(store, "ann", "viewer", "viewer-pass-1")
    now = time.time()
    cookie = sessions.create(store, KEY, "ann", hours=12, now=now)
    assert sessions.find(store, KEY, cookie, now=now + 1) == users.User("ann", "viewer")
    users.set_role(store, "ann", "admin")  # read again with every lookup
    assert sessions.find(store, KEY, cookie, now=now + 11.9 * 3600) == users.User("ann", "admin")
    assert sessions.find(store, KEY, cookie, now=now + 12 * 3600) is None


def test_only_the_hash_of_the_id_is_stored(store):
    users.add(store, "ann", "viewer", "viewer-pass-1")
    cookie = sessions.create(store, KEY, "ann", hours=1)
    session_id = cookie.rpartition(".")[0]
    rows = store.read(lambda conn: conn.exec_driver_sql("SELECT id_hash, user_name FROM web_sessions").all())
    assert len(rows) == 1 and rows[0].user_name == "ann" and session_id not in rows[0].id_hash
    assert session_id.encode() not in store.sqlite_path.read_bytes()


@pytest.mark.parametrize(
    "forge",
    [
        lambda c: None,
        lambda c: "",
        lambda c: "not-a-cookie",
        lambda c: c.rpartition(".")[0],  # the id without its signature
        lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"),  # signature tampered with
        lambda c: "x" + c,  # id tampered with, signature kept
        lambda c: "someone-else." + c.rpartition(".")[2],  # the signature moved to another id
        lambda c: c + "é",
    ],
)
def test_a_forged_or_tampered_cookie_names_nobody(store, forge):
    users.add(store, "ann", "viewer", "viewer-pass-1")
    cookie = sessions.create(store, KEY, "ann", hours=1)
    assert sessions.find(store, KEY, cookie) is not None
    assert sessions.find(store, KEY, forge(cookie)) is None
    assert sessions.find(store, b"another key" * 3, cookie) is None  # a new secret key ends every session


def test_revoking_and_the_account_changes_that_end_sessions(store):
    users.add(store, "ann", "viewer", "viewer-pass-1")
    first, second = (sessions.create(store, KEY, "ann", hours=1) for _ in range(2))
    sessions.revoke(store, KEY, first)  # sign-out: that session only
    assert sessions.find(store, KEY, first) is None and sessions.find(store, KEY, second) is not None
    sessions.revoke(store, KEY, "forged.cookie")  # changes nothing
    users.set_password(store, "ann", "a-new-password")  # a new password signs out every browser
    assert sessions.find(store, KEY, second) is None
    third = sessions.create(store, KEY, "ann", hours=1)
    users.delete(store, "ann")
    users.add(store, "ann", "admin", "someone-else-1")  # a new account of the same name inherits nothing
    assert sessions.find(store, KEY, third) is None


def test_expired_sessions_are_pruned_when_one_is_created(store):
    users.add(store, "ann", "viewer", "viewer-pass-1")
    now = time.time()
    sessions.create(store, KEY, "ann", hours=1, now=now - 7200)
    sessions.create(store, KEY, "ann", hours=1, now=now)
    rows = store.read(lambda conn: conn.exec_driver_sql("SELECT expires_at FROM web_sessions").all())
    assert [r.expires_at for r in rows] == [now + 3600]


def test_csrf_tokens_are_bound():
    token = sessions.token(KEY, "sign-in", "nonce-1")
    assert sessions.token_ok(KEY, "sign-in", "nonce-1", token)
    assert not sessions.token_ok(KEY, "sign-in", "nonce-2", token)
    assert not sessions.token_ok(KEY, "sign-out", "nonce-1", token)
    assert not sessions.token_ok(KEY, "sign-in", None, token) and not sessions.token_ok(KEY, "sign-in", "", "")
    assert not sessions.token_ok(KEY, "sign-in", "nonce-1", "é")


@pytest.mark.parametrize(
    ("asked", "allowed"),
    [
        ("/performance?cluster=prod&range=7d", "/performance?cluster=prod&range=7d"),
        ("/", "/"),
        ("/data?cluster=a%2Fb", "/data?cluster=a%2Fb"),
        ("//evil.example/x", "/"),
        ("///evil.example", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("/%0a", "/%0a"),  # percent-encoded stays a path
        ("", "/"),
        (None, "/"),
    ],
)
def test_next_is_only_ever_a_path_here(asked, allowed):
    assert signin.safe_next(asked) == allowed


# -- the routes -------------------------------------------------------------------------------------


@pytest.fixture
def client(store):
    service = SimpleNamespace(
        store=store, config=Config(db_url="", session_hours=2), secrets=Secrets.from_environment(store.key_file())
    )
    with TestClient(Starlette(routes=signin.routes(service)), base_url="http://dash.test") as test_client:
        test_client.key = service.secrets.derive(sessions.KEY_PURPOSE)
        yield test_client


def _form(client, next_path: str = "/") -> str:
    """The sign-in page's CSRF token (its nonce cookie stays in the client)."""
    page = client.get("/signin", params={"next": next_path})
    assert page.status_code == 200 and "no-store" in page.headers["cache-control"]
    return re.search(r'name="csrf" value="([^"]+)"', page.text)[1]


def _post(client, name: str, password: str, next_path: str = "/", **headers):
    """Sign in through the form, as a browser without a session would."""
    client.cookies.delete(sessions.COOKIE)
    token = _form(client, next_path)
    data = {"csrf": token, "next": next_path, "name": name, "password": password}
    return client.post("/signin", data=data, headers={"origin": "http://dash.test", **headers}, follow_redirects=False)


def test_signing_in_sets_the_session_cookie_and_goes_back(client, store):
    users.add(store, "ann", "viewer", "viewer-pass-1")
    answer = _post(client, "ann", "viewer-pass-1", "/performance?cluster=prod&range=7d")
    assert answer.status_code == 303 and answer.headers["location"] == "/performance?cluster=prod&range=7d"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{sessions.COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=7200" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # http here; https sets it
    value = cookie.split(";")[0].split("=", 1)[1]
    assert sessions.find(store, client.key, value) == users.User("ann", "viewer")
    assert client.get("/signin", params={"next": "/data"}, follow_redirects=False).headers["location"] == "/data"


def test_wrong_passwords_the_rate_limit_and_no_password_echoed(client, store):
    users.add(store, "ann", "viewer", "viewer-pass-1")
    wrong = _post(client, "ann", "not-the-password")
    assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
    assert "not-the-password" not in wrong.text and sessions.COOKIE not in wrong.headers.get("set-cookie", "")
    assert "wrong user name or password" in _post(client, "nobody", "whatever-123").text
    for _ in range(users.MAX_FAILURES - 1):
        _post(client, "ann", "still-wrong")
    limited = _post(client, "ann", "viewer-pass-1")
    assert limited.status_code == 401 and "too many failed sign-ins" in limited.text
    later = users.sign_in(store, "ann", "viewer-pass-1", now=time.time() + users.FAILURE_WINDOW_SECONDS + 1)
    assert later == users.User("ann", "viewer")


def test_csrf_and_origin_are_checked(client, store):
    users.add(store, "ann", "viewer", "viewer-pass-1")
    data = {"next": "/", "name": "ann", "password": "viewer-pass-1"}
    assert client.post("/signin", data=data).status_code == 403  # no token
    assert client.post("/signin", data={**data, "csrf": _form(client)[::-1]}).status_code == 403
    assert _post(client, "ann", "viewer-pass-1", origin="http://evil.example").status_code == 403
    assert _post(client, "ann", "viewer-pass-1", origin="null").status_code == 403
    token = _form(client)
    client.cookies.clear()  # a token without the nonce cookie it is bound to
    assert client.post("/signin", data={**data, "csrf": token}).status_code == 403


def test_escaped_text_and_open_redirects_refused(client, store):
    users.add(store, "ann", "viewer", "viewer-pass-1")
    hostile = '"><script>alert(1)</script>'
    page = client.get("/signin", params={"next": "/" + hostile, "reason": hostile})
    assert "<script>" not in page.text and hostile not in page.text
    assert "&lt;script&gt;" in page.text  # next, escaped in its hidden field; the reason shows nothing
    assert _post(client, "ann", "viewer-pass-1", "//evil.example").headers["location"] == "/"
    assert _post(client, "ann", "viewer-pass-1", "https://evil.example").headers["location"] == "/"
    client.cookies.delete(sessions.COOKIE)
    assert "your account no longer exists" in client.get("/signin", params={"reason": "gone"}).text


def test_signing_out_ends_the_session_and_clears_the_cookie(client, store):
    users.add(store, "ann", "viewer", "viewer-pass-1")
    assert _post(client, "ann", "viewer-pass-1").status_code == 303
    cookie = client.cookies[sessions.COOKIE]
    assert client.post("/signout", data={"csrf": "wrong"}).status_code == 403
    assert sessions.find(store, client.key, cookie) is not None
    token = re.search(r'value="([^"]+)"', signin.signout_form(client.key, cookie))[1]
    refused = client.post("/signout", data={"csrf": token}, headers={"origin": "http://evil.example"})
    assert refused.status_code == 403
    out = client.post("/signout", data={"csrf": token}, headers={"origin": "http://dash.test"}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/signin?next=%2F&reason=signed-out"
    assert f'{sessions.COOKIE}=""' in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
    assert sessions.find(store, client.key, cookie) is None


def test_open_and_closed_dashboards(client, store):
    assert client.get("/signin", params={"next": "/data"}, follow_redirects=False).headers["location"] == "/data"
    users.add(store, "ann", "viewer", "viewer-pass-1")
    users.delete(store, "ann")  # sign-in was turned on, and no account is left
    closed = client.get("/signin")
    assert "no account exists" in closed.text and "<form" not in closed.text
