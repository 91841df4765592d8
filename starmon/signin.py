"""The dashboard's sign-in and sign-out pages for local accounts: plain HTML served by the
dashboard's own server (`st.App(routes=...)` in app.py), beside the Streamlit pages.

A Streamlit page cannot set a cookie, so signing in happens here: the form posts the name and
password, a correct pair gets a session cookie (HttpOnly, SameSite=Lax, Secure over https,
lasting `session_hours`) and is sent on to the page it came from. The pages then read that
cookie through st.context.cookies (starmon/ui/auth.py). Both forms carry a CSRF token, an HMAC
bound to a nonce cookie (sign-in) or to the session cookie (sign-out), and a POST from another
origin is refused. Where the browser goes next is only ever a path on this server.
"""

from __future__ import annotations

import html
import secrets
from urllib.parse import urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from . import sessions, users

SIGN_IN = "/signin"
SIGN_OUT = "/signout"
NONCE_COOKIE = "starmon_signin"
# Why a page sent the browser here, shown above the form; fixed texts, never what the URL says.
NOTICES = {
    "gone": "You were signed out: your account no longer exists.",
    "ended": "Your session ended (it expired, or you signed out elsewhere). Sign in again.",
    "signed-out": "You signed out.",
}
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'"
    ),
}


def safe_next(target: str | None) -> str:
    """`target` if it is a path on this server, else "/": never an open redirect.

    Refused: anything with a scheme or host (`https://evil`, `//evil`, `/\\evil`, which browsers
    read as `//evil`), and control characters or backslashes, which browsers strip or turn around.
    """
    target = target or ""
    parts = urlsplit(target)
    if (
        not target.startswith("/")
        or target.startswith("//")
        or parts.scheme
        or parts.netloc
        or any(c == "\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in target)
    ):
        return "/"
    return target


def url(next_path: str, reason: str | None = None) -> str:
    """The sign-in page's address that leads back to `next_path` (with why the page sent it there)."""
    query = {"next": safe_next(next_path)}
    if reason in NOTICES:
        query["reason"] = reason
    return f"{SIGN_IN}?{urlencode(query)}"


def signout_form(key: bytes, cookie: str) -> str:
    """The sign-out button as a small HTML form for the sidebar, its token bound to the session."""
    token = sessions.token(key, "sign-out", cookie)
    return (
        f'<form method="post" action="{SIGN_OUT}" style="margin:0">'
        f'<input type="hidden" name="csrf" value="{html.escape(token)}">'
        '<button type="submit" style="font:inherit;padding:.25rem .75rem;border-radius:.5rem;'
        'border:1px solid rgba(49,51,63,.2);background:transparent;color:inherit;cursor:pointer">'
        "Sign out</button></form>"
    )


def routes(service) -> list[Route]:
    """The sign-in and sign-out routes for st.App, reading accounts and settings from `service`."""
    store, hours = service.store, service.config.session_hours
    key = service.secrets.derive(sessions.KEY_PURPOSE)

    async def sign_in(request: Request) -> Response:
        access = await run_in_threadpool(users.access, store)
        if request.method == "GET":
            next_path = safe_next(request.query_params.get("next"))
            if access == "open" or await run_in_threadpool(
                sessions.find, store, key, request.cookies.get(sessions.COOKIE)
            ):
                return _redirect(next_path)
            notice = NOTICES.get(request.query_params.get("reason", ""))
            return _form(request, key, next_path, notice=notice, closed=access == "closed")
        form = await request.form()
        if not _same_origin(request) or not sessions.token_ok(
            key, "sign-in", request.cookies.get(NONCE_COOKIE), _text(form, "csrf")
        ):
            return _refused()
        next_path = safe_next(_text(form, "next"))
        if access != "sign-in":
            return _redirect(next_path) if access == "open" else _form(request, key, next_path, closed=True)
        name, password = _text(form, "name").strip(), _text(form, "password")
        try:
            user = await run_in_threadpool(users.sign_in, store, name, password)
        except users.UserError as exc:
            return _form(request, key, next_path, error=str(exc), name=name, status=401)
        cookie = await run_in_threadpool(sessions.create, store, key, user.name, hours)
        response = _redirect(next_path)
        response.set_cookie(
            sessions.COOKIE,
            cookie,
            max_age=int(hours * 3600),
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
        response.delete_cookie(NONCE_COOKIE, path=SIGN_IN)
        return response

    async def sign_out(request: Request) -> Response:
        form = await request.form()
        cookie = request.cookies.get(sessions.COOKIE)
        if not _same_origin(request) or not sessions.token_ok(key, "sign-out", cookie, _text(form, "csrf")):
            return _refused()
        await run_in_threadpool(sessions.revoke, store, key, cookie)
        response = _redirect(url("/", "signed-out"))
        response.delete_cookie(sessions.COOKIE, path="/")
        return response

    return [Route(SIGN_IN, sign_in, methods=["GET", "POST"]), Route(SIGN_OUT, sign_out, methods=["POST"])]


def _text(form, field: str) -> str:
    value = form.get(field)
    return value if isinstance(value, str) else ""


def _same_origin(request: Request) -> bool:
    """Whether a POST comes from a page of this server, by its Origin header (sent by browsers on
    every POST); a request without one (a script) is left to the CSRF token."""
    origin = request.headers.get("origin")
    if origin is None:
        return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
    return urlsplit(origin).netloc == request.headers.get("host", "") and origin != "null"


def _redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303, headers=_HEADERS)


def _refused() -> HTMLResponse:
    body = "The form was not sent from this dashboard, or it is too old. Go back, reload it and try again."
    return HTMLResponse(_page("Refused", f"<p>{body}</p>"), status_code=403, headers=_HEADERS)


def _form(
    request: Request,
    key: bytes,
    next_path: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    name: str = "",
    closed: bool = False,
    status: int = 200,
) -> HTMLResponse:
    """The sign-in form, its token bound to a fresh or the browser's own nonce cookie."""
    if closed:
        body = (
            "<p class=error>Sign-in is turned on for this dashboard, but no account exists in its database, so "
            "nobody can sign in. On the server, add an account with <code>python -m starmon users add NAME "
            "--role admin</code>, or open the dashboard to everyone with <code>python -m starmon users open</code>.</p>"
        )
        return HTMLResponse(_page("starmon", body), status_code=status, headers=_HEADERS)
    nonce = request.cookies.get(NONCE_COOKIE) or secrets.token_urlsafe(16)
    esc = html.escape
    body = "".join(
        [
            f"<p class=notice>{esc(notice)}</p>" if notice else "",
            f"<p class=error role=alert>{esc(error)}</p>" if error else "",
            f'<form method="post" action="{SIGN_IN}">',
            f'<input type="hidden" name="csrf" value="{esc(sessions.token(key, "sign-in", nonce))}">',
            f'<input type="hidden" name="next" value="{esc(next_path)}">',
            f'<label>User name<input name="name" value="{esc(name)}" autocomplete="username" required autofocus>',
            "</label>",
            '<label>Password<input name="password" type="password" autocomplete="current-password" required></label>',
            "<button type=submit>Sign in</button></form>",
        ]
    )
    response = HTMLResponse(_page("Sign in · starmon", body), status_code=status, headers=_HEADERS)
    response.set_cookie(
        NONCE_COOKIE, nonce, path=SIGN_IN, secure=request.url.scheme == "https", httponly=True, samesite="strict"
    )
    return response


_STYLE = """
body{font-family:system-ui,sans-serif;background:#fff;color:#31333f;margin:0}
main{max-width:22rem;margin:12vh auto;padding:0 1rem}
h1{font-size:1.75rem;margin:0 0 1.25rem}
label{display:block;margin:0 0 .9rem;font-size:.9rem}
input{display:block;box-sizing:border-box;width:100%;margin-top:.3rem;padding:.5rem;font:inherit;
border:1px solid #d6d6d9;border-radius:.5rem}
button{font:inherit;padding:.5rem 1rem;border:0;border-radius:.5rem;background:#ff4b4b;color:#fff;cursor:pointer}
.notice{background:#fffce7;padding:.75rem;border-radius:.5rem}
.error{background:#ffecec;padding:.75rem;border-radius:.5rem}
"""


def _page(title: str, body: str) -> str:
    """A whole page with nothing loaded from anywhere (the dashboard runs air-gapped)."""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        '<meta name="viewport" content="width=device-width,initial-scale=1"><link rel="icon" href="data:,">'
        f"<style>{_STYLE}</style></head><body><main><h1>starmon</h1>{body}</main></body></html>"
    )
