"""Hourly and daily rollups, and retention: what keeps long ranges fast and the file bounded.

Every rollup is idempotent (a period's rows are replaced, never added to) and catches up
on every complete period since the last one, so a collector that was down for days fills
the gap on its next run. Retention deletes in small batches, each its own short write
transaction, so the dashboard never waits long; SQLite then hands the freed pages back
through incremental vacuum.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from . import events, schema
from .columns import NODE_METRICS, SNAPSHOT_METRICS
from .readings import Status
from .store import Store

log = logging.getLogger(__name__)
HOUR = 3600
DAY = 86400
DELETE_BATCH = 5000


def _complete_periods(
    store: Store, table: sa.Table, cluster_id: int, rolled: sa.Table, size: int, now: float, rolled_ts
) -> list[float]:
    """Starts of periods that have raw data, ended before `now`, and are not rolled up yet
    (the newest rolled period is redone, in case rows arrived after it was rolled)."""
    last, first = store.read(
        lambda conn: (
            conn.execute(sa.select(sa.func.max(rolled_ts)).where(rolled.c.cluster_id == cluster_id)).scalar(),
            conn.execute(sa.select(sa.func.min(table.c.ts)).where(table.c.cluster_id == cluster_id)).scalar(),
        )
    )
    if first is None:
        return []
    start = max(first // size * size, (last or 0))
    end = now // size * size
    return [float(t) for t in range(int(start), int(end), size)]


def roll_up_hours(store: Store, cluster_id: int, now: float | None = None) -> int:
    """Roll complete hours into hourly_snapshots and node_hourly; returns hours written."""
    now = time.time() if now is None else now
    s = schema.metrics_snapshots
    hours = _complete_periods(store, s, cluster_id, schema.hourly_snapshots, HOUR, now, schema.hourly_snapshots.c.ts)
    return _roll_hours(store, cluster_id, hours)


def roll_up_span(
    store: Store, cluster_id: int, start: float, end: float, interval_seconds: float, now: float | None = None
) -> None:
    """Roll up every hour and UTC day between start and end that has ended, whatever was rolled before.

    The periodic rollups only move forward from the newest period they rolled; history written
    later but older than that (the demo's backfill, behind its live rounds) is rolled up here.
    """
    end = min(end, time.time() if now is None else now)
    _roll_hours(store, cluster_id, [float(t) for t in range(int(start // HOUR * HOUR), int(end // HOUR * HOUR), HOUR)])
    _roll_days(
        store,
        cluster_id,
        [float(t) for t in range(int(start // DAY * DAY), int(end // DAY * DAY), DAY)],
        interval_seconds,
    )


def _roll_hours(store: Store, cluster_id: int, hours: list[float]) -> int:
    """Write the hourly rows of the given contiguous hours (replacing any); returns hours written."""
    if not hours:
        return 0
    s, n = schema.metrics_snapshots, schema.node_snapshots
    lo, hi = hours[0], hours[-1] + HOUR
    bucket = store.bucket(s.c.ts, HOUR).label("ts")
    metrics = [getattr(sa.func, m.rollup)(s.c[m.name]).label(m.name) for m in SNAPSHOT_METRICS]
    snapshot_rows = (
        sa.select(
            sa.literal(cluster_id).label("cluster_id"),
            bucket,
            sa.func.count().label("rounds"),
            sa.func.sum(sa.case((s.c.status == Status.DOWN, 1), else_=0)).label("down_rounds"),
            sa.func.max(s.c.qps).label("qps_max"),
            *metrics,
        )
        .where(s.c.cluster_id == cluster_id, s.c.ts >= lo, s.c.ts < hi)
        .group_by(bucket)
    )
    nbucket = store.bucket(n.c.ts, HOUR).label("ts")
    node_metrics = [getattr(sa.func, m.rollup)(n.c[m.name]).label(m.name) for m in NODE_METRICS]
    node_rows = (
        sa.select(sa.literal(cluster_id).label("cluster_id"), nbucket, n.c.role, n.c.host, *node_metrics)
        .where(n.c.cluster_id == cluster_id, n.c.ts >= lo, n.c.ts < hi)
        .group_by(nbucket, n.c.role, n.c.host)
    )
    h, nh = schema.hourly_snapshots, schema.node_hourly

    def replace(conn: sa.Connection) -> None:
        conn.execute(h.delete().where(h.c.cluster_id == cluster_id, h.c.ts >= lo, h.c.ts < hi))
        conn.execute(nh.delete().where(nh.c.cluster_id == cluster_id, nh.c.ts >= lo, nh.c.ts < hi))
        conn.execute(
            h.insert().from_select(
                ["cluster_id", "ts", "rounds", "down_rounds", "qps_max", *(m.name for m in SNAPSHOT_METRICS)],
                snapshot_rows,
            )
        )
        conn.execute(
            nh.insert().from_select(["cluster_id", "ts", "role", "host", *(m.name for m in NODE_METRICS)], node_rows)
        )

    store.write(replace)
    return len(hours)


def _counter_total(values: list) -> int | None:
    """Growth of a summed counter over consecutive rounds; a drop (FE restart) counts from zero."""
    known = [v for v in values if v is not None]
    if len(known) < 2:
        return None
    return sum(cur - prev if cur >= prev else cur for prev, cur in zip(known, known[1:]))


def day_row(rounds: list[dict], day_start: float, gap_cap: float) -> dict:
    """One day's summary from its rounds (sorted by ts; the next day's first round may follow).

    Downtime is the time from each `down` round to the next round, capped at `gap_cap`
    so a collector outage is not counted as cluster downtime.
    """
    day_end = day_start + DAY
    inside = [r for r in rounds if day_start <= r["ts"] < day_end]

    def values(key):
        return [r[key] for r in inside if r.get(key) is not None]

    def mean(key):
        v = values(key)
        return sum(v) / len(v) if v else None

    def peak(key):
        v = values(key)
        return max(v) if v else None

    downtime = 0.0
    for this, following in zip(rounds, rounds[1:] + [None]):
        if this["status"] == Status.DOWN and day_start <= this["ts"] < day_end:
            until = following["ts"] if following else this["ts"] + gap_cap
            downtime += max(0.0, min(until, day_end, this["ts"] + gap_cap) - this["ts"])
    return {
        "rounds": len(inside),
        "avg_qps": mean("qps"),
        "max_qps": peak("qps"),
        "avg_latency_p99": mean("query_latency_p99"),
        "total_queries": _counter_total([r.get("query_total") for r in inside]),
        "total_errors": _counter_total([r.get("query_error") for r in inside]),
        "avg_disk_usage_pct": mean("disk_usage_pct"),
        "max_disk_usage_pct": peak("disk_usage_pct"),
        "avg_backend_alive": mean("backend_alive"),
        "total_downtime_seconds": downtime,
    }


# A day reads rounds up to an hour past its midnight (downtime runs to the next round), so
# it is rolled up again on every pass until then, with an hour to spare, and then left alone.
SETTLE_SECONDS = 2 * 3600


def roll_up_days(store: Store, cluster_id: int, interval_seconds: float, now: float | None = None) -> int:
    """Write daily_snapshots rows for complete UTC days not rolled up (or settled) yet; returns days written."""
    now = time.time() if now is None else now
    s, d = schema.metrics_snapshots, schema.daily_snapshots
    last, first = store.read(
        lambda conn: (
            conn.execute(sa.select(sa.func.max(d.c.day)).where(d.c.cluster_id == cluster_id)).scalar(),
            conn.execute(sa.select(sa.func.min(s.c.ts)).where(s.c.cluster_id == cluster_id)).scalar(),
        )
    )
    if first is None:
        return 0
    if last is None:
        start = first // DAY * DAY
    else:  # the last day is redone while rounds just after its midnight can still change it
        start = _day_ts(last) + (DAY if now >= _day_ts(last) + DAY + SETTLE_SECONDS else 0)
    return _roll_days(
        store, cluster_id, [float(t) for t in range(int(start), int(now // DAY * DAY), DAY)], interval_seconds
    )


def _roll_days(store: Store, cluster_id: int, days: list[float], interval_seconds: float) -> int:
    """Write the daily rows of the given UTC days that have rounds (replacing any); returns days written."""
    s, d = schema.metrics_snapshots, schema.daily_snapshots
    written = 0
    cols = [
        s.c.ts,
        s.c.status,
        s.c.qps,
        s.c.query_latency_p99,
        s.c.query_total,
        s.c.query_error,
        s.c.disk_usage_pct,
        s.c.backend_alive,
    ]
    for day in days:
        query = (
            sa.select(*cols)
            .where(s.c.cluster_id == cluster_id, s.c.ts >= day, s.c.ts < day + DAY + 3600)
            .order_by(s.c.ts)
        )
        rounds = store.read(lambda conn, query=query: [dict(r._mapping) for r in conn.execute(query)])
        if not any(r["ts"] < day + DAY for r in rounds):
            continue
        row = day_row(rounds, day, gap_cap=3 * interval_seconds)
        key = datetime.fromtimestamp(day, UTC).date().isoformat()

        def replace(conn: sa.Connection, key: str = key, row: dict = row) -> None:
            conn.execute(d.delete().where(d.c.cluster_id == cluster_id, d.c.day == key))
            conn.execute(d.insert().values(cluster_id=cluster_id, day=key, **row))

        store.write(replace)
        written += 1
    return written


def _day_ts(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()


def _delete_batched(store: Store, table: sa.Table, condition) -> int:
    """Delete matching rows DELETE_BATCH at a time, each batch its own short transaction."""
    deleted = 0
    while True:
        ids = sa.select(table.c.id).where(condition).limit(DELETE_BATCH).scalar_subquery()
        count = store.write(lambda conn, ids=ids: conn.execute(table.delete().where(table.c.id.in_(ids))).rowcount)
        deleted += count
        if count < DELETE_BATCH:
            return deleted


def apply_retention(store: Store, raw_days: float, rollup_days: float, now: float | None = None) -> dict:
    """Delete raw rounds older than `raw_days`, rollups older than `rollup_days` and events older
    than events.RETENTION_DAYS (90: the timeline outlives the raw rounds it was derived from).

    Every condition names the clusters (all of them, disabled ones too), so each table's
    (cluster_id, ts) index finds the old rows: with `ts < cut` alone, PostgreSQL scans the
    whole table on every pass, even when nothing is old enough to go.
    """
    now = time.time() if now is None else now
    raw_cut, rollup_cut = now - raw_days * DAY, now - rollup_days * DAY
    ids = store.read(lambda conn: conn.execute(sa.select(schema.clusters.c.id)).scalars().all())

    def older(table: sa.Table, cut: float):
        return sa.and_(table.c.cluster_id.in_(ids), table.c.ts < cut)

    n, s, d, h = schema.node_snapshots, schema.metrics_snapshots, schema.data_statistics, schema.table_size_history
    e = schema.events
    out = {
        "node_snapshots": _delete_batched(store, n, older(n, raw_cut)),
        "metrics_snapshots": _delete_batched(store, s, older(s, raw_cut)),
        "data_statistics": _delete_batched(store, d, older(d, rollup_cut)),
        "table_size_history": _delete_batched(store, h, older(h, rollup_cut)),
        "events": _delete_batched(store, e, older(e, now - events.RETENTION_DAYS * DAY)),
    }
    cut_day = datetime.fromtimestamp(rollup_cut, UTC).date().isoformat()
    daily = schema.daily_snapshots

    def delete_rollups(conn: sa.Connection) -> None:
        for table in (schema.hourly_snapshots, schema.node_hourly):
            out[table.name] = conn.execute(table.delete().where(older(table, rollup_cut))).rowcount
        out[daily.name] = conn.execute(
            daily.delete().where(daily.c.cluster_id.in_(ids), daily.c.day < cut_day)
        ).rowcount

    store.write(delete_rollups)
    if any(out.values()):
        store.reclaim_space()
    return out


def maintain(
    store: Store,
    cluster_ids: list[int],
    interval_seconds: float,
    raw_days: float,
    rollup_days: float,
    now: float | None = None,
) -> None:
    """Everything periodic: hourly and daily rollups for the given clusters, then retention for all.

    Rollups are per cluster, so each collector rolls up the clusters it collects; retention
    covers the whole database, so one collector at a time applies it (Store.only_one).
    """
    for cluster_id in cluster_ids:
        roll_up_hours(store, cluster_id, now)
        roll_up_days(store, cluster_id, interval_seconds, now)
    with store.only_one("retention") as mine:
        if not mine:
            log.debug("another collector is applying retention; skipped this pass")
            return
        deleted = apply_retention(store, raw_days, rollup_days, now)
    if any(deleted.values()):
        log.info("retention deleted %s", {k: v for k, v in deleted.items() if v})
