"""Test connection: check each way starmon reaches a cluster and say what works, separately."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from .config import ClusterConfig
from .fetch import ClusterClient, FetchError, Forbidden
from .parse import parse_version


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok", "warning" or "failed"
    detail: str


async def _probe(cluster: ClusterConfig, timeout: float) -> list[Check]:
    async with httpx.AsyncClient(verify=cluster.tls_verify or not cluster.tls) as http:
        client = ClusterClient(cluster, http, timeout)
        metrics, proc, sql = await asyncio.gather(
            client.metrics(cluster.fe_host, cluster.http_port, fe=True),
            client.show_proc("/backends"),
            client.sql(["SELECT current_version()"]),
            return_exceptions=True,
        )
    checks = []
    if isinstance(metrics, FetchError):
        checks.append(Check("FE HTTP /metrics", "failed", f"{cluster.http_base}/metrics: {metrics}"))
    else:
        checks.append(Check("FE HTTP /metrics", "ok", f"reachable, {len(metrics)} samples"))
    if isinstance(proc, Forbidden):
        checks.append(
            Check(
                "show_proc", "warning", f"user {cluster.user!r} lacks admin: falling back to SHOW BACKENDS over MySQL"
            )
        )
    elif isinstance(proc, FetchError):
        checks.append(Check("show_proc", "failed", str(proc)))
    else:
        checks.append(Check("show_proc", "ok", f"allowed, {len(proc)} backends listed"))
    if isinstance(sql, FetchError):
        checks.append(Check("MySQL port", "failed", f"port {cluster.query_port}: {sql}"))
        checks.append(Check("Version", "failed", "not detected: the MySQL port did not answer"))
    else:
        checks.append(Check("MySQL port", "ok", f"port {cluster.query_port} answers"))
        rows = sql[0]
        raw = next(iter(rows[0].values()), None) if isinstance(rows, list) and rows else None
        version = parse_version(raw)
        checks.append(
            Check(
                "Version",
                "ok" if version else "failed",
                f"StarRocks {version}" if version else f"not detected from {raw!r}",
            )
        )
    return checks


def check_connection(cluster: ClusterConfig, timeout: float = 5.0) -> list[Check]:
    """Run every check against a cluster (blocking); never raises for the cluster's faults."""
    return asyncio.run(_probe(cluster, timeout))
