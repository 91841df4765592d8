"""The workload a cluster ran, from its audit log: one pass stored, and what a range shows.

A pass (audit_pass) reads the audit rows after the cluster's watermark (starmon.audit), adds
them to starmon's own hourly aggregates and moves the watermark, all in one transaction: a
collector that dies mid-pass, or restarts, never counts a row twice. Ranges then read these
tables, never the cluster's, so the Queries page and `python -m starmon queries` cost the
cluster nothing. Aggregates are kept RETENTION_DAYS.
"""

from __future__ import annotations

import asyncio
import logging
import time

import sqlalchemy as sa

from . import audit, schema
from .audit import Aggregates, Watermark
from .statements import ShapeCache
from .store import Store

log = logging.getLogger(__name__)
RETENTION_DAYS = 90
HOUR = 3600
# Said once on the page and in the CLI's `audit_message` when a cluster has no readable audit table.
INSTALL_HINT = (
    "The AuditLoader plugin is not installed on this cluster, so starmon sees no workload: install it "
    '(INSTALL PLUGIN FROM "/path/auditloader.zip", see github.com/StarRocks/fe-plugins-auditloader).'
)
GRANT_HINT = "starmon may not read the audit table {table}: GRANT SELECT ON TABLE {table} TO USER '<starmon user>'@'%'."

_caches: dict[int, ShapeCache] = {}  # per cluster: shapes are a cluster's own


def table_of(audit_table: str | None) -> str:
    """The cluster's audit table, or the plugin's default."""
    return audit_table or audit.DEFAULT_TABLE


def watermark(store: Store, cluster_id: int) -> Watermark | None:
    """The last audit row counted for the cluster, if any."""
    w = schema.audit_watermarks
    row = store.read(lambda conn: conn.execute(sa.select(w).where(w.c.cluster_id == cluster_id)).first())
    return Watermark(row.audit_ts, row.query_id or "") if row is not None and row.audit_ts else None


async def audit_pass(
    store: Store,
    cluster_id: int,
    client,
    audit_table: str | None,
    now: float | None = None,
    limit: int = audit.MAX_ROWS_PER_PASS,
) -> str:
    """Read, aggregate and store one pass of the cluster's audit log; its status (audit.OK, ...).

    Nothing the cluster answers makes this raise: no plugin, a refused SELECT or a failed read
    is stored as the cluster's audit status and logged once per change, not every pass.
    """
    now = time.time() if now is None else now
    table = table_of(audit_table)
    after = await asyncio.to_thread(watermark, store, cluster_id)
    batch = await audit.read_audit(client, table, after, now, limit)
    cache = _caches.setdefault(cluster_id, ShapeCache())
    folded = audit.aggregate(batch.rows, cache, batch.utc_offset) if batch.status == audit.OK else Aggregates()
    previous = await asyncio.to_thread(status, store, cluster_id)
    await asyncio.to_thread(write_pass, store, cluster_id, batch.status, batch.message, folded, now)
    if batch.status != audit.OK and previous.get("status") != batch.status:
        log.warning("cluster %s audit log: %s (%s)", client.cluster.name, batch.status, batch.message)
    return batch.status


def _upsert_adding(store: Store, table: sa.Table, keys: tuple[str, ...], rows: list[dict], latest: tuple = ()):
    """INSERT ... ON CONFLICT: add to the counts already stored, keep the latest of `latest`."""
    if store.is_sqlite:
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    stmt = insert(table)
    greatest = sa.func.max if store.is_sqlite else sa.func.greatest  # SQLite's two-argument max
    updates = {}
    for column in rows[0]:
        if column in keys or column in ("cluster_id", "kind", "sample"):
            continue
        if column in latest or column == "max_ms":
            updates[column] = greatest(table.c[column], stmt.excluded[column])
        else:
            updates[column] = table.c[column] + stmt.excluded[column]
    return stmt.on_conflict_do_update(index_elements=["cluster_id", *keys], set_=updates), rows


def write_pass(
    store: Store, cluster_id: int, status_: str, message: str | None, folded: Aggregates, now: float
) -> None:
    """Add one pass's aggregates and move the watermark, in one transaction."""
    c = cluster_id
    batches = []
    if folded.tables:
        rows = [
            dict(cluster_id=c, ts=h, catalog=cat, db_name=db, table_name=t, user_name=u, accesses=n, last_access=last)
            for (h, cat, db, t, u), (n, last) in folded.tables.items()
        ]
        keys = ("ts", "catalog", "db_name", "table_name", "user_name")
        batches.append(_upsert_adding(store, schema.workload_table_access, keys, rows, ("last_access",)))
    if folded.users:
        names = ("queries", "failed", "query_ms", "cpu_ns", "scan_bytes", "last_seen")
        rows = [dict(cluster_id=c, ts=h, user_name=u, **dict(zip(names, v))) for (h, u), v in folded.users.items()]
        batches.append(_upsert_adding(store, schema.workload_users, ("ts", "user_name"), rows, ("last_seen",)))
    if folded.digests:
        rows = [dict(cluster_id=c, ts=h, digest=d, **v) for (h, d), v in folded.digests.items()]
        batches.append(_upsert_adding(store, schema.workload_digests, ("ts", "digest"), rows))
    if folded.mix:
        rows = [dict(cluster_id=c, ts=h, kind=k, error_code=e, queries=n) for (h, k, e), n in folded.mix.items()]
        batches.append(_upsert_adding(store, schema.workload_mix, ("ts", "kind", "error_code"), rows))
    w = schema.audit_watermarks

    def write(conn: sa.Connection) -> None:
        for stmt, rows in batches:
            conn.execute(stmt, rows)
        if folded.slow:
            conn.execute(
                store.insert_ignoring_duplicates(schema.slow_queries), [{"cluster_id": c, **r} for r in folded.slow]
            )
        old = conn.execute(sa.select(w).where(w.c.cluster_id == c)).first()
        values = dict(status=status_, message=message, checked_at=now)
        if folded.last is not None:
            values.update(audit_ts=folded.last.audit_ts, query_id=folded.last.query_id)
        if old is None:
            conn.execute(w.insert().values(cluster_id=c, rows_read=folded.rows, unparsed=folded.unparsed, **values))
        else:
            conn.execute(
                w.update()
                .where(w.c.cluster_id == c)
                .values(rows_read=w.c.rows_read + folded.rows, unparsed=w.c.unparsed + folded.unparsed, **values)
            )

    store.write(write)


def status(store: Store, cluster_id: int) -> dict:
    """The cluster's audit status as of its last pass: {} before the first one."""
    w = schema.audit_watermarks
    row = store.read(lambda conn: conn.execute(sa.select(w).where(w.c.cluster_id == cluster_id)).first())
    return dict(row._mapping) if row is not None else {}


def apply_retention(store: Store, now: float | None = None) -> int:
    """Delete workload aggregates and slow queries older than RETENTION_DAYS; rows deleted."""
    cut = (time.time() if now is None else now) - RETENTION_DAYS * 86400
    ids = store.read(lambda conn: conn.execute(sa.select(schema.clusters.c.id)).scalars().all())

    def delete(conn: sa.Connection) -> int:  # cluster_id leads every key, so the index finds old rows
        tables = schema.WORKLOAD_TABLES
        return sum(conn.execute(t.delete().where(t.c.cluster_id.in_(ids), t.c.ts < cut)).rowcount for t in tables)

    return store.write(delete)
