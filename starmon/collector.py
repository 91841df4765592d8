"""The collector: every `interval_seconds`, one concurrent round over all enabled clusters.

Clusters are collected concurrently and each is stored as soon as it is done, so a slow
or dead cluster never holds back the others. Only one collector writes to a database at
a time (a file lock the OS frees if the holder dies); a second one says so and waits.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

try:
    import resource
except ImportError:  # Windows
    resource = None

import httpx
import schedule

from . import rollup
from .aggregate import MAX_DELTA_GAP_SECONDS, build_round, unread_round
from .clusters import UNDECRYPTABLE, collectable, undecryptable
from .collect import fetch_round, fetch_statistics
from .config import ClusterConfig, Config, ConfigError, load_config
from .fetch import ClusterClient, MySqlSession
from .leases import Leases
from .readings import PreviousRound, Status
from .secrets import SecretError, Secrets
from .store import DatabaseLost, LeaseLost, Store, StoreError, safe_url, short_error

log = logging.getLogger("starmon.collector")
MAINTENANCE_SECONDS = 600  # rollups and retention: cheap, but no need to run every round
# Kept connections per cluster: one per FE and BE /metrics, up to four more to the configured
# FE (its API calls run at once) and one MySQL: 9 measured for 2 FEs + 3 BEs, with headroom.
FILES_PER_CLUSTER = 12


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


@dataclass(frozen=True)
class ClusterResult:
    """What one cluster's round came to, as `--once` prints it."""

    name: str
    status: str
    collect_ms: int
    reason: str | None

    def line(self) -> str:
        return f"{self.name}: {self.status} in {self.collect_ms} ms" + (f" ({self.reason})" if self.reason else "")


