"""The connections a collector keeps to its clusters, and the event loop they live on.

Keeping them from round to round is what makes a round over hundreds of clusters cheap: one
small httpx pool and one MySQL connection per cluster, TLS contexts shared by all of them,
and a thread pool for the blocking parts (name lookups, pymysql) that a timeout cannot stop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import threading
from collections.abc import Coroutine, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

try:
    import resource
except ImportError:  # Windows
    resource = None

import httpx

from .config import ClusterConfig
from .fetch import ClusterClient, MySqlSession

log = logging.getLogger("starmon.connections")
T = TypeVar("T")
# Kept connections per cluster: one per FE and BE /metrics, up to four more to the configured
# FE (its API calls run at once) and one MySQL: 9 measured for 2 FEs + 3 BEs, with headroom.
FILES_PER_CLUSTER = 12


@functools.cache
def tls_context(verify: bool) -> ssl.SSLContext:
    """One TLS context per verify mode for the whole process: each httpx client building its own
    (with the CA bundle loaded) cost ~2 MB, 460 MiB of RSS at 200 clusters."""
    return httpx.create_ssl_context(verify=verify)


def http_client(cluster: ClusterConfig) -> httpx.AsyncClient:
    """A small connection pool for one cluster: httpcore's pool assignment scans every pooled
    connection per request, so one pool shared by hundreds of hosts went quadratic."""
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
    return httpx.AsyncClient(limits=limits, verify=tls_context(_verifies(cluster)), follow_redirects=False)


def _verifies(cluster: ClusterConfig) -> bool:
    return cluster.tls_verify or not cluster.tls


def raise_open_file_limit(wanted: int) -> int:
    """Raise this process's soft limit on open files toward `wanted` (never above the hard
    limit) and return the limit now in force.

    Services often start with a soft limit of 1024, which a collector keeping its connections
    reaches at about 100 clusters; the hard limit is usually far higher.
    """
    if resource is None:  # Windows: no such limit to raise
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return soft
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return max(soft, target)


class Connections:
    """Kept HTTP pools and MySQL sessions per cluster, on one event loop that lives as long, in a
    thread of its own: rounds are submitted to it and run side by side, so the scheduler never
    waits for a slow cluster to start the next round of a healthy one."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        # Name lookups and pymysql run in threads that a timeout cannot stop; a pool sized
        # for many clusters keeps one stuck resolver from starving every other cluster.
        self._io_pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="starmon-io")
        self._loop.set_default_executor(self._io_pool)
        self._thread = threading.Thread(target=self._loop.run_forever, name="starmon-rounds", daemon=True)
        self._thread.start()
        self._http: dict[tuple[str, bool], httpx.AsyncClient] = {}
        self._mysql: dict[ClusterConfig, MySqlSession] = {}
        self._warned_files = False

    def submit(self, work: Coroutine[Any, Any, T]) -> Future[T]:
        """Start a coroutine on the connections' event loop; its future says when it is done."""
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the connections' event loop, and wait for its end."""
        return self.submit(work).result()

    def client(self, cluster: ClusterConfig) -> ClusterClient:
        """A client for one cluster over its kept connections (made on first use)."""
        key = (cluster.name, _verifies(cluster))
        if key not in self._http:
            self._http[key] = http_client(cluster)
        if cluster not in self._mysql:
            self._mysql[cluster] = MySqlSession(cluster, self.timeout)
        return ClusterClient(cluster, self._http[key], self.timeout, self._mysql[cluster])

    def sessions(self) -> dict[ClusterConfig, MySqlSession]:
        """The kept MySQL sessions, by cluster (a copy)."""
        return dict(self._mysql)

    def kept(self) -> set[str]:
        """Names of the clusters with kept HTTP pools."""
        return {name for name, _ in self._http}

    def keep_only(self, clusters: Iterable[ClusterConfig]) -> None:
        """Close what is kept for clusters no longer collected: deleted, disabled, edited (a new
        password is a new config) or handed to another collector."""
        configs = set(clusters)
        for cluster in [c for c in self._mysql if c not in configs]:
            self._mysql.pop(cluster).close()
        keys = {(c.name, _verifies(c)) for c in configs}
        for key in [k for k in self._http if k not in keys]:
            self.run(self._http.pop(key).aclose())

    def check_open_files(self, names: Iterable[str]) -> None:
        """Raise the open-files limit for the connections of these clusters and those kept; warn once
        if it cannot be raised far enough."""
        clusters = len(self.kept() | set(names))
        needed = 256 + FILES_PER_CLUSTER * clusters
        limit = raise_open_file_limit(needed)
        if limit < needed and not self._warned_files:
            self._warned_files = True
            log.warning(
                "the open-files limit (%s) is below the ~%s that %s clusters need; raise it "
                "(ulimit -n, or LimitNOFILE= for a systemd service)",
                limit,
                needed,
                clusters,
            )

    def close(self) -> None:
        """Close every kept connection and stop the loop; closing again does nothing."""
        if self._loop.is_closed():
            return
        for client in self._http.values():
            self.run(client.aclose())
        self._http.clear()
        for session in self._mysql.values():
            session.close()
        self._mysql.clear()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()
        self._io_pool.shutdown(wait=False, cancel_futures=True)
