"""starmon's own `GET /metrics`: every cluster's state in the Prometheus text format.

Teams that already run Prometheus scrape one starmon instead of every FE and BE. Nothing is
counted by hand: a prometheus_client custom collector reads the store at scrape time, two
queries whatever the number of clusters (the newest round of each enabled cluster, and the
last hour's rounds by status), so a scrape shows exactly what the dashboard shows.

Names follow Prometheus' conventions: a `starmon_` prefix, a `cluster` label, base units
(seconds, bytes, ratios from 0 to 1). A value starmon does not know (NULL in the store) is
left out of the answer, never sent as 0, so an alert on it does not fire on a gap.

Rounds by status are a gauge over the last hour, not a `_total` counter: counted from the
stored rounds, a counter would drop whenever retention deletes old ones, which Prometheus
would read as a reset and turn into a false increase.

The disk-full forecast is a fit over days of history (~0.1 s a cluster), too dear to redo for
hundreds of clusters on every scrape. Each cluster's fit is kept and redone once its cluster
has a newer round and the fit is REFIT_SECONDS old (the fit is over 10-minute averages, so a
round or two moves it little), and each scrape refits only as many as FIT_BUDGET_SECONDS
allows, oldest first; the rest keep their previous fit. The time to full is measured from the
scrape, so a kept fit still counts down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from . import read, schema, tokens, users
from .readings import Status
from .store import Store

ROUNDS_WINDOW_SECONDS = 3600
REFIT_SECONDS = read.FORECAST_BUCKET
FIT_BUDGET_SECONDS = 1.0
STATUSES = (Status.OK, Status.PARTIAL, Status.DOWN)
ROLES = (("FE", "frontend"), ("BE", "backend"), ("CN", "compute"))

# (name, help, stored column, factor to the base unit): the newest round's headline values
_GAUGES = (
    ("queries_per_second", "Queries per second over all FEs in the newest round.", "qps", 1.0),
    ("query_latency_p99_seconds", "p99 query latency of the newest round (highest FE).", "query_latency_p99", 1e-3),
    ("query_error_ratio", "Share of the queries since the previous round that failed (0-1).", "query_error_rate", 1e-2),
    ("disk_usage_ratio", "Disk used over all BEs in the newest round (0-1).", "disk_usage_pct", 1e-2),
    ("disk_used_bytes", "Disk used over all BEs in the newest round.", "disk_used_bytes", 1.0),
    ("disk_capacity_bytes", "Disk capacity over all BEs in the newest round.", "disk_total_bytes", 1.0),
)
_NEWEST_COLUMNS = ("id", "ts", "status", "collect_ms", *(column for *_, column, _ in _GAUGES)) + tuple(
    f"{word}_{kind}" for _, word in ROLES for kind in ("alive", "total")
)


@dataclass(frozen=True)
class _Fit:
    """One cluster's kept forecast: when it was fitted, on which newest round, and when the disk fills."""

    fitted_at: float
    snapshot_id: int
    full_at: float | None  # epoch seconds; None when the fit gives no date (too little history, not growing)