class Collector:
    """Runs collection rounds and statistics passes against one store.

    The HTTP client and the event loop live as long as the collector, so keep-alive
    connections to FEs and BEs are reused from round to round.
    """

    def __init__(
        self, config: Config, store: Store, clock: Callable[[], float] = time.time, secrets: Secrets | None = None
    ):
        self.config = config
        self.store = store
        self.secrets = secrets or Secrets.from_environment(store.key_file())
        self.clock = clock
        self._runner = asyncio.Runner()
        # Name lookups and pymysql run in threads that a timeout cannot stop; a pool sized
        # for many clusters keeps one stuck resolver from starving every other cluster.
        self._io_pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="starmon-io")
        self._runner.get_loop().set_default_executor(self._io_pool)
        # One small connection pool per cluster: httpcore's pool assignment scans every pooled
        # connection per request, so a single pool shared by hundreds of hosts went quadratic.
        self._http: dict[tuple[str, bool], httpx.AsyncClient] = {}
        # One TLS context per verify mode, shared by every client: each client building its own
        # (with the CA bundle loaded) cost ~2 MB, 460 MiB of RSS at 200 clusters.
        self._tls = {verify: httpx.create_ssl_context(verify=verify) for verify in (True, False)}
        self._mysql: dict[ClusterConfig, MySqlSession] = {}  # one kept connection per cluster
        # The round this collector last stored per cluster, so counter deltas need no read of it
        # back (reading it cost more than parsing the round). A round stored by someone else in
        # between (the dashboard's Refresh) only makes the next rate's window longer, not wrong.
        self._previous: dict[int, PreviousRound] = {}
        self._stop = threading.Event()
        self._jobs: dict[str, threading.Thread] = {}
        self.leases: Leases | None = None  # set by run_forever on a server database
        self._warned_files = False

    @staticmethod
    def _http_key(cluster: ClusterConfig) -> tuple[str, bool]:
        return cluster.name, cluster.tls_verify or not cluster.tls

    def _client(self, cluster: ClusterConfig) -> ClusterClient:
        key = self._http_key(cluster)
        if key not in self._http:
            limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
            self._http[key] = httpx.AsyncClient(limits=limits, verify=self._tls[key[1]], follow_redirects=False)
        if cluster not in self._mysql:
            self._mysql[cluster] = MySqlSession(cluster, self.config.timeout_seconds)
        return ClusterClient(cluster, self._http[key], self.config.timeout_seconds, self._mysql[cluster])

    def clusters(self) -> list[tuple[int, ClusterConfig]]:
        """Enabled clusters with their ids: the config file's, the dashboard's and the demo."""
        return collectable(self.store, self.secrets, self.config.clusters)

    # -- rounds -------------------------------------------------------------------------------
    def run_round(self, clusters: list[tuple[int, ClusterConfig]] | None = None) -> list[ClusterResult]:
        """Collect and store one round for every (or the given) cluster."""
        if clusters is None:
            clusters = self.clusters()
            self._keep_only(clusters)
        return self._runner.run(self._round(clusters))

    def _keep_only(self, clusters: list[tuple[int, ClusterConfig]]) -> None:
        """Close what is kept for clusters no longer collected: deleted, disabled, edited (a new
        password is a new config) or handed to another collector."""
        configs = {c for _, c in clusters}
        for cluster in [c for c in self._mysql if c not in configs]:
            self._mysql.pop(cluster).close()
        keys = {self._http_key(c) for c in configs}
        for key in [k for k in self._http if k not in keys]:
            self._runner.run(self._http.pop(key).aclose())
        ids = {cid for cid, _ in clusters}
        for cid in [i for i in self._previous if i not in ids]:
            del self._previous[cid]

    async def _round(self, clusters: list[tuple[int, ClusterConfig]]) -> list[ClusterResult]:
        ts = self.clock()
        kept = {name for name, _ in self._http} | {c.name for _, c in clusters}  # clusters with connections
        needed = 256 + FILES_PER_CLUSTER * len(kept)
        limit = raise_open_file_limit(needed)
        if limit < needed and not self._warned_files:
            self._warned_files = True
            log.warning(
                "the open-files limit (%s) is below the ~%s that %s clusters need; raise it "
                "(ulimit -n, or LimitNOFILE= for a systemd service)",
                limit,
                needed,
                len(clusters),
            )
        return list(await asyncio.gather(*(self._collect_one(cid, c, ts) for cid, c in clusters)))

    async def _collect_one(self, cluster_id: int, cluster: ClusterConfig, ts: float) -> ClusterResult:
        started = time.monotonic()
        previous = self._previous.get(cluster_id)
        if previous is None or not 0 < ts - previous.ts <= MAX_DELTA_GAP_SECONDS:
            previous = await asyncio.to_thread(self.store.previous_round, cluster_id)
        try:
            raw = await fetch_round(self._client(cluster), ts, self.config.round_deadline_seconds)
            snapshot, nodes = build_round(raw, previous)
        except Exception as exc:  # a bug a cluster's answer found must not cost any cluster its round
            log.exception("cluster %s: round could not be read", cluster.name)
            snapshot, nodes = (
                unread_round(ts, f"starmon could not read this round ({type(exc).__name__}; see the collector's log)"),
                (),
            )
        snapshot = dataclasses.replace(snapshot, collect_ms=int((time.monotonic() - started) * 1000))
        owner = self.leases.owner if self.leases else None
        try:
            await asyncio.to_thread(self.store.write_round, cluster_id, snapshot, nodes, owner)
        except DatabaseLost:
            raise  # nothing more can be stored: the loop stops rather than collect into nothing
        except LeaseLost as exc:
            log.info("cluster %s: round dropped: %s", cluster.name, exc)
            return ClusterResult(cluster.name, "skipped", snapshot.collect_ms, str(exc))
        except Exception as exc:  # one cluster's failed write must not lose the others'
            log.error("cluster %s: round not stored: %s", cluster.name, short_error(exc))
            return ClusterResult(cluster.name, "error", snapshot.collect_ms, f"not stored: {short_error(exc)}")
        self._previous[cluster_id] = PreviousRound(ts=snapshot.ts, nodes=nodes)
        if snapshot.status != Status.OK:
            log.warning("cluster %s: %s (%s)", cluster.name, snapshot.status, snapshot.error)
        return ClusterResult(cluster.name, snapshot.status, snapshot.collect_ms, snapshot.error)

    def run_statistics(self, clusters: list[tuple[int, ClusterConfig]] | None = None) -> None:
        """One data-statistics pass over every (or the given) cluster.

        It speaks only MySQL and runs on its own event loop, so it can run in a thread
        beside the rounds without sharing their HTTP client.
        """
        clusters = self.clusters() if clusters is None else clusters

        async def one(cluster_id: int, cluster: ClusterConfig) -> None:
            stats, tables = await fetch_statistics(ClusterClient(cluster, None, self.config.timeout_seconds))
            await asyncio.to_thread(self.store.write_statistics, cluster_id, stats, tables)
            if stats["status"] != "ok":
                log.warning("cluster %s statistics: %s (%s)", cluster.name, stats["status"], stats["error"])

        async def everything() -> None:
            await asyncio.gather(*(one(cid, c) for cid, c in clusters))

        asyncio.run(everything())

    # -- loop ---------------------------------------------------------------------------------
    def run_forever(self) -> None:
        """Collect every interval until stop().

        On SQLite one collector writes and a second idles behind the file lock; on a server
        database (PostgreSQL) collectors share the clusters through leases.
        """
        if not self.store.is_sqlite:
            self._run_with_leases()
            return
        lock = self.store.writer_lock()
        announced = False
        while not self._stop.is_set():
            if lock.acquire():
                break
            if not announced:
                log.warning(
                    "another collector (pid %s) is writing to %s; staying idle until it stops",
                    lock.holder(),
                    safe_url(self.store.url),
                )
                announced = True
            self._stop.wait(self.config.interval_seconds)
        if self._stop.is_set():
            return
        log.info("collecting every %s s into %s", self.config.interval_seconds, safe_url(self.store.url))
        jobs = schedule.Scheduler()
        jobs.every(self.config.statistics_interval_seconds).seconds.do(
            self._background, "statistics", self.run_statistics
        )
        jobs.every(MAINTENANCE_SECONDS).seconds.do(self._background, "maintenance", self.run_maintenance)
        interval = self.config.interval_seconds
        try:
            # Rounds start every interval from the previous start, not from its end (as `schedule`
            # counts), so a round's own duration does not stretch the interval; a round that
            # overruns a whole interval skips the missed starts rather than running them back to back.
            due = time.monotonic() + interval
            self._safe_round()
            self._background("statistics", self.run_statistics)
            self._background("maintenance", self.run_maintenance)
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= due:
                    due += interval
                    if due <= now:
                        due = now + interval
                    self._safe_round()
                jobs.run_pending()
                self._stop.wait(max(0.0, min(1.0, due - time.monotonic(), max(0.05, jobs.idle_seconds or 1.0))))
        finally:
            lock.release()
            self.close()

    def _run_with_leases(self) -> None:
        """The loop for several collectors on one server database: leases decide who collects what.

        Each cluster keeps its own cadence: a cluster this collector gains (a peer died or
        handed it back) is next due one interval after its newest stored round, whoever
        wrote it, so a hand-over neither doubles a round nor skips one.
        """
        interval = self.config.interval_seconds
        self.leases = Leases(self.store, interval)
        log.info("collector %s sharing clusters through leases in %s", self.leases.owner, safe_url(self.store.url))
        due: dict[int, float] = {}  # held cluster id -> when its next round is due (self.clock)
        next_stats = next_maintenance = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    clusters = self.clusters()
                    held = self.leases.tick([cid for cid, _ in clusters])
                    gained = held - due.keys()
                    if gained:
                        last = self.store.last_round_times(sorted(gained))
                        now = self.clock()
                        due.update({cid: max(last[cid] + interval, now) if cid in last else now for cid in gained})
                except DatabaseLost:
                    raise
                except Exception:
                    log.exception("lease renewal failed")
                    self._stop.wait(self.leases.tick_seconds)
                    continue
                for cid in due.keys() - held:  # handed back or lost
                    del due[cid]
                now = self.clock()
                targets = [c for c in clusters if c[0] in held and due[c[0]] <= now]
                if targets:
                    self._safe_round(targets)
                    for cid, _ in targets:  # keep the cadence; skip starts an overrun missed
                        due[cid] = due[cid] + interval if due[cid] + interval > now else now + interval
                mine = [c for c in clusters if c[0] in held]
                self._keep_only(mine)
                if time.monotonic() >= next_stats:
                    next_stats = time.monotonic() + self.config.statistics_interval_seconds
                    self._background("statistics", lambda mine=mine: self.run_statistics(mine))
                if time.monotonic() >= next_maintenance:
                    next_maintenance = time.monotonic() + MAINTENANCE_SECONDS
                    self._background(
                        "maintenance", lambda mine=mine: self.run_maintenance(cluster_ids=[c for c, _ in mine])
                    )
                soonest = min(due.values(), default=self.clock() + interval) - self.clock()
                self._stop.wait(max(0.0, min(self.leases.tick_seconds, soonest)))
        finally:
            try:
                self.leases.release()
            except Exception:
                log.exception("could not release leases; they expire in %s s", self.leases.ttl)
            self.close()

    def _safe_round(self, clusters: list[tuple[int, ClusterConfig]] | None = None) -> None:
        try:
            self.run_round(clusters)
        except DatabaseLost:
            raise
        except Exception:  # the loop must survive anything one round does, but a lost database
            log.exception("collection round failed")

    def run_maintenance(self, now: float | None = None, cluster_ids: list[int] | None = None) -> None:
        """Hourly and daily rollups for every (or the given) cluster, then retention (see starmon.rollup)."""
        c = self.config
        ids = list(self.store.cluster_ids().values()) if cluster_ids is None else cluster_ids
        rollup.maintain(self.store, ids, c.interval_seconds, c.retention_days, c.rollup_retention_days, now)

    def _background(self, name: str, work: Callable[[], None]) -> None:
        """Run a slow job in its own thread so it never delays a round; one at a time per job."""
        running = self._jobs.get(name)
        if running and running.is_alive():
            log.warning("previous %s pass still running; skipping this one", name)
            return

        def run() -> None:
            try:
                work()
            except StoreError as exc:  # said in one line; a lost database also stops the loop
                log.error("%s pass failed: %s", name, exc)
            except Exception:
                log.exception("%s pass failed", name)

        self._jobs[name] = threading.Thread(target=run, name=f"starmon-{name}", daemon=True)
        self._jobs[name].start()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        for client in self._http.values():
            self._runner.run(client.aclose())
        self._http.clear()
        for session in self._mysql.values():
            session.close()
        self._mysql.clear()
        self._runner.close()
        self._io_pool.shutdown(wait=False, cancel_futures=True)


