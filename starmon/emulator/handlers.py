"""FE and BE HTTP endpoints, with StarRocks' auth rules and the active fault switches."""

from __future__ import annotations

import asyncio
import base64
import json
import os

from . import exposition, proc
from .httpserver import Request, Response
from .model import ClusterModel, Node

ADMIN_USER = "root"
MONITOR_USER = "monitor"  # a valid user without the admin role: show_proc answers 401


def _failed(msg: str | None) -> bytes:
    """RestBaseResult as Gson writes it: null fields dropped (REFERENCE.md §6.3)."""
    body = {"status": "FAILED", "code": "1"}
    if msg is not None:
        body.update(msg=msg, message=msg)
    return json.dumps(body, separators=(",", ":")).encode()


class Users:
    """The emulated cluster's accounts: name -> password."""

    def __init__(self, admin_password: str = "", monitor_password: str = "monitor"):
        self.passwords = {ADMIN_USER: admin_password, MONITOR_USER: monitor_password}

    def check_basic(self, request: Request) -> tuple[str | None, str | None]:
        """(user, None) when the Basic credentials are valid, else (None, error message)."""
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None, "Need auth information."
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, "Need auth information."
        name = user.split("@")[0]
        if self.passwords.get(name) != password:
            return None, f"Access denied for {name}@{request.peer}"
        return name, None


def _corrupt(model: ClusterModel, response: Response) -> Response:
    """Apply the truncated/garbage body fault to a successful answer."""
    if response.status != 200 or model.faults.bad_body is None:
        return response
    if model.faults.bad_body == "truncated":
        response.truncate = True
        return response
    response.body = b"\x00\xff<html>" + os.urandom(64) + b"\n{{garbage"
    return response


async def _delay(model: ClusterModel) -> None:
    """The answer's latency: the workload's normal response time plus any slow fault."""
    delay = model.faults.slow_seconds + model.workload.response_ms / 1000
    if delay:
        await asyncio.sleep(delay)


def fe_handler(model: ClusterModel, fe: Node, users: Users):
    """Request handler for one FE's HTTP port."""

    async def handle(request: Request) -> Response:
        await _delay(model)
        t = model.now()
        if request.path == "/metrics":
            if model.faults.http_500:
                return Response(500, _failed("Internal Server Error"), "text/html")
            return _corrupt(model, Response(200, exposition.fe_metrics(model, fe, t).encode(), "text/plain"))
        if request.path == "/api/show_runtime_info":
            if model.faults.http_500:
                return Response(500, _failed("Internal Server Error"), "text/html")
            return Response(200, json.dumps(proc.runtime_info(model, fe, t)).encode(), "application/json")
        user, error = users.check_basic(request)
        if request.path == "/api/show_proc":
            if user is None:
                return Response(401, _failed(error), "text/html", {"WWW-Authenticate": 'Basic realm=""'})
            if user != ADMIN_USER or model.faults.proc_forbidden:
                return Response(401, _failed(None), "text/html", {"WWW-Authenticate": 'Basic realm=""'})
            if model.faults.http_500:
                return Response(500, _failed("Internal Server Error"), "text/html")
            path = request.query.get("path", "/")
            if proc.show_proc(model, fe, path, t) is None:  # unknown path: 200, `[]`, no content type
                return Response(200, b"[]", None)
            return _corrupt(model, Response(200, proc.proc_body(model, fe, path, t), "application/json"))
        if user is None:
            return Response(
                401,
                f"Authentication Failed. <br/> {error}".encode(),
                "text/html",
                {"WWW-Authenticate": 'Basic realm=""'},
            )
        return Response(404, b"<html><body>this is 404 page.</body></html>", "text/html")

    return handle


def be_handler(model: ClusterModel, be: Node):
    """Request handler for one BE's (or CN's) HTTP port."""

    async def handle(request: Request) -> Response:
        await _delay(model)
        if request.path == "/metrics":
            body = exposition.be_metrics(model, be, model.now()).encode()
            return Response(200, body, "text/plain; version=0.0.4")
        return Response(404, b"Not Found", "text/plain")

    return handle
