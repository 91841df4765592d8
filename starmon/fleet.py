"""The fleet: every enabled cluster in one view, ranked by risk, worst first.

At 200 clusters the page must not cost 200 Overviews, so `read` asks one query per column
across all clusters (newest rounds, QPS trends, events, firing alerts, disk history), never
one per cluster; the statement count stays the same whatever the number of clusters.

Days to 95 % use the Overview's fit (starmon.forecast: a robust line per BE and for the
cluster, the first BE to fill leads) on the hourly tier rather than 10-minute averages of
raw rounds: 168 points a week per series instead of 20,160 raw rows per cluster. Even so a fit
costs more than the rest of a cluster's line, so fits are kept and a read refits only some
(Fleet._disk_forecasts). The current hour is rolled up once it ends, so the fleet's date can
trail the Overview's by up to an hour of growth.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import groupby

import sqlalchemy as sa

from . import forecast as fc
from . import health, schema
from .read import TimeRange
from .readings import Status
from .store import Store

TREND_POINTS = 48  # a sparkline needs no more
HOURLY_FROM = 86400  # ranges this long or longer draw their trend from the hourly tier
FITS_KEPT = 8  # (database, forecast window) pairs whose disk forecasts are remembered
FITS_PER_READ = 50  # disk forecasts a read refits at most (see Fleet._disk_forecasts)
PENDING = f"not fitted yet: the fleet fits {FITS_PER_READ} clusters' disk forecasts per read"
_fits: dict[tuple, dict[int, tuple]] = {}
LEVEL = {health.OK: 0, health.UNKNOWN: 0, health.WARNING: 1, health.CRITICAL: 2}
_NODE_COUNTS = (("frontend_total", "frontend_alive"), ("backend_total", "backend_alive"))
_COMPUTE = ("compute_total", "compute_alive")


@dataclass(frozen=True)
class Cluster:
    """One cluster's line in the fleet: its newest round, forecast, alerts and events; None is unknown."""

    id: int
    name: str
    tags: tuple[str, ...] = ()
    status: str | None = None  # ok, partial, down; None before its first round
    version: str | None = None
    collected_at: float | None = None  # when the newest round shown was taken
    nodes_alive: int | None = None
    nodes_total: int | None = None
    qps: float | None = None
    p99_ms: float | None = None
    error_rate: float | None = None
    disk_pct: float | None = None
    days_to_95: float | None = None  # 0 when already above 95 %
    disk_forecast: str = "n/a"  # the forecast in words (forecast.describe), or why there is none
    forecast_at: float | None = None  # when the disk forecast shown was fitted; None before its first fit
    critical_alerts: int = 0
    events: int = 0
    qps_trend: list[float] = field(default_factory=list)
    p99_level: str = health.UNKNOWN
    error_level: str = health.UNKNOWN

    @property
    def dead_nodes(self) -> int | None:
        if self.nodes_total is None or self.nodes_alive is None:
            return None
        return self.nodes_total - self.nodes_alive

    @property
    def down(self) -> bool:
        """Down, or never collected: either way nothing vouches for it."""
        return self.status in (None, Status.DOWN)


def risk(cluster: Cluster) -> tuple:
    """The sort key of a cluster, worst first: down; dead nodes; firing critical alerts; days to
    95 % of disk; then p99 latency and error rate against their thresholds; then by name."""
    levels = (LEVEL[cluster.p99_level], LEVEL[cluster.error_level])
    days = cluster.days_to_95 if cluster.days_to_95 is not None else math.inf
    return (
        not cluster.down,
        -(cluster.dead_nodes or 0),
        -cluster.critical_alerts,
        days,
        -max(levels),
        -sum(levels),
        cluster.name.lower(),
    )


def rank(clusters: list[Cluster]) -> list[Cluster]:
    """The clusters ordered by `risk`, worst first."""
    return sorted(clusters, key=risk)


def matching(clusters: list[Cluster], text: str = "", tags: list[str] | tuple[str, ...] = ()) -> list[Cluster]:
    """Clusters whose name contains `text` (any case) and that carry every tag in `tags`."""
    needle = text.strip().lower()
    return [c for c in clusters if needle in c.name.lower() and set(tags) <= set(c.tags)]


def all_tags(clusters: list[Cluster]) -> list[str]:
    """Every tag in use, sorted: the fleet's tag filter offers these."""
    return sorted({t for c in clusters for t in c.tags})


def parse_tags(text: str | None) -> tuple[str, ...]:
    """A clusters row's `tags` column (JSON list text) as a tuple; anything else as no tags."""
    try:
        tags = json.loads(text or "[]")
    except ValueError:
        return ()
    return tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()


def _count(row: dict, columns: tuple[str, str]) -> tuple[int, int] | None:
    total, alive = row.get(columns[0]), row.get(columns[1])
    return None if total is None or alive is None else (total, alive)


