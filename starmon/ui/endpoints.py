"""Streamlit's own endpoints that starmon refuses to answer, since no setting turns them off.

Streamlit serves a few URLs beside the app, to anyone and before any sign-in. Most are needed
(health for load balancers, host-config and static files for the page, the auth routes for
single sign-on) or are turned off in .streamlit/config.toml (README, Sign-in). `/_stcore/metrics`
has no setting, and tells a stranger how many sessions are open and which of starmon's cached
loaders run how often, i.e. when people use the dashboard and what they look at.
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

REFUSED = ("_stcore/metrics",)


class RefuseEndpoints:
    """ASGI middleware for st.App: 404 for the REFUSED paths, whatever `server.baseUrlPath` is."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and refused(scope["path"]):
            await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def refused(path: str) -> bool:
    """Whether a request path ends in a REFUSED endpoint (extra or trailing slashes make no difference)."""
    return "/".join([part for part in path.split("/") if part][-2:]) in REFUSED