def main(argv: list[str] | None = None) -> int:
    """`python collector.py [--once] [--statistics]`."""
    parser = argparse.ArgumentParser(prog="python collector.py", description=__doc__.splitlines()[0])
    parser.add_argument("--once", action="store_true", help="collect one round, print a line per cluster, exit")
    parser.add_argument(
        "--statistics", action="store_true", help="with --once: also run a data-statistics pass (information_schema)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_config()
        store = Store(config.db_url)
        collector = Collector(config, store)
    except (ConfigError, StoreError, SecretError) as exc:
        print(f"starmon collector: {exc}", file=sys.stderr)
        return 2
    if not args.once:
        try:
            collector.run_forever()
        except KeyboardInterrupt:
            collector.stop()
        except StoreError as exc:  # the database was deleted or replaced under it
            print(f"starmon collector: {exc}", file=sys.stderr)
            return 2
        return 0
    clusters = collector.clusters()
    locked = undecryptable(store.enabled_clusters(), collector.secrets)
    for name in locked:
        print(f"{name}: not collected ({UNDECRYPTABLE})", flush=True)
    if not clusters:
        if not locked:
            where = config.source if config.clusters else "starmon.toml"
            print(
                f"starmon collector: no clusters to collect: add [[clusters]] to {where} "
                "or add one in the dashboard (see README)",
                file=sys.stderr,
            )
        collector.close()
        return 2
    lock = store.writer_lock()
    if not lock.acquire():
        print(
            f"starmon collector: another collector (pid {lock.holder()}) is writing to "
            f"{safe_url(store.url)}; nothing collected",
            file=sys.stderr,
        )
        return 3
    try:
        for result in collector.run_round(clusters):
            print(result.line(), flush=True)
        if args.statistics:
            collector.run_statistics(clusters)
    except StoreError as exc:
        print(f"starmon collector: {exc}", file=sys.stderr)
        return 2
    finally:
        collector.close()
        lock.release()
    return 0