def _nodes(row: dict) -> tuple[int | None, int | None]:
    """(alive, total) over FEs, BEs and compute nodes; unknown when any reported count is missing."""
    counts = [_count(row, c) for c in (*_NODE_COUNTS, _COMPUTE)]
    if counts[0] is None or counts[1] is None:
        return None, None
    known = [c for c in counts if c is not None]
    return sum(a for _, a in known), sum(t for t, _ in known)


def _trend_source(tr: TimeRange) -> tuple[sa.Table, int]:
    """Where a range's QPS trend is read from (raw rounds or the hourly tier), and its bucket."""
    span = tr.end - tr.start
    if span >= HOURLY_FROM:
        return schema.hourly_snapshots, max(3600, math.ceil(span / TREND_POINTS / 3600) * 3600)
    return schema.metrics_snapshots, max(30, math.ceil(span / TREND_POINTS))


class Fleet:
    """The fleet's reads over one Store: a constant number of statements for any number of clusters."""

    def __init__(self, store: Store):
        self.store = store

    def read(self, tr: TimeRange, cards: tuple = health.CARDS, forecast_days: float = 7, now: float = 0) -> list:
        """Every enabled cluster as of the range's end, ranked by risk; `now` anchors the disk forecast."""
        return self.store.read(lambda conn: rank(self._clusters(conn, tr, cards, forecast_days, now or tr.end)))

    def _clusters(self, conn: sa.Connection, tr: TimeRange, cards: tuple, days: float, now: float) -> list[Cluster]:
        c = schema.clusters
        rows = conn.execute(sa.select(c.c.id, c.c.name, c.c.tags).where(c.c.enabled).order_by(c.c.name)).all()
        ids = [r.id for r in rows]
        if not ids:
            return []
        newest = self._newest(conn, tr)
        trends = self._trends(conn, ids, tr)
        events = self._grouped(conn, schema.events, ids, schema.events.c.ts.between(tr.start, tr.end))
        a = schema.alerts
        alerts = self._grouped(conn, a, ids, sa.and_(a.c.state == "firing", a.c.severity == health.CRITICAL))
        disks = self._disk_forecasts(conn, ids, now, days)
        by_key = {card.key: card for card in cards}
        out = []
        for r in rows:
            snap = newest.get(r.id, {})
            alive, total = _nodes(snap)
            p99, errors = snap.get("query_latency_p99"), snap.get("query_error_rate")
            fitted_at, lead = disks.get(r.id, (None, None))
            said = (fc.describe(lead) if lead else "n/a") if r.id in disks else PENDING
            out.append(
                Cluster(
                    r.id,
                    r.name,
                    parse_tags(r.tags),
                    snap.get("status"),
                    snap.get("version"),
                    snap.get("ts"),
                    alive,
                    total,
                    snap.get("qps"),
                    p99,
                    errors,
                    snap.get("disk_usage_pct"),
                    _days_to_95(lead),
                    said,
                    fitted_at,
                    alerts.get(r.id, 0),
                    events.get(r.id, 0),
                    trends.get(r.id, []),
                    by_key["query_latency_p99"].status(p99),
                    by_key["query_error_rate"].status(errors),
                )
            )
        return out

    def _newest(self, conn: sa.Connection, tr: TimeRange) -> dict[int, dict]:
        """The newest round of every enabled cluster at or before the range's end, in one statement:
        per cluster, an index seek for its newest time, then the row at that time."""
        c, s = schema.clusters, schema.metrics_snapshots
        m = s.alias("m")
        newest_ts = sa.select(sa.func.max(m.c.ts)).where(m.c.cluster_id == c.c.id, m.c.ts <= tr.end).scalar_subquery()
        query = sa.select(s).select_from(c.join(s, sa.and_(s.c.cluster_id == c.c.id, s.c.ts == newest_ts)))
        return {row.cluster_id: dict(row._mapping) for row in conn.execute(query.where(c.c.enabled))}

    def _trends(self, conn: sa.Connection, ids: list[int], tr: TimeRange) -> dict[int, list[float]]:
        """Average QPS per bucket over the range, every cluster in one bucketed statement."""
        table, seconds = _trend_source(tr)
        bucket = self.store.bucket(table.c.ts, seconds).label("ts")
        query = (
            sa.select(table.c.cluster_id, bucket, sa.cast(sa.func.avg(table.c.qps), sa.Float).label("qps"))
            .where(table.c.cluster_id.in_(ids), table.c.ts >= tr.start, table.c.ts <= tr.end)
            .group_by(table.c.cluster_id, bucket)
            .order_by(table.c.cluster_id, bucket)
        )
        out: dict[int, list[float]] = defaultdict(list)
        for cid, _, qps in conn.execute(query):
            if qps is not None:
                out[cid].append(qps)
        return out

    @staticmethod
    def _grouped(conn: sa.Connection, table: sa.Table, ids: list[int], condition) -> dict[int, int]:
        """Rows of `table` meeting `condition`, counted per cluster in one statement."""
        query = (
            sa.select(table.c.cluster_id, sa.func.count())
            .where(table.c.cluster_id.in_(ids), condition)
            .group_by(table.c.cluster_id)
        )
        return dict(conn.execute(query).all())

    def _disk_forecasts(self, conn: sa.Connection, ids: list[int], now: float, days: float) -> dict[int, tuple]:
        """Every cluster's (time fitted, forecast lead or None), fitted on hourly disk use; a cluster
        left out is still waiting for its first fit.

        A fit costs ~3.5 ms a cluster (its hourly rows and each BE's, 4 robust fits), so all 200
        would cost several Overviews. A cluster's fit is kept until its hourly tier changes (a row
        more, a newer hour: one grouped statement tells) or the hour turns, and a read refits at
        most FITS_PER_READ clusters, those never fitted first, then the longest kept: when every
        hourly tier changes at once, the rest show their previous hour's fit for a read or two.
        """
        h = schema.hourly_snapshots
        hour = now // 3600
        states = {
            cid: (count, newest, hour)
            for cid, count, newest in conn.execute(
                sa.select(h.c.cluster_id, sa.func.count(), sa.func.max(h.c.ts))
                .where(h.c.cluster_id.in_(ids), h.c.ts >= now - days * 86400)
                .group_by(h.c.cluster_id)
            )
        }
        key = (self.store.url, days)
        if key not in _fits:
            while len(_fits) >= FITS_KEPT:
                _fits.pop(next(iter(_fits)))
            _fits[key] = {}
        kept = _fits[key]  # cluster id -> (its hourly state, time fitted, lead), longest kept first
        wanted = set(ids)
        for gone in [cid for cid in kept if cid not in wanted]:
            del kept[gone]
        never = [cid for cid in ids if cid not in kept]
        stale = [cid for cid, (state, *_) in kept.items() if state != states.get(cid, (0, None, hour))]
        refit = (never + stale)[:FITS_PER_READ]
        if refit:
            leads = self._fit_disks(conn, refit, now, days)
            for cid in refit:
                kept.pop(cid, None)  # to the end: the longest kept are refitted first
                kept[cid] = (states.get(cid, (0, None, hour)), now, leads.get(cid))
        return {cid: kept[cid][1:] for cid in ids if cid in kept}

    def _fit_disks(self, conn: sa.Connection, ids: list[int], now: float, days: float) -> dict[int, dict]:
        """The forecast leads of these clusters: the first BE to fill, else the cluster's own fit
        (read only for clusters with no BE filling); two statements at most for all of them."""
        h, n = schema.hourly_snapshots, schema.node_hourly
        start = now - days * 86400

        def rows(t: sa.Table, subject, wanted: list[int], *only) -> list:
            window = sa.and_(t.c.ts >= start, t.c.ts <= now, t.c.disk_used_bytes.is_not(None), *only)
            query = sa.select(t.c.cluster_id, subject, t.c.ts, t.c.disk_used_bytes, t.c.disk_total_bytes)
            query = query.where(t.c.cluster_id.in_(wanted), window)
            return conn.execute(query.order_by(t.c.cluster_id, subject, t.c.ts)).all()

        nodes = _fitted(rows(n, n.c.host, ids, n.c.role == "BE"), "BE ", now)
        leads = {cid: _lead(first, first) for cid, fits in nodes.items() if (first := fc.first_to_fill(fits))}
        rest = [cid for cid in ids if cid not in leads]
        if rest:
            own = _fitted(rows(h, sa.literal("cluster"), rest), "", now)
            leads |= {cid: _lead(fit, None) for cid, (fit,) in own.items()}
        return leads


