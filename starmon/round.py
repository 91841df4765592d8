"""One collection round for one cluster: fetch everything concurrently, parse, aggregate, store.

Phase 1 asks the configured FE for its node lists (show_proc, or SHOW statements over
MySQL when show_proc is refused or broken), its runtime info and its version. Phase 2
scrapes `/metrics` of every alive FE and BE those lists name, all at once. Nothing here
raises for a cluster's misbehaviour: every failure becomes a readable problem.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Protocol

from . import datastats, events
from .aggregate import BE_METRICS, FE_METRICS, MAX_DELTA_GAP_SECONDS, build_round, unread_round
from .config import ClusterConfig, Config
from .connections import http_client
from .fetch import ClusterClient, FetchError, Forbidden
from .parse import MetricSet, column, parse_bool, parse_int, parse_version
from .readings import PreviousRound, RawRound, Snapshot, Status
from .store import DatabaseLost, LeaseLost, Store, short_error

log = logging.getLogger("starmon.round")

_PROC_PATHS = ("/frontends", "/backends", "/compute_nodes")
_SHOW = ("SHOW FRONTENDS", "SHOW BACKENDS", "SHOW COMPUTE NODES")
# The most nodes (FE, BE and CN together) one round reads: real clusters have at most a few
# hundred, and a node list of thousands kept a round busy for minutes.
MAX_NODES = 1000
# /metrics scrapes in flight per cluster, no more than its HTTP pool holds: requests queued
# beyond the pool cost httpcore time per queued request.
MAX_SCRAPES_AT_ONCE = 16
# The least time between a stored round and a round asked for now (collect_now): the dashboard's
# Refresh button and the API's refresh both wait this long, so clicks and scripts cannot hammer a cluster.
REFRESH_COOLDOWN_SECONDS = 10
_HOST_NAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_\-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_\-]{0,62}))*\.?"
)


class ClusterSource(Protocol):
    """Where a round is read from: one interface, so live clusters, the demo and tests share one
    assembly (fetch_round). Implementations: fetch.ClusterClient (HTTP and MySQL, live),
    demo.ReplaySource (the emulator's answers at a moment in the past) and
    recorded.RecordedSource (a directory of answers, for tests and bug reports).

    Each method returns what the endpoint said, parsed, or raises FetchError (Forbidden for 401).
    """

    cluster: ClusterConfig  # the configured FE: its host and ports name the endpoints in problems
    timeout: float  # seconds per request

    async def show_proc(self, path: str) -> list[dict[str, str]]: ...

    async def runtime_info(self) -> dict: ...

    async def sql(self, statements: list[str]) -> list[list[dict] | FetchError]: ...

    async def metrics(self, host: str, port: int, *, fe: bool, only: frozenset[str] | None = None) -> MetricSet: ...

    async def addresses(self) -> list[str]: ...


def node_address(text: str | None) -> str | None:
    """The address in a node list's IP column, if it is an IP address or a host name; else None.

    A node list is the cluster's word: `1.2.3.4:99` or a URL in it must not reach httpx.
    """
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text if _HOST_NAME.fullmatch(text) else None


async def fetch_round(client: ClusterSource, ts: float, deadline: float) -> RawRound:
    """Fetch one round from a cluster and return it parsed, with its problems listed.

    The round as a whole ends at `deadline` seconds: what has arrived by then is kept,
    and what has not is a problem of the round, so one cluster can never hold up the others.
    The node lists must be in one request timeout before it, to leave the scrapes theirs.
    """
    raw = RawRound(ts=ts, reachable=False)
    try:
        async with asyncio.timeout(deadline):
            await _fetch_node_lists(client, raw, max(deadline - client.timeout, client.timeout))
            await _scrape_metrics(client, raw)
    except TimeoutError:
        raw.problems.append(("round", f"stopped at its deadline of {deadline:g} s"))
        for ip, _port, fe in _scrape_targets(client, raw):
            if ip not in (raw.fe_metrics if fe else raw.be_metrics) and (fe, ip) not in raw.node_errors:
                raw.node_errors[fe, ip] = "no answer before the round's deadline"
    return raw


async def _answers(calls: dict, within: float) -> dict:
    """Each call's result or exception, by key; calls unfinished after `within` seconds are cancelled."""
    tasks = {key: asyncio.ensure_future(call) for key, call in calls.items()}
    done, pending = await asyncio.wait(tasks.values(), timeout=within)
    for task in pending:
        task.cancel()
    late = FetchError(f"no answer within {within:g} s")
    return {key: (task.exception() or task.result()) if task in done else late for key, task in tasks.items()}


async def _fetch_node_lists(client: ClusterSource, raw: RawRound, within: float) -> None:
    """Phase 1: the configured FE's node lists, runtime info and version, all in `within` seconds."""
    cluster = client.cluster
    started = time.monotonic()
    answers = await _answers(
        {
            **{path: client.show_proc(path) for path in _PROC_PATHS},
            "runtime": client.runtime_info(),
            "version": client.sql(["SELECT current_version()"]),
            "addresses": client.addresses(),
        },
        within,
    )
    procs = [answers[path] for path in _PROC_PATHS]
    runtime, version, addresses = answers["runtime"], answers["version"], answers["addresses"]

    http_errors = {str(r) for r in procs + [runtime] if isinstance(r, FetchError) and not isinstance(r, Forbidden)}
    if http_errors and all(isinstance(r, FetchError) for r in procs + [runtime]) and len(http_errors) == 1:
        raw.problems.append((f"FE {cluster.fe_host}:{cluster.http_port} HTTP", http_errors.pop()))
    else:
        raw.problems += [
            (f"show_proc {p}", str(r))
            for p, r in zip(_PROC_PATHS, procs)
            if isinstance(r, FetchError) and not isinstance(r, Forbidden)
        ]
        if isinstance(runtime, FetchError):
            raw.problems.append(("show_runtime_info", str(runtime)))
    if isinstance(runtime, dict):
        raw.runtime_info, raw.reachable = runtime, True

    mysql_ok = isinstance(version, list)
    if mysql_ok and isinstance(version[0], list) and version[0]:
        raw.version = parse_version(next(iter(version[0][0].values()), None))
        raw.reachable = True
    elif isinstance(version, FetchError):
        raw.problems.append((f"MySQL port {cluster.query_port}", str(version)))

    if all(isinstance(r, list) for r in procs):
        raw.frontends, raw.backends, raw.compute_nodes = procs
        raw.source, raw.reachable = "show_proc", True
    elif mysql_ok:
        try:
            async with asyncio.timeout(max(0.0, within - (time.monotonic() - started))):
                await _node_lists_over_mysql(client, raw)
        except TimeoutError:
            raw.problems.append((f"MySQL port {cluster.query_port}", f"node lists not in within {within:g} s"))
    elif any(isinstance(r, Forbidden) for r in procs):
        raw.problems.append(("show_proc", "refused for this user (401) and no MySQL fallback"))

    raw.version = raw.version or next(
        (parse_version(column(r, "Version")) for r in raw.frontends if parse_version(column(r, "Version"))), None
    )
    ips = {column(r, "IP") for r in raw.frontends}
    resolved = set(addresses) if isinstance(addresses, list) else set()
    raw.configured_ip = next(iter(ips & resolved | ips & {cluster.fe_host}), None)
    listed = len(raw.frontends) + len(raw.backends) + len(raw.compute_nodes)
    if listed > MAX_NODES:
        raw.problems.append(("node lists", f"{listed:,} nodes listed; starmon reads the first {MAX_NODES:,}"))
        raw.frontends = raw.frontends[:MAX_NODES]
        raw.backends = raw.backends[: MAX_NODES - len(raw.frontends)]
        raw.compute_nodes = raw.compute_nodes[: MAX_NODES - len(raw.frontends) - len(raw.backends)]


async def _node_lists_over_mysql(client: ClusterSource, raw: RawRound) -> None:
    """Fallback when show_proc is refused (no admin role) or broken: SHOW statements."""
    try:
        frontends, backends, computes = await client.sql(list(_SHOW))
    except FetchError as exc:
        raw.problems.append((f"MySQL port {client.cluster.query_port}", str(exc)))
        return
    if isinstance(frontends, FetchError) or isinstance(backends, FetchError):
        raw.problems += [("MySQL", str(r)) for r in (frontends, backends) if isinstance(r, FetchError)]
        return
    raw.frontends, raw.backends = frontends, backends
    raw.compute_nodes = computes if isinstance(computes, list) else []  # absent before shared-data releases
    raw.source, raw.reachable = "mysql", True


def _scrape_targets(client: ClusterSource, raw: RawRound) -> list[tuple[str, int, bool]]:
    """(address, HTTP port, is FE) of every alive node in the lists; bad addresses become node errors."""
    targets = []
    for rows, fe in ((raw.frontends, True), (raw.backends, False), (raw.compute_nodes, False)):
        for row in rows:
            ip, port = column(row, "IP"), parse_int(column(row, "HttpPort"))
            if not ip or parse_bool(column(row, "Alive")) is False:
                continue
            if node_address(ip) is None:
                raw.node_errors[fe, ip] = f"its address {ip!r} is not an IP address or host name"
            elif port is None or not 1 <= port <= 65535:
                raw.node_errors[fe, ip] = f"its HTTP port {column(row, 'HttpPort')!r} is not a port number"
            else:
                targets.append((ip, port, fe))
    if not targets and not raw.frontends:
        targets = [(client.cluster.fe_host, client.cluster.http_port, True)]
    return targets


async def _scrape_metrics(client: ClusterSource, raw: RawRound) -> None:
    """Phase 2: /metrics of every alive FE, BE and CN in the node lists, a few at a time.

    Each answer is kept as it arrives, so a round cut short by its deadline keeps the rest.
    """
    gate = asyncio.Semaphore(MAX_SCRAPES_AT_ONCE)

    async def scrape(ip: str, port: int, fe: bool) -> None:
        async with gate:
            try:
                metrics = await client.metrics(ip, port, fe=fe, only=FE_METRICS if fe else BE_METRICS)
            except FetchError as exc:
                raw.node_errors[fe, ip] = str(exc)
                return
        (raw.fe_metrics if fe else raw.be_metrics)[ip] = metrics
        raw.reachable = True

    await asyncio.gather(*(scrape(ip, port, fe) for ip, port, fe in _scrape_targets(client, raw)))


@dataclass(frozen=True)
class ClusterResult:
    """What one cluster's round came to, as `--once` prints it (and the round stored, for its alerts)."""

    name: str
    status: str
    collect_ms: int
    reason: str | None
    snapshot: Snapshot | None = field(default=None, repr=False, compare=False)

    def line(self) -> str:
        return f"{self.name}: {self.status} in {self.collect_ms} ms" + (f" ({self.reason})" if self.reason else "")


async def collect_once(
    store: Store,
    cluster_id: int,
    client: ClusterSource,
    *,
    ts: float,
    deadline: float,
    previous: PreviousRound | None = None,
    owner: str | None = None,
    new_series: bool = False,
    interval: float | None = None,
    derive_events: bool = True,
) -> tuple[ClusterResult, PreviousRound | None]:
    """Fetch, aggregate and store one round of one cluster; its result, and the round as the next
    one's previous (None if it was not stored).

    `previous` is the round kept in memory, if any; without one fresh enough, the stored one is
    read. With `new_series` (the cluster's address changed) no earlier round is comparable: its
    counters start new series. The events since the previous round (starmon.events; a gap
    needs the collection `interval`) are stored with the round, in its transaction, unless
    `derive_events` is off (an extra round between the collector's: see collect_now).
    Nothing a cluster sends makes this raise; a lost database does.
    """
    cluster = client.cluster
    started = time.monotonic()
    if new_series:
        previous = None
    elif previous is None or not 0 < ts - previous.ts <= MAX_DELTA_GAP_SECONDS:
        previous = await asyncio.to_thread(store.previous_round, cluster_id)
    try:
        snapshot, nodes = build_round(await fetch_round(client, ts, deadline), previous)
    except Exception as exc:  # a bug a cluster's answer found must not cost any cluster its round
        log.exception("cluster %s: round could not be read", cluster.name)
        reason = f"starmon could not read this round ({type(exc).__name__}; see the collector's log)"
        snapshot, nodes = unread_round(ts, reason), ()
    snapshot = dataclasses.replace(snapshot, collect_ms=int((time.monotonic() - started) * 1000))
    changes = events.derive_round(previous, snapshot, nodes, interval) if derive_events else []
    try:
        await asyncio.to_thread(store.write_round, cluster_id, snapshot, nodes, owner, changes)
    except DatabaseLost:
        raise  # nothing more can be stored: the caller stops rather than collect into nothing
    except LeaseLost as exc:
        log.info("cluster %s: round dropped: %s", cluster.name, exc)
        return ClusterResult(cluster.name, "skipped", snapshot.collect_ms, str(exc)), None
    except Exception as exc:  # one cluster's failed write must not lose the others'
        log.error("cluster %s: round not stored: %s", cluster.name, short_error(exc))
        return ClusterResult(cluster.name, "error", snapshot.collect_ms, f"not stored: {short_error(exc)}"), None
    if snapshot.status != Status.OK:
        log.warning("cluster %s: %s (%s)", cluster.name, snapshot.status, snapshot.error)
    result = ClusterResult(cluster.name, snapshot.status, snapshot.collect_ms, snapshot.error, snapshot)
    return result, events.remember(previous, snapshot, nodes)


def collect_now(store: Store, config: Config, cluster_id: int, cluster: ClusterConfig) -> ClusterResult:
    """One round of one cluster right now (the dashboard's Refresh), with connections of its own
    that last only as long: no thread pool, no kept connections, the process's TLS contexts.

    It stores no events: the collector's next round compares with the collector's own last one,
    which this round does not replace, so a change would be stored twice, at two times.
    """

    async def once() -> ClusterResult:
        async with http_client(cluster) as http:
            client = ClusterClient(cluster, http, config.timeout_seconds)
            result, _ = await collect_once(
                store,
                cluster_id,
                client,
                ts=time.time(),
                deadline=config.round_deadline_seconds,
                derive_events=False,
            )
            return result

    return asyncio.run(once())


async def fetch_statistics(client: ClusterSource, ended: list[dict] | None = None) -> tuple[dict, list[dict]]:
    """One data-statistics pass over MySQL: a statistics row and per-table sizes.

    A given `ended` list receives the schema-change jobs the pass saw finished or cancelled
    (datastats.ended_jobs), which the row does not keep but its events need.
    """
    started = time.time()
    stats: dict = {"ts": started, "status": Status.OK, "error": None}
    problems: list[str] = []
    try:
        tables, dbs, mvs = await client.sql(
            [
                "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, TABLE_ROWS, DATA_LENGTH FROM information_schema.tables",
                "SHOW DATABASES",
                "SELECT TABLE_SCHEMA, TABLE_NAME, IS_ACTIVE, INACTIVE_REASON, LAST_REFRESH_STATE, "
                "LAST_REFRESH_ERROR_MESSAGE FROM information_schema.materialized_views",
            ]
        )
    except FetchError as exc:
        stats.update(status=Status.DOWN, error=str(exc), collect_ms=int((time.time() - started) * 1000))
        return stats, []
    for part in (tables, dbs, mvs):
        if isinstance(part, FetchError):
            problems.append(str(part))
    sizes = datastats.table_sizes(tables) if isinstance(tables, list) else []
    databases = (
        [next(iter(r.values())) for r in dbs] if isinstance(dbs, list) else sorted({t["db_name"] for t in sizes})
    )
    alters = None
    user_dbs = [d for d in databases if d not in datastats.SYSTEM_DATABASES]
    if user_dbs:
        quoted = ["SHOW ALTER TABLE COLUMN FROM `" + d.replace("`", "``") + "`" for d in user_dbs]
        try:
            results = await client.sql(quoted)
            alters = []
            for db, result in zip(user_dbs, results):
                if isinstance(result, FetchError):
                    problems.append(f"schema changes of {db}: {result}")
                    alters = None
                    break
                alters += [{**row, "_db": db} for row in result]
        except FetchError as exc:
            problems.append(str(exc))
    summary = datastats.summarize(sizes, databases, mvs if isinstance(mvs, list) else None, alters)
    if ended is not None and alters is not None:
        ended += datastats.ended_jobs(alters)
    if not isinstance(tables, list):
        summary.update(database_count=None, table_count=None, total_data_bytes=None, total_rows=None)
    stats.update(summary)
    stats.update(
        status=Status.PARTIAL if problems else Status.OK,
        error="; ".join(problems) or None,
        collect_ms=int((time.time() - started) * 1000),
    )
    return stats, sizes
