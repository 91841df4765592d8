"""The collector's loop: every `interval_seconds`, a round of each cluster it owns.

Each cluster's round runs on its own and is stored as soon as it is done, so a slow or dead
cluster never holds back the others. Which clusters this collector owns is the
ownership strategy's answer: on SQLite one collector writes and owns them all (a file lock
the OS frees if the holder dies; a second one says so and waits); on PostgreSQL collectors
share them through leases. One loop serves both.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from typing import Protocol

import schedule

from . import alert_store, events, rollup, workload
from .alert_delivery import Deliverer
from .alert_store import AlertEngine
from .clusters import UNDECRYPTABLE, collectable, undecryptable
from .config import ClusterConfig, Config, ConfigError, load_config
from .connections import Connections
from .fetch import ClusterClient
from .leases import Leases
from .readings import PreviousRound, Snapshot, Status
from .round import ClusterResult, collect_once, fetch_statistics
from .secrets import SecretError, Secrets
from .store import DatabaseLost, Store, StoreError, safe_url

log = logging.getLogger("starmon.scheduler")
MAINTENANCE_SECONDS = 600  # rollups and retention: cheap, but no need to run every round


class Ownership(Protocol):
    """Which of the enabled clusters this collector collects now."""

    owner: str | None  # written with each round, so a round of a cluster handed over is dropped
    tick_seconds: float  # how often claim() must run

    def ready(self) -> bool:
        """Whether it may collect (and so write) at all now; until then it touches nothing."""
        ...

    def claim(self, cluster_ids: list[int]) -> set[int]: ...

    def release(self) -> None: ...


class SoleWriter:
    """SQLite: one collector writes, behind a file lock beside the database, and owns every cluster."""

    owner = None

    def __init__(self, store: Store, interval: float):
        self.store = store
        self.tick_seconds = interval
        self._lock = store.writer_lock()
        self._announced = False

    def ready(self) -> bool:
        if self._lock.acquire():
            return True
        if not self._announced:
            log.warning(
                "another collector (pid %s) is writing to %s; staying idle until it stops",
                self._lock.holder(),
                safe_url(self.store.url),
            )
            self._announced = True
        return False

    def claim(self, cluster_ids: list[int]) -> set[int]:
        return set(cluster_ids)

    def release(self) -> None:
        self._lock.release()


class Collector:
    """Runs collection rounds and statistics passes against one store.

    Its connections live as long as it does, so keep-alive connections to FEs and BEs are
    reused from round to round; so does the round it last stored of each cluster, so counter
    deltas need no read of it back (reading it cost more than parsing the round). A round
    stored by someone else in between (the dashboard's Refresh) only widens a rate's window.
    """

    def __init__(
        self, config: Config, store: Store, clock: Callable[[], float] = time.time, secrets: Secrets | None = None
    ):
        self.config = config
        self.store = store
        self.secrets = secrets or Secrets.from_environment(store.key_file())
        self.clock = clock
        self.connections = Connections(config.timeout_seconds)
        self._previous: dict[int, PreviousRound] = {}
        self._where: dict[int, tuple[str, int, int]] = {}  # the address each cluster was last collected at
        self._evaluations: dict[int, threading.Thread] = {}  # the loop's alert evaluations in flight
        self._defer_evaluation = False  # run_forever: a round does not wait for its evaluation
        self._stop = threading.Event()
        self._jobs: dict[str, threading.Thread] = {}
        self._owner: str | None = None  # the lease owner, while run_forever shares clusters through leases
        self.alerts = AlertEngine(store, config, clock)

    def clusters(self) -> list[tuple[int, ClusterConfig]]:
        """Enabled clusters with their ids: the config file's, the dashboard's and the demo."""
        return collectable(self.store, self.secrets, self.config.clusters)

    def remembered(self) -> set[int]:
        """Ids of the clusters whose last stored round this collector keeps in memory."""
        return set(self._previous)

    # -- rounds -------------------------------------------------------------------------------
    def run_round(self, clusters: list[tuple[int, ClusterConfig]] | None = None) -> list[ClusterResult]:
        """Collect and store one round for every (or the given) cluster."""
        if clusters is None:
            clusters = self.clusters()
            self._keep_only(clusters)
        self.connections.check_open_files(c.name for _, c in clusters)
        self._refresh_rules()
        return self.connections.run(self._round(clusters, self.clock()))

    def _refresh_rules(self) -> None:
        """Take up rule edits made on the Alerts page (one cheap query when none changed)."""
        try:
            self.alerts.refresh()
        except DatabaseLost:
            raise
        except Exception:  # the rules in force stay; collection goes on
            log.exception("could not read the alert rule edits")

    def _keep_only(self, clusters: list[tuple[int, ClusterConfig]]) -> None:
        """Forget what is kept for clusters no longer collected: deleted, disabled, edited (a new
        password is a new config) or handed to another collector."""
        self.connections.keep_only(c for _, c in clusters)
        ids = {cid for cid, _ in clusters}
        for cid in [i for i in self._previous if i not in ids]:
            del self._previous[cid]
        for cid in [i for i in self._where if i not in ids]:
            del self._where[cid]
        self.alerts.forget(ids)

    async def _round(self, clusters: list[tuple[int, ClusterConfig]], ts: float) -> list[ClusterResult]:
        async def one(cluster_id: int, cluster: ClusterConfig) -> ClusterResult:
            where = (cluster.fe_host, cluster.http_port, cluster.query_port)
            moved = self._where.setdefault(cluster_id, where) != where
            self._where[cluster_id] = where
            result, stored = await collect_once(
                self.store,
                cluster_id,
                self.connections.client(cluster),
                ts=ts,
                deadline=self.config.round_deadline_seconds,
                previous=self._previous.get(cluster_id),
                owner=self._owner,
                new_series=moved,
                interval=self.config.interval_seconds,
            )
            if stored is not None:
                self._previous[cluster_id] = stored
                if self._defer_evaluation:
                    self._evaluate_soon(cluster_id, cluster.name, result.snapshot, stored)
                else:
                    await asyncio.to_thread(self._evaluate, cluster_id, cluster.name, result.snapshot, stored)
            return result

        return list(await asyncio.gather(*(one(cid, c) for cid, c in clusters)))

    def _evaluate_soon(self, cluster_id: int, name: str, snapshot: Snapshot, stored: PreviousRound) -> None:
        """Evaluate the round just stored in a thread of its own, so the loop's next round is not
        held back by it (beside busy dashboard readers an evaluation outlasted a 1 s interval and
        the next round was skipped). One still running for the cluster makes this one skip: the
        next evaluation reads the newest round anyway."""
        running = self._evaluations.get(cluster_id)
        if running is not None and running.is_alive():
            return

        def evaluate() -> None:
            try:
                self._evaluate(cluster_id, name, snapshot, stored)
            except DatabaseLost:  # the next round's write says so to the loop, which stops
                pass

        thread = threading.Thread(target=evaluate, name=f"starmon-alerts-{cluster_id}", daemon=True)
        self._evaluations[cluster_id] = thread
        thread.start()

    def _evaluate(self, cluster_id: int, name: str, snapshot: Snapshot, stored: PreviousRound) -> None:
        """Evaluate the alert rules on the round just stored, as kept in memory (nothing read back):
        only who stores a round evaluates it."""
        try:
            self.alerts.after_round(cluster_id, name, snapshot, stored)
        except DatabaseLost:
            raise
        except Exception:  # alerts must never cost a round
            log.exception("cluster %s: alert evaluation failed", name)

    def run_statistics(self, clusters: list[tuple[int, ClusterConfig]] | None = None) -> None:
        """One data-statistics pass over every (or the given) cluster.

        It speaks only MySQL and runs on its own event loop, so it can run in a thread
        beside the rounds without sharing their connections.
        """
        clusters = self.clusters() if clusters is None else clusters

        async def one(cluster_id: int, cluster: ClusterConfig) -> None:
            ended: list[dict] = []
            stats, tables = await fetch_statistics(ClusterClient(cluster, None, self.config.timeout_seconds), ended)
            previous = await asyncio.to_thread(self.store.previous_statistics, cluster_id)
            changes = events.derive_statistics(previous, stats, ended)
            await asyncio.to_thread(self.store.write_statistics, cluster_id, stats, tables, changes)
            self.alerts.statistics_stored(cluster_id, stats)
            if stats["status"] != Status.OK:
                log.warning("cluster %s statistics: %s (%s)", cluster.name, stats["status"], stats["error"])
            try:  # the workload (issue 17) must never cost the statistics pass
                client = ClusterClient(cluster, None, self.config.timeout_seconds)
                await workload.audit_pass(self.store, cluster_id, client, cluster.audit_table)
            except DatabaseLost:
                raise
            except Exception:
                log.exception("cluster %s: audit log pass failed", cluster.name)

        async def everything() -> None:
            await asyncio.gather(*(one(cid, c) for cid, c in clusters))

        asyncio.run(everything())

    def run_maintenance(self, now: float | None = None, cluster_ids: list[int] | None = None) -> None:
        """Hourly and daily rollups for every (or the given) cluster, then retention (see starmon.rollup)."""
        c = self.config
        ids = list(self.store.cluster_ids().values()) if cluster_ids is None else cluster_ids
        rollup.maintain(self.store, ids, c.interval_seconds, c.retention_days, c.rollup_retention_days, now)
        alert_store.apply_retention(self.store, now)
        workload.apply_retention(self.store, now)

    # -- loop ---------------------------------------------------------------------------------
    def ownership(self) -> Ownership:
        """How this collector learns which clusters are its own: leases on a server database, else the lock."""
        if self.store.is_sqlite:
            return SoleWriter(self.store, self.config.interval_seconds)
        return Leases(self.store, self.config.interval_seconds)

    def run_forever(self) -> None:
        """Collect every interval until stop().

        Each cluster keeps its own cadence: one it gains (at start, or when a peer died or handed
        it back) is next due one interval after its newest stored round, whoever wrote it, so a
        hand-over neither doubles a round nor skips one. Rounds start one interval after the
        previous start, not after its end. Each cluster's round runs on its own, so a slow one
        never delays another's; one still running when its next start comes skips that start.
        """
        ownership = self.ownership()
        self._owner = ownership.owner
        interval = self.config.interval_seconds
        if ownership.owner:
            log.info("collector %s sharing clusters through leases in %s", ownership.owner, safe_url(self.store.url))
        due: dict[int, float] = {}  # owned cluster id -> when its next round is due (self.clock)
        mine: list[tuple[int, ClusterConfig]] = []
        jobs = schedule.Scheduler()
        shared = ownership.owner is not None  # maintenance of its own clusters only, when it shares them
        statistics = lambda: self._background("statistics", lambda: self.run_statistics(list(mine)))  # noqa: E731
        ids = lambda: [c for c, _ in mine] if shared else None  # noqa: E731
        maintenance = lambda: self._background("maintenance", lambda: self.run_maintenance(cluster_ids=ids()))  # noqa: E731
        running: dict[int, Future] = {}  # cluster id -> its round in flight
        self._defer_evaluation = True
        deliverer = Deliverer(self.store, self.config.alerts, self.clock).start()  # never waited for by a round
        stale_checked = 0.0
        try:
            while not self._stop.is_set():
                self._reap(running)
                if not ownership.ready():  # e.g. another collector writes: not even the clusters table
                    self._stop.wait(ownership.tick_seconds)
                    continue
                try:
                    clusters = self.clusters()
                    held = ownership.claim([cid for cid, _ in clusters])
                    gained = held - due.keys()
                    if gained:
                        last = self.store.last_round_times(sorted(gained))
                        now = self.clock()
                        due.update({cid: max(last[cid] + interval, now) if cid in last else now for cid in gained})
                except DatabaseLost:
                    raise
                except Exception:
                    log.exception("could not tell which clusters to collect")
                    self._stop.wait(ownership.tick_seconds)
                    continue
                for cid in due.keys() - held:  # handed back or lost
                    del due[cid]
                mine[:] = [c for c in clusters if c[0] in held]
                self._keep_only(mine)
                now = self.clock()
                targets = [c for c in mine if due[c[0]] <= now]
                if targets:
                    self._refresh_rules()
                    self.connections.check_open_files(c.name for _, c in mine)
                    for target in targets:
                        cid = target[0]
                        if cid not in running:  # else its last round still runs: this start is skipped
                            running[cid] = self.connections.submit(self._round([target], now))
                        due[cid] = due[cid] + interval if due[cid] + interval > now else now + interval
                if mine and not jobs.jobs:  # the first clusters owned: statistics and maintenance from now on
                    log.info("collecting every %s s into %s", interval, safe_url(self.store.url))
                    statistics()
                    maintenance()
                    jobs.every(self.config.statistics_interval_seconds).seconds.do(statistics)
                    jobs.every(MAINTENANCE_SECONDS).seconds.do(maintenance)
                jobs.run_pending()
                if mine and self.clock() - stale_checked >= interval:
                    stale_checked = self.clock()
                    owned = [(cid, c.name) for cid, c in mine]
                    self._background("stale-data check", lambda owned=owned: self.alerts.check_stale(owned))
                soonest = min(due.values(), default=self.clock() + ownership.tick_seconds) - self.clock()
                self._stop.wait(max(0.0, min(ownership.tick_seconds, soonest)))
        finally:
            wait(list(running.values()), timeout=self.config.round_deadline_seconds + 5)
            for evaluation in list(self._evaluations.values()):
                evaluation.join(self.config.round_deadline_seconds + 5)
            deliverer.stop()
            try:
                ownership.release()
            except Exception:
                log.exception("could not hand back the clusters; leases expire by themselves")
            self.close()

    @staticmethod
    def _reap(running: dict[int, Future]) -> None:
        """Forget the rounds that have ended; the loop survives anything one did, but a lost database."""
        for cid, future in [(c, f) for c, f in running.items() if f.done()]:
            del running[cid]
            error = future.exception()
            if isinstance(error, DatabaseLost):
                raise error
            if error is not None:
                log.error("collection round failed", exc_info=error)

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
        self.connections.close()


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
    lock = store.writer_lock()  # first: a collector that may not collect writes nothing, not even clusters
    if not lock.acquire():
        print(
            f"starmon collector: another collector (pid {lock.holder()}) is writing to "
            f"{safe_url(store.url)}; nothing collected",
            file=sys.stderr,
        )
        collector.close()
        return 3
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
        lock.release()
        return 2
    try:
        for result in collector.run_round(clusters):
            print(result.line(), flush=True)
        Deliverer(store, config.alerts).run_pending()  # what this round made due; the rest waits for the loop
        if args.statistics:
            collector.run_statistics(clusters)
    except StoreError as exc:
        print(f"starmon collector: {exc}", file=sys.stderr)
        return 2
    finally:
        collector.close()
        lock.release()
    return 0
