"""I/O with a StarRocks cluster: FE/BE HTTP through httpx, SQL through pymysql.

Only fetching happens here. Every failure becomes a `FetchError` whose message a person
can read ("connection refused", "timed out after 5 s", "HTTP 500") and which never
contains a password.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import json
import socket
import ssl
import threading

import httpx
import pymysql

from . import parse
from .config import ClusterConfig, url_host

# The most starmon reads of one answer, decompressed: far above what a real node sends (an FE with
# ~50,000 lines of per-table metrics sends ~6 MiB, 5,000 BEs in show_proc ~5 MiB), and low enough
# that a hostile or broken endpoint cannot take the collector's memory (a 300 MB body did: 1.9 GB).
MAX_METRICS_BYTES = 32 * 1024 * 1024
MAX_JSON_BYTES = 16 * 1024 * 1024
# Samples of the metric names starmon reads, per answer: a real node sends a few hundred of them.
MAX_SAMPLES = 50_000


class FetchError(Exception):
    """One endpoint could not be read; str() is a short, readable reason."""


class Forbidden(FetchError):
    """The FE refused the request for this user (401), e.g. show_proc without admin."""


def _root_os_error(exc: BaseException) -> OSError | None:
    """The OSError underneath an httpx exception, if there is one."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def describe_http_error(exc: Exception, timeout: float) -> str:
    """A short reason for an httpx failure."""
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        root = _root_os_error(exc)
        text = f"{exc} {root or ''}".lower()
        if isinstance(root, socket.gaierror) or "name or service" in text or "nodename" in text:
            return "host name does not resolve"
        if (
            (root is not None and root.errno == errno.ECONNREFUSED)
            or "refused" in text
            or "all connection attempts failed" in text
        ):
            return "connection refused"
        if "certificate" in text or "ssl" in text:
            return f"TLS error: {exc}"
        return f"cannot connect: {exc}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection closed before the full response arrived"
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__}: {exc}"
    return str(exc)


def describe_mysql_error(exc: Exception) -> str:
    """A short reason for a pymysql failure."""
    if isinstance(exc, pymysql.err.OperationalError) and exc.args:
        code = exc.args[0]
        text = str(exc.args[1]) if len(exc.args) > 1 else ""
        if code == 2003:
            if "refused" in text.lower():
                return "connection refused"
            if "timed out" in text.lower():
                return "timed out connecting"
            if any(k in text.lower() for k in ("name or service", "nodename", "name resolution")):
                return "host name does not resolve"
            return "cannot connect"
        if code == 1045:
            return "access denied (check user and password)"
        if code in (2013, 2006):
            return "connection lost during the query"
        return f"error {code}: {text}"
    if isinstance(exc, pymysql.err.MySQLError) and exc.args:
        return f"error {exc.args[0]}: {exc.args[1] if len(exc.args) > 1 else ''}".strip()
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"


async def resolve(host: str, timeout: float) -> list[str]:
    """Addresses of a host; FetchError if it does not resolve within the timeout.

    The lookup runs in a thread, so an IP literal (the usual way clusters are configured)
    is answered without one: at hundreds of clusters per round the hops add up.
    """
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM), timeout
        )
    except TimeoutError:
        raise FetchError(f"timed out resolving {host}") from None
    except OSError:
        raise FetchError("host name does not resolve") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


