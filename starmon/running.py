"""Running now: the queries the configured FE is coordinating, from `SHOW PROC '/current_queries'`.

Asked when the Queries page is opened or refreshed, never stored: it answers "what is hurting the
cluster right now", which the audit log only says once a query has ended. The proc is per FE
(CurrentQueryStatisticsProcDir), so it lists the queries clients sent to that FE. Its columns
changed: older releases give ExecTime in integer milliseconds and ProcessRows, CPUCostSeconds,
MemoryUsageBytes; newer ones ExecTime and CPUTime as "4.231 s", ScanRows, MemoryUsage, StartTime
and feIp (REFERENCE.md). Both read into one shape.
"""

from __future__ import annotations

import asyncio

from .config import ClusterConfig
from .fetch import ClusterClient, FetchError
from .parse import column, parse_float, parse_int, parse_size

STATEMENT = "SHOW PROC '/current_queries'"


def _seconds(text: str | None, *, plain_ms: bool) -> float | None:
    """`"4.231 s"` as seconds; a bare integer is milliseconds where the older layout says so."""
    value = parse_float(text)
    if value is None or value < 0:
        return None
    return value / 1000 if plain_ms and text is not None and not str(text).strip().endswith("s") else value


def parse_running(rows: list[dict]) -> list[dict]:
    """Proc rows of either layout as {query_id, user, database, exec_seconds, cpu_seconds, scan_bytes,
    scan_rows, memory_bytes, start_time, fe}, the longest running first."""
    out = []
    for row in rows:
        out.append(
            {
                "query_id": column(row, "QueryId"),
                "user": column(row, "User"),
                "database": column(row, "Database"),
                "exec_seconds": _seconds(column(row, "ExecTime"), plain_ms=True),
                "cpu_seconds": _seconds(column(row, "CPUTime", "CPUCostSeconds"), plain_ms=False),
                "scan_bytes": parse_size(column(row, "ScanBytes")),
                "scan_rows": parse_int(column(row, "ScanRows", "ProcessRows")),
                "memory_bytes": parse_size(column(row, "MemoryUsage", "MemoryUsageBytes")),
                "start_time": column(row, "StartTime"),
                "fe": column(row, "feIp"),
            }
        )
    return sorted(out, key=lambda r: -(r["exec_seconds"] or 0))


def running_now(cluster: ClusterConfig, timeout: float) -> list[dict]:
    """The queries running on the cluster's configured FE now; FetchError if it cannot say."""

    async def ask() -> list[dict]:
        (rows,) = await ClusterClient(cluster, None, timeout).sql([STATEMENT])
        if isinstance(rows, FetchError):
            raise rows
        return parse_running(rows)

    return asyncio.run(ask())