def _fitted(rows: list, prefix: str, now: float) -> dict[int, list[fc.Forecast]]:
    """Each cluster's fits of (cluster id, subject, ts, used, total) rows ordered by cluster, subject
    and time: one per subject, named `prefix` + subject.

    The hourly tier keeps each hour's highest disk use, which a growing disk reaches at the hour's
    end: the point goes there. As many hourly points are asked for as hours the Overview asks of
    its 10-minute points.
    """
    out: dict[int, list[fc.Forecast]] = defaultdict(list)
    for (cid, subject), points in groupby(rows, key=lambda row: (row[0], row[1])):
        _, _, ts, used, total = zip(*points)
        capacity = float(total[-1] or 0)
        hour_ends = [t + 3600 for t in ts]
        out[cid].append(fc.fit(hour_ends, used, capacity, prefix + subject, now=now, min_points=int(fc.MIN_HOURS)))
    return out


def _lead(lead: fc.Forecast, first: fc.Forecast | None) -> dict:
    """forecast.headline's lead, the fields forecast.describe reads."""
    fields = ("status", "days_to_95", "at_95", "interval_days", "message")
    return {key: getattr(lead, key) for key in fields} | {"first_node": first.subject if first else None}


def _days_to_95(lead: dict | None) -> float | None:
    """Days until the first disk reaches 95 %: 0 when one is already past it, None when unknown."""
    if lead is None:
        return None
    if lead["status"] == "above_threshold":
        return 0.0
    return lead["days_to_95"]