async def _read_at_most(response: httpx.Response, limit: int) -> bytes:
    """The whole body, or FetchError as soon as it is known to exceed `limit` bytes."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchError(
            f"answer of {int(declared) / 2**20:,.0f} MiB is larger than the {limit // 2**20} MiB starmon reads"
        )
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise FetchError(f"answer is larger than the {limit // 2**20} MiB starmon reads")
        chunks.append(chunk)
    return b"".join(chunks)


class ClusterClient:
    """Reads one cluster's FE and BE endpoints. The httpx client is injected and shared.

    `http` may be None for a client that only runs SQL (the statistics pass).
    """

    def __init__(
        self, cluster: ClusterConfig, http: httpx.AsyncClient | None, timeout: float, mysql: MySqlSession | None = None
    ):
        self.cluster = cluster
        self.http = http
        self.timeout = timeout
        self.mysql = mysql  # a connection kept between rounds; None: connect for each call
        self._auth = (cluster.user, cluster.password)

    async def _get(self, url: str, *, auth: bool, limit: int, params: dict | None = None) -> str:
        """The body of a 200 answer as text, read whole within the timeout and at most `limit` bytes.

        httpx's own timeouts apply per network read, so an endpoint trickling one byte a second
        never trips them: the deadline here covers the whole request, pool wait to last byte.
        """
        if self.http is None:
            raise RuntimeError("this ClusterClient was made for SQL only")
        try:
            async with asyncio.timeout(self.timeout):
                async with self.http.stream(
                    "GET", url, params=params, auth=self._auth if auth else None, timeout=self.timeout
                ) as response:
                    if response.status_code == 401:
                        raise Forbidden("HTTP 401: the FE refused this user")
                    if response.status_code != 200:
                        raise FetchError(f"HTTP {response.status_code}")
                    body = await _read_at_most(response, limit)
        except TimeoutError:
            raise FetchError(f"timed out after {self.timeout:g} s") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FetchError(describe_http_error(exc, self.timeout)) from None
        return body.decode("utf-8", errors="replace")

    async def show_proc(self, path: str) -> list[dict[str, str]]:
        """Rows of `/api/show_proc?path=...` keyed by column name (both body shapes)."""
        body = await self._get(
            f"{self.cluster.http_base}/api/show_proc", auth=True, limit=MAX_JSON_BYTES, params={"path": path}
        )
        try:
            return parse.proc_rows(json.loads(body), path)
        except (json.JSONDecodeError, RecursionError):
            raise FetchError("the FE sent a body that is not JSON") from None
        except ValueError as exc:  # not rows: the caller names the path
            raise FetchError(str(exc)) from None

    async def addresses(self) -> list[str]:
        """Addresses of the configured FE (to tell which FE of the lists it is)."""
        return await resolve(self.cluster.fe_host, self.timeout)

    async def runtime_info(self) -> dict:
        """`/api/show_runtime_info` of the configured FE (no auth needed)."""
        body = await self._get(f"{self.cluster.http_base}/api/show_runtime_info", auth=False, limit=MAX_JSON_BYTES)
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, RecursionError):
            raise FetchError("the FE sent a body that is not JSON") from None
        if not isinstance(data, dict):
            raise FetchError("expected a JSON object")
        return data

    async def metrics(self, host: str, port: int, *, fe: bool, only: frozenset[str] | None = None) -> parse.MetricSet:
        """Parsed `/metrics` of one FE or BE (only the names in `only`, if given); an unreadable body is an error."""
        scheme = "https" if fe and self.cluster.tls else "http"
        body = await self._get(f"{scheme}://{url_host(host)}:{port}/metrics", auth=False, limit=MAX_METRICS_BYTES)
        metrics = parse.parse_prometheus(body, only, MAX_SAMPLES)
        if metrics.truncated:
            raise FetchError(f"/metrics holds more than {MAX_SAMPLES:,} series of the metrics starmon reads")
        if not len(metrics):
            raise FetchError(
                "/metrics body holds none of the metrics starmon reads"
                if metrics.skipped
                else "/metrics body holds no metrics"
            )
        if metrics.bad_lines:
            raise FetchError(f"/metrics body is damaged ({metrics.bad_lines} unreadable lines)")
        return metrics

    async def sql(self, statements: list[str]) -> list[list[dict] | FetchError]:
        """Run statements on one MySQL connection; each result is rows or its error.

        The host is resolved first under the timeout, because pymysql's connect_timeout
        does not cover name resolution (a slow resolver would stall the round). pymysql's
        timeouts, like httpx's, apply per read, so the whole call has a deadline too; an FE
        that misses it has its socket shut, which frees the worker thread blocked on it.
        """
        address = (await resolve(self.cluster.fe_host, self.timeout))[0]
        session = self.mysql or MySqlSession(self.cluster, self.timeout)
        deadline = self.timeout * (2 + len(statements))
        try:
            results = await asyncio.wait_for(asyncio.to_thread(session.run, address, statements), deadline)
        except TimeoutError:
            session.abort()  # the thread then fails its read and closes what it opened
            raise FetchError(f"no complete answer within {deadline:g} s") from None
        except asyncio.CancelledError:  # the round's own deadline came first
            session.abort()
            raise
        if self.mysql is None:
            session.close()
        return results


_LOST = (2006, 2013)  # server gone away, lost connection during query


class _Connection(pymysql.connections.Connection):
    """pymysql's connection, with one TLS context shared by all for its opportunistic TLS.

    With no TLS options pymysql tries TLS if the FE offers it ("preferred" mode, unverified),
    and builds a fresh default context for that on every connection, CA store loaded or not:
    ~0.8 MB and ~18 ms each, 160 MiB for 200 kept connections, even when no FE offers TLS.
    """

    _preferred: ssl.SSLContext | None = None

    def _create_ssl_ctx(self, sslp):
        if sslp:  # explicit options: pymysql's own handling
            return super()._create_ssl_ctx(sslp)
        if _Connection._preferred is None:  # a benign race: the loser's context is dropped
            _Connection._preferred = super()._create_ssl_ctx(sslp)
        return _Connection._preferred

    def shut(self) -> None:
        """Shut the socket down, from any thread: a read blocked on it fails at once."""
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # already closed: nothing is blocked on it
                pass


class MySqlSession:
    """One MySQL connection to a cluster's FE, kept open between rounds.

    The MySQL handshake costs far more than a query (about 24 ms against 0.1 ms on
    loopback here), so a collector watching hundreds of clusters keeps one connection
    each. A connection found dead (FE restart, network) is reopened once per call.
    """

    def __init__(self, cluster: ClusterConfig, timeout: float):
        self.cluster = cluster
        self.timeout = timeout
        self._conn = None
        self._active: _Connection | None = None  # the connection in use, even mid-handshake, for abort()
        self._lock = threading.Lock()

    def _connect(self, address: str):
        """A new connection, in reach of abort() from its handshake on."""
        conn = _Connection(
            host=address,
            port=self.cluster.query_port,
            user=self.cluster.user,
            password=self.cluster.password,
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            write_timeout=self.timeout,
            cursorclass=pymysql.cursors.DictCursor,
            autocommit=True,
            defer_connect=True,
        )
        self._active = conn
        try:
            conn.connect()
        except Exception as exc:  # every driver failure becomes a readable reason
            self._active = None
            raise FetchError(describe_mysql_error(exc)) from None
        return conn

    def run(self, address: str, statements: list[str]) -> list[list[dict] | FetchError]:
        """Each statement's rows, or its error; FetchError if the FE cannot be reached at all."""
        if not self._lock.acquire(timeout=self.timeout):
            raise FetchError("the previous query on this connection has not finished")
        try:
            reused = self._conn is not None
            if self._conn is None:
                self._conn = self._connect(address)
            results = self._execute(statements)
            if reused and results and isinstance(results[0], FetchError) and self._conn is None:
                self._conn = self._connect(address)  # the kept connection had died: one fresh try
                results = self._execute(statements)
            return results
        finally:
            self._lock.release()

    @property
    def is_open(self) -> bool:
        """Whether a connection is kept open."""
        return self._conn is not None

    @property
    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS context the kept connection was given (None without one)."""
        return getattr(self._conn, "ctx", None)

    def abort(self) -> None:
        """Shut the socket a call is blocked on (from another thread): its read fails at once."""
        active = self._active
        if active is not None:
            active.shut()

    def _execute(self, statements: list[str]) -> list[list[dict] | FetchError]:
        results: list[list[dict] | FetchError] = []
        try:
            with self._conn.cursor() as cur:
                for statement in statements:
                    try:
                        cur.execute(statement)
                        results.append(list(cur.fetchall()))
                    except pymysql.err.MySQLError as exc:
                        results.append(FetchError(f"{statement.split()[0].upper()}: {describe_mysql_error(exc)}"))
                        if isinstance(exc, pymysql.err.OperationalError) and exc.args and exc.args[0] in _LOST:
                            self.close()
                            break
        except (OSError, pymysql.err.MySQLError):  # the connection broke outside a statement
            self.close()
        results += [FetchError("not run: connection lost")] * (len(statements) - len(results))
        return results

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # closing a dead connection may itself fail; it is gone either way
                pass
            self._conn = self._active = None
