"""One collection round for one cluster: fetch everything concurrently, then parse.

Phase 1 asks the configured FE for its node lists (show_proc, or SHOW statements over
MySQL when show_proc is refused or broken), its runtime info and its version. Phase 2
scrapes `/metrics` of every alive FE and BE those lists name, all at once. Nothing here
raises for a cluster's misbehaviour: every failure becomes a readable problem.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from . import datastats
from .aggregate import BE_METRICS, FE_METRICS, RawRound
from .fetch import ClusterClient, FetchError, Forbidden, resolve
from .parse import column, parse_bool, parse_int, parse_version

_PROC_PATHS = ("/frontends", "/backends", "/compute_nodes")
_SHOW = ("SHOW FRONTENDS", "SHOW BACKENDS", "SHOW COMPUTE NODES")


async def fetch_round(client: ClusterClient, ts: float) -> RawRound:
    """Fetch one round from a cluster and return it parsed, with its problems listed."""
    cluster = client.cluster
    raw = RawRound(ts=ts, reachable=False)
    *procs, runtime, version, addresses = await asyncio.gather(
        *(client.show_proc(p) for p in _PROC_PATHS), client.runtime_info(),
        client.sql(["SELECT current_version()"]), resolve(cluster.fe_host, client.timeout),
        return_exceptions=True)

    http_errors = {str(r) for r in procs + [runtime] if isinstance(r, FetchError) and not isinstance(r, Forbidden)}
    if http_errors and all(isinstance(r, FetchError) for r in procs + [runtime]) and len(http_errors) == 1:
        raw.problems.append((f"FE {cluster.fe_host}:{cluster.http_port} HTTP", http_errors.pop()))
    else:
        raw.problems += [(f"show_proc {p}", str(r)) for p, r in zip(_PROC_PATHS, procs)
                         if isinstance(r, FetchError) and not isinstance(r, Forbidden)]
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
        await _node_lists_over_mysql(client, raw)
    elif any(isinstance(r, Forbidden) for r in procs):
        raw.problems.append(("show_proc", "refused for this user (401) and no MySQL fallback"))

    raw.version = raw.version or next((parse_version(column(r, "Version")) for r in raw.frontends
                                       if parse_version(column(r, "Version"))), None)
    ips = {column(r, "IP") for r in raw.frontends}
    resolved = set(addresses) if isinstance(addresses, list) else set()
    raw.configured_ip = next(iter(ips & resolved | ips & {cluster.fe_host}), None)
    await _scrape_metrics(client, raw)
    return raw


async def _node_lists_over_mysql(client: ClusterClient, raw: RawRound) -> None:
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
    raw.compute_nodes = computes if isinstance(computes, list) else []   # absent before shared-data releases
    raw.source, raw.reachable = "mysql", True


async def _scrape_metrics(client: ClusterClient, raw: RawRound) -> None:
    """Scrape /metrics of every alive FE, BE and CN in the node lists, concurrently."""
    targets = []
    for rows, fe in ((raw.frontends, True), (raw.backends, False), (raw.compute_nodes, False)):
        for row in rows:
            ip, port = column(row, "IP"), parse_int(column(row, "HttpPort"))
            if ip and port and parse_bool(column(row, "Alive")) is not False:
                targets.append((ip, port, fe))
    if not targets and not raw.frontends:
        targets = [(client.cluster.fe_host, client.cluster.http_port, True)]
    results = await asyncio.gather(*(client.metrics(ip, port, fe=fe, only=FE_METRICS if fe else BE_METRICS)
                                     for ip, port, fe in targets), return_exceptions=True)
    for (ip, _port, fe), result in zip(targets, results):
        if isinstance(result, FetchError):
            raw.node_errors[ip] = str(result)
        elif isinstance(result, BaseException):
            raise result
        else:
            (raw.fe_metrics if fe else raw.be_metrics)[ip] = result
            raw.reachable = True


class RunsSql(Protocol):
    """What a statistics pass reads through: a cluster's MySQL port (ClusterClient), or the
    demo's replayed FE, which answers the same statements for a moment in the past."""

    async def sql(self, statements: list[str]) -> list[list[dict] | FetchError]: ...


async def fetch_statistics(client: RunsSql) -> tuple[dict, list[dict]]:
    """One data-statistics pass over MySQL: a statistics row and per-table sizes."""
    started = time.time()
    stats: dict = {"ts": started, "status": "ok", "error": None}
    problems: list[str] = []
    try:
        tables, dbs, mvs = await client.sql([
            "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, TABLE_ROWS, DATA_LENGTH FROM information_schema.tables",
            "SHOW DATABASES",
            "SELECT TABLE_SCHEMA, TABLE_NAME, IS_ACTIVE, INACTIVE_REASON, LAST_REFRESH_STATE, "
            "LAST_REFRESH_ERROR_MESSAGE FROM information_schema.materialized_views",
        ])
    except FetchError as exc:
        stats.update(status="down", error=str(exc), collect_ms=int((time.time() - started) * 1000))
        return stats, []
    for part in (tables, dbs, mvs):
        if isinstance(part, FetchError):
            problems.append(str(part))
    sizes = datastats.table_sizes(tables) if isinstance(tables, list) else []
    databases = [next(iter(r.values())) for r in dbs] if isinstance(dbs, list) else \
        sorted({t["db_name"] for t in sizes})
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
    if not isinstance(tables, list):
        summary.update(database_count=None, table_count=None, total_data_bytes=None, total_rows=None)
    stats.update(summary)
    stats.update(status="partial" if problems else "ok", error="; ".join(problems) or None,
                 collect_ms=int((time.time() - started) * 1000))
    return stats, sizes
