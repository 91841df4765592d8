"""A small asyncio HTTP/1.1 server that can misbehave on purpose.

A hand-rolled server (rather than http.server) because the emulator needs exact control
of the bytes on the wire: truncated bodies with a lying Content-Length, garbage, stalls,
and dropping every open keep-alive connection when a node "goes down". It also serves
hundreds of emulated nodes from one event loop without a thread per socket.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    peer: str


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str | None = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False  # announce the full length, send half, then drop the connection


Handler = Callable[[Request], Awaitable[Response]]


class Listener:
    """One listening socket that can be closed (connections refused) and reopened."""

    def __init__(self, host: str, port: int, client_cb: Callable):
        self.host, self.port = host, port
        self._client_cb = client_cb
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _track(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self._client_cb(reader, writer)
        except asyncio.CancelledError:  # the emulator is stopping; the connection just ends
            pass
        finally:
            self._writers.discard(writer)

    @property
    def up(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._track, self.host, self.port, reuse_address=True)

    async def stop(self) -> None:
        """Stop listening and drop open connections, like a process that died."""
        if self._server is None:
            return
        self._server.close()
        self._server = None
        for writer in list(self._writers):
            writer.transport.abort()

    async def set_up(self, up: bool) -> None:
        await (self.start() if up else self.stop())


def http_client_cb(handler: Handler) -> Callable:
    """Wrap a request handler into an asyncio stream callback speaking HTTP/1.1 keep-alive."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = (writer.get_extra_info("peername") or ("?",))[0]
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                request, keep_alive = _parse_head(head, peer)
                if request is None:
                    await _write(writer, Response(400, b"Bad Request. <br/> malformed request", "text/html"), False)
                    return
                length = int(request.headers.get("content-length", "0") or 0)
                if length:
                    request.body = await reader.readexactly(length)
                try:
                    response = await handler(request)
                except Exception:  # a bug in a handler must not kill the emulator
                    log.exception("emulator handler failed for %s", request.path)
                    response = Response(500, b'{"status":"FAILED","code":"1","msg":"internal error"}', "text/html")
                if not await _write(writer, response, keep_alive) or not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    return serve


def _parse_head(head: bytes, peer: str) -> tuple[Request | None, bool]:
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
    except ValueError:
        return None, False
    url = urlsplit(target)
    query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    return Request(method.upper(), url.path, query, headers, b"", peer), keep_alive


async def _write(writer: asyncio.StreamWriter, response: Response, keep_alive: bool) -> bool:
    """Send a response; False when the connection must be dropped afterwards."""
    headers = [
        f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Error')}",
        f"Content-Length: {len(response.body)}",
    ]
    if response.content_type:
        headers.append(f"Content-Type: {response.content_type}")
    headers += [f"{k}: {v}" for k, v in response.headers.items()]
    headers.append("Connection: keep-alive" if keep_alive else "Connection: close")
    body = response.body[: len(response.body) // 2] if response.truncate else response.body
    writer.write(("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()
    if response.truncate:
        writer.transport.abort()
        return False
    return True
