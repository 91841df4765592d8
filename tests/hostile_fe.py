"""A fake StarRocks FE (and BE) on loopback that answers whatever a test tells it to.

The emulator is faithful on purpose; this one is not. A test sets `routes` to the answers a
broken or hostile cluster might give (a body trickled a byte a second, NaN counters, 40 MiB
of /metrics, 5,000 BEs) and points a ClusterConfig at it. Its MySQL port, if asked for, only
trickles a handshake.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FE_METRICS = """# TYPE starrocks_fe_query_total counter
starrocks_fe_query_total 1000
starrocks_fe_query_err 10
starrocks_fe_query_timeout 1
starrocks_fe_request_total 2000
starrocks_fe_connection_total 7
starrocks_fe_query_latency{type="99_quantile"} 120.5
jvm_heap_size_bytes{type="used"} 1000000
jvm_heap_size_bytes{type="max"} 4000000
node_info{type="is_master"} 1
"""
BE_METRICS = """starrocks_be_cpu{mode="idle"} 900
starrocks_be_cpu{mode="user"} 100
starrocks_be_process_mem_bytes 123456789
"""


@dataclass
class Answer:
    """One HTTP answer: a body, sent whole, or one byte every `trickle` seconds."""

    body: bytes | str
    status: int = 200
    trickle: float | None = None
    length: bool = True  # send Content-Length (else the body ends when the connection closes)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlsplit(self.path)
        key = url.path
        if url.path == "/api/show_proc":
            key += "?path=" + parse_qs(url.query).get("path", [""])[0]
        self.server.requests.append(key)
        answer = self.server.routes.get(key, Answer("not found", 404))
        body = answer.body.encode() if isinstance(answer.body, str) else answer.body
        self.send_response(answer.status)
        if answer.length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        try:
            if answer.trickle is None:
                self.wfile.write(body)
                return
            for i in range(len(body)):
                if self.server.stopping.is_set():
                    return
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                self.server.stopping.wait(answer.trickle)
        except OSError:  # the client gave up on us: what the test wants to see
            self.server.hung_up.set()


class FakeNode:
    """An HTTP server on 127.0.0.1 answering `routes` (path, or show_proc path as '...?path=/x')."""

    def __init__(self, routes: dict[str, Answer] | None = None):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.routes = dict(routes or {})
        self.server.requests = []
        self.server.stopping = threading.Event()
        self.server.hung_up = threading.Event()
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def routes(self) -> dict[str, Answer]:
        return self.server.routes

    @property
    def requests(self) -> list[str]:
        return self.server.requests

    @property
    def hung_up(self) -> threading.Event:
        return self.server.hung_up

    def stop(self) -> None:
        self.server.stopping.set()
        self.server.shutdown()
        self.server.server_close()


class TrickleSocket:
    """A TCP port that accepts and then sends a byte every `every` seconds, forever: a MySQL port gone bad."""

    def __init__(self, every: float = 0.4):
        self.every = every
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.closed_by_peer = threading.Event()
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(b"\x4a")  # the first byte of a handshake packet, then nothing much
                while not self._stop.wait(self.every):
                    conn.sendall(b"\x00")
            except OSError:
                self.closed_by_peer.set()

    def stop(self) -> None:
        self._stop.set()
        self.sock.close()


def fe_row(http_port: int, **overrides) -> dict:
    return {
        "Name": "fe1",
        "IP": "127.0.0.1",
        "HttpPort": str(http_port),
        "QueryPort": "9030",
        "Role": "LEADER",
        "Alive": "true",
        "StartTime": "2026-12-01 10:00:00",
        "Version": "3.3.5-abc1234",
        **overrides,
    }


def be_row(http_port: int, backend_id: int = 10001, **overrides) -> dict:
    return {
        "BackendId": str(backend_id),
        "IP": "127.0.0.1",
        "HeartbeatPort": "9050",
        "HttpPort": str(http_port),
        "Alive": "true",
        "LastStartTime": "2026-12-01 10:00:00",
        "TabletNum": "10",
        "TotalCapacity": "1.000 TB",
        "AvailCapacity": "512.000 GB",
        "MaxDiskUsedPct": "50.00 %",
        "CpuCores": "8",
        "MemUsedPct": "10.00 %",
        "CpuUsedPct": "5.0 %",
        "NumRunningQueries": "2",
        "Version": "3.3.5-abc1234",
        **overrides,
    }


class FakeCluster:
    """An FE and one BE answering sane defaults; a test replaces the answers it wants bad."""

    def __init__(self):
        self.be = FakeNode({"/metrics": Answer(BE_METRICS)})
        self.fe = FakeNode()
        self.set_lists([fe_row(self.fe.port)], [be_row(self.be.port)])
        self.fe.routes.update(
            {
                "/api/show_proc?path=/compute_nodes": Answer("[]"),
                "/api/show_runtime_info": Answer("{}"),
                "/metrics": Answer(FE_METRICS),
            }
        )

    def set_lists(self, frontends: list[dict], backends: list[dict]) -> None:
        self.fe.routes["/api/show_proc?path=/frontends"] = Answer(json.dumps(frontends))
        self.fe.routes["/api/show_proc?path=/backends"] = Answer(json.dumps(backends))

    def stop(self) -> None:
        self.fe.stop()
        self.be.stop()


def wait_for(predicate, seconds: float) -> bool:
    """Whether `predicate()` became true within `seconds`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
