"""The read side: time ranges, bucketed series and the overview, as DataFrames and dicts.

Shared by the dashboard and `python -m starmon overview`. Charts never get raw rows:
every series is bucketed in SQL to at most MAX_POINTS points, averaging rates and
keeping the maximum where a spike matters (p99 latency, disk), as `metrics.py` says.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

import pandas as pd
import sqlalchemy as sa

from . import forecast as fc
from . import health, schema
from .columns import NODE_BY_NAME, SNAPSHOT_BY_NAME
from .readings import Status
from .store import Store

RANGES = {
    "1h": 3600,
    "6h": 6 * 3600,
    "24h": 86400,
    "3d": 3 * 86400,
    "7d": 7 * 86400,
    "30d": 30 * 86400,
    "90d": 90 * 86400,
}
RAW_SPAN = RANGES["7d"]  # longer ranges read the hourly tier (raw rounds are kept 7 days by default)
DEFAULT_RANGE = "24h"
MAX_POINTS = 1500
MIN_BUCKET = 30
MAX_CUSTOM_DAYS = 90
FORECAST_BUCKET = 600  # the forecast fits 10-minute averages


@dataclass(frozen=True)
class TimeRange:
    """A closed time window in UTC epoch seconds, and the chart bucket that fits it."""

    start: float
    end: float
    label: str
    pruned: bool = False  # its raw rounds were pruned while its hourly rows are kept (see on_tier)

    @property
    def hourly(self) -> bool:
        """Whether the range is answered from the hourly tier rather than raw rounds."""
        return self.pruned or self.end - self.start > RAW_SPAN + 3600  # a 7-day window a moment long stays raw

    @property
    def bucket(self) -> int:
        seconds = max(MIN_BUCKET, math.ceil((self.end - self.start) / MAX_POINTS))
        return max(seconds, 3600) if self.hourly else seconds

    def reaches(self, now: float) -> bool:
        """Whether the range runs up to now: relative ranges always do, a custom one if it ends today."""
        return self.label in RANGES or self.end >= now

    @property
    def phrase(self) -> str:
        """For sentences: "the last 24h", or "Nov 01 – Nov 08" for a custom range (UTC dates)."""
        return f"the last {self.label}" if self.label in RANGES else self._dates()

    @property
    def title(self) -> str:
        """For captions: "Last 24h", or "Nov 01 – Nov 08"."""
        return f"Last {self.label}" if self.label in RANGES else self._dates()

    def _dates(self) -> str:
        day = lambda ts: datetime.fromtimestamp(ts, UTC).strftime("%b %d")  # noqa: E731
        return f"{day(self.start)} – {day(self.end - 1)}"


def _parse_day(text: str, name: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"{name} {text!r} is not a date like 2026-11-24 or 2026-11-24T08:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_range(label: str | None, now: float, start: str | None = None, end: str | None = None) -> TimeRange:
    """`1h`, `6h`, `24h`, `3d`, `7d`, or `custom` with ISO start and end; ValueError otherwise."""
    label = label or DEFAULT_RANGE
    if label in RANGES:
        return TimeRange(now - RANGES[label], now, label)
    if label != "custom":
        raise ValueError(f"unknown range {label!r}; choose {', '.join(RANGES)} or custom")
    if not start or not end:
        raise ValueError("a custom range needs both a start and an end")
    t0, t1 = _parse_day(start, "start"), _parse_day(end, "end")
    if t1 <= t0:
        raise ValueError("the end of a custom range must come after its start")
    if t1 - t0 > MAX_CUSTOM_DAYS * 86400:
        raise ValueError(f"a custom range can span at most {MAX_CUSTOM_DAYS} days")
    return TimeRange(t0, t1, "custom")


def anchored(tr: TimeRange) -> TimeRange:
    """A relative range with its end rounded up to its bucket, as the pages show it: reruns
    within a bucket share cache entries. Custom ranges stay as they are."""
    if tr.label == "custom":
        return tr
    end = math.ceil(tr.end / tr.bucket) * tr.bucket
    return TimeRange(end - RANGES[tr.label], end, tr.label)


def on_tier(tr: TimeRange, first_raw: float | None, first_hourly: float | None) -> TimeRange:
    """The range as a cluster's reads take it, given its oldest raw round and oldest hourly row.

    Long ranges read the hourly tier anyway. A shorter one reads it too when it reaches back past
    the oldest raw round kept by at least a whole hour the hourly tier holds: its rounds were pruned
    (retention_days) while their hourly rows are kept longer, so raw rounds would draw nothing, or
    only the range's end. A cluster's first hour, rolled up while its rounds are still there, never
    counts: the hour must end before the oldest round.
    """
    if tr.hourly or first_hourly is None:
        return tr
    raw_from = first_raw if first_raw is not None else math.inf
    if max(tr.start, first_hourly) <= min(tr.end, raw_from) - 3600:
        return dataclasses.replace(tr, pruned=True)
    return tr


def _rolled(column: sa.ColumnElement, rollup: str) -> sa.ColumnElement:
    """avg or max of a column as a float (PostgreSQL's avg of integers is a Decimal)."""
    return sa.cast(getattr(sa.func, rollup)(column), sa.Float)


def _computed(s: sa.Table, name: str) -> sa.ColumnElement:
    """A bucket's value of a derived cluster series (columns.DERIVED_METRICS), from raw rounds or hourly rows."""
    if name == "fe_jvm_heap_pct":
        used, limit = sa.func.avg(s.c.fe_jvm_heap_used_bytes), sa.func.avg(s.c.fe_jvm_heap_max_bytes)
        return 100.0 * sa.cast(used, sa.Float) / sa.func.nullif(sa.cast(limit, sa.Float), 0)
    if name == "down_pct":
        if "down_rounds" in s.c:
            return 100.0 * sa.cast(sa.func.sum(s.c.down_rounds), sa.Float) / sa.func.sum(s.c.rounds)
        return 100.0 * sa.cast(sa.func.avg(sa.case((s.c.status == Status.DOWN, 1), else_=0)), sa.Float)
    raise KeyError(f"no cluster series {name!r}")


def as_times(df: pd.DataFrame, column: str = "ts") -> pd.DataFrame:
    """The frame with its epoch-seconds column replaced by `time`, UTC datetimes."""
    df["time"] = pd.to_datetime(df.pop(column), unit="s", utc=True)
    return df


class Reader:
    """Queries for the dashboard and the CLI, over one Store."""

    def __init__(self, store: Store):
        self.store = store

    def frame(self, query) -> pd.DataFrame:
        """The rows of `query` as a DataFrame, its columns named as selected."""

        def frame(conn: sa.Connection) -> pd.DataFrame:
            result = conn.execute(query)
            # Plain tuples: pandas probes every Row for namedtuple fields, which costs more than the query.
            return pd.DataFrame([tuple(row) for row in result.fetchall()], columns=list(result.keys()))

        return self.store.read(frame)

    def one(self, query) -> dict | None:
        """The first row of `query` as a dict, or None."""
        row = self.store.read(lambda conn: conn.execute(query).first())
        return dict(row._mapping) if row is not None else None

    # -- clusters and freshness ------------------------------------------------------------
    def clusters(self) -> list[dict]:
        """Every cluster row (no secrets are stored there), by name."""
        c = schema.clusters
        return self.store.read(lambda conn: [dict(r._mapping) for r in conn.execute(sa.select(c).order_by(c.c.name))])

    def newest_id(self, cluster_id: int) -> int | None:
        """Id of the newest snapshot: a small cache key that changes when new data lands."""
        s = schema.metrics_snapshots
        return self.one(sa.select(sa.func.max(s.c.id).label("id")).where(s.c.cluster_id == cluster_id))["id"]

    def latest(self, cluster_id: int, before: float | None = None) -> dict | None:
        """The newest snapshot (at or before `before`), or None."""
        s = schema.metrics_snapshots
        query = sa.select(s).where(s.c.cluster_id == cluster_id)
        if before is not None:
            query = query.where(s.c.ts <= before)
        return self.one(query.order_by(s.c.ts.desc()).limit(1))

    def last_good(self, cluster_id: int) -> dict | None:
        """The newest snapshot that was not `down`: what freshness is measured from."""
        s = schema.metrics_snapshots
        return self.one(
            sa.select(s).where(s.c.cluster_id == cluster_id, s.c.status != Status.DOWN).order_by(s.c.ts.desc()).limit(1)
        )

    def tier(self, cluster_id: int, tr: TimeRange) -> TimeRange:
        """The range as this cluster's reads take it (on_tier): on the hourly tier where its rounds
        were pruned. One statement of two index seeks, asked only of ranges short enough for raw rounds."""
        if tr.hourly:
            return tr
        s, h = schema.metrics_snapshots, schema.hourly_snapshots
        first = lambda t: sa.select(sa.func.min(t.c.ts)).where(t.c.cluster_id == cluster_id).scalar_subquery()  # noqa: E731
        row = self.one(sa.select(first(s).label("raw"), first(h).label("hourly")))
        return on_tier(tr, row["raw"], row["hourly"])

    def first_in(self, cluster_id: int, tr: TimeRange) -> dict | None:
        """The oldest snapshot (or hourly row, for long ranges) inside the range, for deltas over it."""
        tr = self.tier(cluster_id, tr)
        s = schema.hourly_snapshots if tr.hourly else schema.metrics_snapshots
        row = self.one(
            sa.select(s)
            .where(s.c.cluster_id == cluster_id, s.c.ts >= tr.start, s.c.ts <= tr.end)
            .order_by(s.c.ts)
            .limit(1)
        )
        if row is not None and tr.hourly:
            row["status"] = Status.DOWN if row["down_rounds"] == row["rounds"] else Status.OK
        return row

    # -- series --------------------------------------------------------------------------------
    def series(self, cluster_id: int, tr: TimeRange, columns: list[str]) -> pd.DataFrame:
        """Cluster metrics bucketed over the range: columns `time` plus the requested ones, stored
        or derived (`fe_jvm_heap_pct`, `down_pct`)."""
        tr = self.tier(cluster_id, tr)
        s = schema.hourly_snapshots if tr.hourly else schema.metrics_snapshots
        bucket = self.store.bucket(s.c.ts, tr.bucket).label("ts")
        aggs = [
            (_rolled(s.c[c], SNAPSHOT_BY_NAME[c].rollup) if c in SNAPSHOT_BY_NAME else _computed(s, c)).label(c)
            for c in columns
        ]
        query = (
            sa.select(bucket, *aggs)
            .where(s.c.cluster_id == cluster_id, s.c.ts >= tr.start, s.c.ts <= tr.end)
            .group_by(bucket)
            .order_by(bucket)
        )
        return as_times(self.frame(query))

    def node_series(self, cluster_id: int, tr: TimeRange, columns: list[str], role: str | None = None) -> pd.DataFrame:
        """Per-node metrics bucketed over the range: `time`, `role`, `host` and the columns."""
        tr = self.tier(cluster_id, tr)
        n = schema.node_hourly if tr.hourly else schema.node_snapshots
        bucket = self.store.bucket(n.c.ts, tr.bucket).label("ts")
        aggs = [_rolled(n.c[c], NODE_BY_NAME[c].rollup).label(c) for c in columns]
        query = sa.select(bucket, n.c.role, n.c.host, *aggs).where(
            n.c.cluster_id == cluster_id, n.c.ts >= tr.start, n.c.ts <= tr.end
        )
        if role:
            query = query.where(n.c.role == role)
        query = query.group_by(bucket, n.c.role, n.c.host).order_by(bucket, n.c.role, n.c.host)
        return as_times(self.frame(query))

    def nodes(self, snapshot_id: int) -> pd.DataFrame:
        """The node rows of one snapshot."""
        n = schema.node_snapshots
        return self.frame(sa.select(n).where(n.c.snapshot_id == snapshot_id).order_by(n.c.role, n.c.host))

    def dead_nodes(self, cluster_id: int, snapshot: dict) -> list[dict]:
        """Nodes not alive in a snapshot, with the time their dead streak began."""
        n = schema.node_snapshots

        def streaks(conn: sa.Connection) -> list[dict]:
            out = []
            # NULL alive is unknown, not dead.
            dead = conn.execute(
                sa.select(n.c.role, n.c.host)
                .where(n.c.snapshot_id == snapshot["id"], n.c.alive == False)  # noqa: E712
                .order_by(n.c.role, n.c.host)
            ).all()
            for role, host in dead:
                # up to the snapshot shown: for past dates, a later recovery or death is not this streak
                same = sa.and_(
                    n.c.cluster_id == cluster_id, n.c.role == role, n.c.host == host, n.c.ts <= snapshot["ts"]
                )
                last_alive = (
                    sa.select(sa.func.max(n.c.ts))
                    .where(same, n.c.alive == True)  # noqa: E712
                    .scalar_subquery()
                )
                first_dead = conn.execute(
                    sa.select(sa.func.min(n.c.ts)).where(same, n.c.ts > sa.func.coalesce(last_alive, 0))
                ).scalar()
                out.append({"role": role, "host": host, "since": first_dead})
            return out

        return self.store.read(streaks)

    # -- data statistics ------------------------------------------------------------------------
    def statistics(self, cluster_id: int) -> dict | None:
        """The newest data-statistics pass with its JSON lists decoded."""
        d = schema.data_statistics
        row = self.one(sa.select(d).where(d.c.cluster_id == cluster_id).order_by(d.c.ts.desc()).limit(1))
        if row:
            for key in ("top_tables", "materialized_views", "schema_changes"):
                row[key] = json.loads(row[key]) if row[key] else None
        return row

    def disk_history(self, cluster_id: int, tr: TimeRange, step: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Used and total disk bytes per `step` seconds: for the cluster, and per BE (`ts`, `used`, `total`)."""
        s, n = schema.metrics_snapshots, schema.node_snapshots
        bucket = self.store.bucket(s.c.ts, step).label("ts")
        cluster = self.frame(
            sa.select(
                bucket,
                _rolled(s.c.disk_used_bytes, "avg").label("used"),
                _rolled(s.c.disk_total_bytes, "max").label("total"),
            )
            .where(s.c.cluster_id == cluster_id, s.c.ts >= tr.start, s.c.ts <= tr.end, s.c.disk_used_bytes.is_not(None))
            .group_by(bucket)
            .order_by(bucket)
        )
        nbucket = self.store.bucket(n.c.ts, step).label("ts")
        nodes = self.frame(
            sa.select(
                nbucket,
                n.c.host,
                _rolled(n.c.disk_used_bytes, "avg").label("used"),
                _rolled(n.c.disk_total_bytes, "max").label("total"),
            )
            .where(
                n.c.cluster_id == cluster_id,
                n.c.role == "BE",
                n.c.ts >= tr.start,
                n.c.ts <= tr.end,
                n.c.disk_used_bytes.is_not(None),
            )
            .group_by(nbucket, n.c.host)
            .order_by(n.c.host, nbucket)
        )
        return cluster, nodes

    # -- aggregates -----------------------------------------------------------------------------
    def aggregates(self, cluster_id: int, tr: TimeRange) -> dict:
        """Range summary: average and peak QPS, worst p99, error rate, availability (units: AGGREGATE_UNITS)."""
        tr = self.tier(cluster_id, tr)
        if tr.hourly:
            s = schema.hourly_snapshots
            peak, rounds, up = s.c.qps_max, sa.func.sum(s.c.rounds), sa.func.sum(s.c.rounds - s.c.down_rounds)
        else:
            s = schema.metrics_snapshots
            peak, rounds = s.c.qps, sa.func.count()
            up = sa.func.sum(sa.case((s.c.status != Status.DOWN, 1), else_=0))
        in_range = sa.and_(s.c.cluster_id == cluster_id, s.c.ts >= tr.start, s.c.ts <= tr.end)
        row = self.one(
            sa.select(
                sa.func.avg(s.c.qps).label("avg_qps"),
                sa.func.max(peak).label("max_qps"),
                sa.func.max(s.c.query_latency_p99).label("p99_latency_ms"),
                sa.func.avg(s.c.query_error_rate).label("error_rate"),
                rounds.label("rounds"),
                up.label("up"),
            ).where(in_range)
        )
        rounds, up = row.pop("rounds"), row.pop("up")
        row["availability_pct"] = 100.0 * up / rounds if rounds else None
        return row


AGGREGATE_UNITS = {
    "avg_qps": "queries/s",
    "max_qps": "queries/s",
    "p99_latency_ms": "ms",
    "error_rate": "%",
    "availability_pct": "%",
}


class Capacity(NamedTuple):
    """The disk-full forecast: the JSON headline, every fit (cluster first), and the history they
    were fitted on (`time`, `subject`, `used_pct`), so a chart shows exactly what was fitted."""

    headline: dict
    fits: list[fc.Forecast]
    history: pd.DataFrame


def forecast(reader: Reader, cluster_id: int, window_days: float, now: float | None = None) -> Capacity:
    """The disk-full forecast of a cluster, from 10-minute averages of used bytes, per BE and in all."""
    now = time.time() if now is None else now
    tr = TimeRange(now - window_days * 86400, now, "forecast")
    cluster_df, node_df = reader.disk_history(cluster_id, tr, FORECAST_BUCKET)
    newest = reader.latest(cluster_id, before=now)
    members = reader.nodes(newest["id"])["host"] if newest is not None else pd.Series(dtype=object)
    if len(members):  # a BE removed in the window has history but no future: no forecast of its own
        node_df = node_df[node_df["host"].isin(set(members))]
    # (history, subject, capacity): the cluster against its newest total, each BE against its own
    series = [(cluster_df, "cluster", float(cluster_df["total"].iloc[-1]) if len(cluster_df) else 0.0)]
    series += [(part, f"BE {host}", float(part["total"].iloc[-1])) for host, part in node_df.groupby("host", sort=True)]
    middle = FORECAST_BUCKET / 2
    fits = [fc.fit(df["ts"] + middle, df["used"], capacity, subject, now=now) for df, subject, capacity in series]
    history = pd.concat([_fitted_points(df, fit, middle) for (df, _, _), fit in zip(series, fits)], ignore_index=True)
    return Capacity(fc.headline(fits[0], fits[1:]), fits, history)


def _fitted_points(df: pd.DataFrame, fit: fc.Forecast, middle: float) -> pd.DataFrame:
    """A fit's points in % of the capacity it was fitted to, so dots and trend agree (of each
    bucket's own total where too little history allowed no fit)."""
    return pd.DataFrame(
        {
            "time": pd.to_datetime(df["ts"] + middle, unit="s", utc=True),
            "subject": fit.subject,
            "used_pct": (100 * df["used"] / (fit.capacity or df["total"])).astype(float),
        }
    )


@dataclass(frozen=True)
class Health:
    """A cluster's state at the end of a range: its newest round there, the cards, the dead nodes."""

    snapshot: dict | None
    cards: list[health.CardValue]
    dead_nodes: list[dict]
    since: float | None = None  # when the range's first round was taken: what the deltas are against


def health_at(reader: Reader, cluster_id: int, tr: TimeRange, cards: tuple = health.CARDS) -> Health:
    """The health cards as of the range's end, deltas over the range, and the dead nodes (what is
    wrong reads them: wrong_now.problems): the Overview's reads.

    For a relative range the end is now; a custom range in the past shows the cluster as it was.
    """
    snap = reader.latest(cluster_id, before=tr.end)
    if snap is None:
        return Health(None, [], [])
    first = reader.first_in(cluster_id, tr)
    values = health.cards(snap, first, cards)
    since = first["ts"] if first is not None and any(v.delta is not None for v in values) else None
    return Health(snap, values, reader.dead_nodes(cluster_id, snap), since)


def find_cluster(reader: Reader, key: str | int) -> dict:
    """The clusters-table row named by `key`, its name or its id (a name wins, since names may be
    digits); LookupError listing the known names otherwise."""
    known = reader.clusters()
    match = next((c for c in known if c["name"] == str(key)), None)
    match = match or next((c for c in known if str(c["id"]) == str(key)), None)
    if match is None:
        raise LookupError(f"unknown cluster {str(key)[:80]!r} (known: {', '.join(c['name'] for c in known) or 'none'})")
    return match


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