class ClusterCollector(Collector):
    """The prometheus_client collector of every enabled cluster's newest round, read at scrape time."""

    def __init__(self, store: Store, forecast_days: float, clock: Callable[[], float] = time.time):
        self.store = store
        self.forecast_days = forecast_days
        self.clock = clock
        self._fits: dict[int, _Fit] = {}
        self._lock = threading.Lock()  # concurrent scrapes share the kept fits and refit each cluster once

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        newest, rounds = self._read(now)
        with self._lock:
            self._refit(newest, now)
            full_at = {cid: fit.full_at for cid, fit in self._fits.items()}

        def family(name: str, help_text: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"starmon_cluster_{name}", help_text, labels=["cluster", *labels])

        up = family("up", "1 if the newest round reached the cluster (ok or partial), 0 if it found it down.")
        last = family("last_round_timestamp_seconds", "When the newest round started, in Unix time.")
        took = family("round_duration_seconds", "How long the newest round took.")
        by_status = family(
            "rounds_last_hour", "Rounds stored in the last hour, by status (a gauge over a window).", ("status",)
        )
        gauges = [(family(name, help_text), column, factor) for name, help_text, column, factor in _GAUGES]
        alive = family("nodes_alive", "Nodes the leader FE reported alive in the newest round.", ("role",))
        total = family("nodes", "Nodes in the cluster in the newest round.", ("role",))
        to_full = family(
            "disk_time_to_full_seconds",
            "Seconds until the disk forecast reaches 100% (the first BE to fill leads); absent when it gives no date.",
        )
        for row in newest:
            name = row["name"]
            for status in STATUSES:
                by_status.add_metric([name, status], rounds.get((row["cluster_id"], status), 0))
            if row["id"] is None:  # never collected: nothing else is known
                continue
            up.add_metric([name], 0 if row["status"] == Status.DOWN else 1)
            last.add_metric([name], row["ts"])
            took.add_metric([name], row["collect_ms"] / 1000)
            for metric, column, factor in gauges:
                if row[column] is not None:
                    metric.add_metric([name], row[column] * factor)
            for role, word in ROLES:
                for metric, kind in ((alive, "alive"), (total, "total")):
                    if row[f"{word}_{kind}"] is not None:
                        metric.add_metric([name, role], row[f"{word}_{kind}"])
            if full_at.get(row["cluster_id"]) is not None:
                to_full.add_metric([name], max(0.0, full_at[row["cluster_id"]] - now))
        yield from (up, last, took, by_status, *(metric for metric, _, _ in gauges), alive, total, to_full)

    def _read(self, now: float) -> tuple[list[dict], dict[tuple[int, str], int]]:
        """The newest round of every enabled cluster (columns None when it has none), by name, and the
        count of the last hour's rounds per (cluster id, status); one seek per cluster for each."""
        c, s, inner = schema.clusters, schema.metrics_snapshots, schema.metrics_snapshots.alias("newer")
        newest_id = sa.select(inner.c.id).where(inner.c.cluster_id == c.c.id).order_by(inner.c.ts.desc()).limit(1)
        newest = (
            sa.select(c.c.id.label("cluster_id"), c.c.name, *(s.c[name] for name in _NEWEST_COLUMNS))
            .select_from(c.outerjoin(s, s.c.id == newest_id.scalar_subquery()))
            .where(c.c.enabled)
            .order_by(c.c.name)
        )
        recent = (
            sa.select(c.c.id, s.c.status, sa.func.count())
            .select_from(c.join(s, sa.and_(s.c.cluster_id == c.c.id, s.c.ts > now - ROUNDS_WINDOW_SECONDS)))
            .where(c.c.enabled)
            .group_by(c.c.id, s.c.status)
        )

        def both(conn: sa.Connection) -> tuple[list[dict], dict[tuple[int, str], int]]:
            rows = [dict(row._mapping) for row in conn.execute(newest)]
            return rows, {(cid, status): count for cid, status, count in conn.execute(recent)}

        return self.store.read(both)

    def _refit(self, newest: list[dict], now: float) -> None:
        """Redo the stale forecasts, oldest fit first (never fitted before all), until FIT_BUDGET_SECONDS is spent."""
        ids = {row["cluster_id"]: row["id"] for row in newest if row["id"] is not None}
        for cid in self._fits.keys() - ids.keys():  # deleted, disabled or emptied since
            del self._fits[cid]
        stale = [
            cid
            for cid, snapshot_id in ids.items()
            if cid not in self._fits
            or (self._fits[cid].snapshot_id != snapshot_id and now - self._fits[cid].fitted_at >= REFIT_SECONDS)
        ]
        stale.sort(key=lambda cid: self._fits[cid].fitted_at if cid in self._fits else float("-inf"))
        started = time.perf_counter()
        for cid in stale:
            days = read.forecast(read.Reader(self.store), cid, self.forecast_days, now).headline["days_to_full"]
            self._fits[cid] = _Fit(now, ids[cid], None if days is None else now + days * 86400)
            if time.perf_counter() - started >= FIT_BUDGET_SECONDS:
                break  # at least one per scrape, so every cluster gets its turn


def registry(store: Store, forecast_days: float) -> CollectorRegistry:
    """A private registry holding only the cluster collector (no process or Python metrics of the server)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(ClusterCollector(store, forecast_days))
    return reg


def route(
    store: Store,
    forecast_days: float,
    *,
    oidc: Callable[[], bool] = lambda: False,
    limiter: tokens.FailureLimiter | None = None,
) -> Route:
    """`GET /metrics` for st.App(routes=...): the exposition of the registry, in text format 0.0.4.

    Who may scrape is who may call the HTTP API (starmon.api): anyone while the dashboard is open
    (no account, no single sign-on, as `oidc` tells), otherwise a scraper with a token from
    `python -m starmon tokens add` (either role: this only reads), as Prometheus sends it with
    `authorization: {credentials: ...}`. Failed scrapes are limited per client address.

    0.0.4 rather than prometheus_client's newer default, so every Prometheus 2.x reads it as is;
    every name here is a classic one, so the two versions print the same text.
    """
    reg = registry(store, forecast_days)
    limiter = limiter or tokens.FailureLimiter()

    def metrics(request: Request) -> Response:  # plain def: Starlette runs it in a thread, off the event loop
        client = request.client.host if request.client else "unknown"
        wait = limiter.retry_after(client)
        if wait:
            return PlainTextResponse(
                f"too many failed scrapes from this address; try again in {wait} s\n",
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
        if oidc() or users.access(store) != "open":
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or tokens.verify(store, token.strip()) is None:
                limiter.failed(client)
                message = "this token is unknown or revoked" if token else "send Authorization: Bearer <token>"
                return PlainTextResponse(message + "\n", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(reg), media_type=CONTENT_TYPE_PLAIN_0_0_4)

    return Route("/metrics", metrics, methods=["GET"])
