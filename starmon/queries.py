"""What a range of the workload shows: top tables, slow queries, active and top users, the query mix.

Read from starmon's own hourly aggregates (starmon.workload), never from the cluster, so the
Queries page and `python -m starmon queries` cost the cluster nothing. A range covers the hours
it overlaps: aggregates are hourly. The page and the CLI both call `report`, so they agree.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from . import schema, workload
from .audit import FORBIDDEN, NOT_INSTALLED
from .read import Reader, TimeRange, _iso, find_cluster, parse_range

HOUR = 3600
TOP_TABLES = 20
SLOW_QUERIES = 20
TOP_USERS = 10
STMT_SHOWN = 200  # characters of a statement a slow query shows


def _hours(table: sa.Table, cluster_id: int, tr: TimeRange):
    return sa.and_(table.c.cluster_id == cluster_id, table.c.ts >= tr.start // HOUR * HOUR, table.c.ts <= tr.end)


def _rows(reader: Reader, query) -> list[dict]:
    return reader.store.read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])


def top_tables(reader: Reader, cluster_id: int, tr: TimeRange, limit: int = TOP_TABLES) -> list[dict]:
    """The most accessed tables: catalog, database, table, access_count, unique_users, last_access (epoch)."""
    a = schema.workload_table_access
    count = sa.func.sum(a.c.accesses).label("access_count")
    query = (
        sa.select(
            a.c.catalog,
            a.c.db_name.label("database"),
            a.c.table_name.label("table"),
            count,
            sa.func.count(sa.distinct(a.c.user_name)).label("unique_users"),
            sa.func.max(a.c.last_access).label("last_access"),
        )
        .where(_hours(a, cluster_id, tr))
        .group_by(a.c.catalog, a.c.db_name, a.c.table_name)
        .order_by(count.desc(), a.c.db_name, a.c.table_name)
        .limit(limit)
    )
    return _rows(reader, query)


def slow_queries(reader: Reader, cluster_id: int, tr: TimeRange, limit: int = SLOW_QUERIES) -> list[dict]:
    """The slowest queries that started in the range, slowest first; `stmt` cut to STMT_SHOWN characters."""
    s = schema.slow_queries
    query = (
        sa.select(s)
        .where(s.c.cluster_id == cluster_id, s.c.ts >= tr.start, s.c.ts <= tr.end)
        .order_by(s.c.query_ms.desc(), s.c.ts)
        .limit(limit)
    )
    rows = _rows(reader, query)
    for row in rows:
        row.pop("cluster_id")
        row["stmt"] = (row["stmt"] or "")[:STMT_SHOWN]
    return rows


def active_users(reader: Reader, cluster_id: int, since: float) -> int:
    """Users who ran a statement at or after `since`."""
    u = schema.workload_users
    query = sa.select(sa.func.count(sa.distinct(u.c.user_name))).where(
        u.c.cluster_id == cluster_id, u.c.ts >= since // HOUR * HOUR, u.c.last_seen >= since
    )
    return reader.store.read(lambda conn: conn.execute(query).scalar() or 0)


def top_users(reader: Reader, cluster_id: int, tr: TimeRange, limit: int = TOP_USERS) -> list[dict]:
    """Users by statements run: queries, failed, query_ms, cpu_seconds, scan_bytes."""
    u = schema.workload_users
    queries = sa.func.sum(u.c.queries).label("queries")
    query = (
        sa.select(
            u.c.user_name.label("user"),
            queries,
            sa.func.sum(u.c.failed).label("failed"),
            sa.func.sum(u.c.query_ms).label("query_ms"),
            sa.func.sum(u.c.cpu_ns).label("cpu_ns"),
            sa.func.sum(u.c.scan_bytes).label("scan_bytes"),
        )
        .where(_hours(u, cluster_id, tr))
        .group_by(u.c.user_name)
        .order_by(queries.desc(), u.c.user_name)
        .limit(limit)
    )
    rows = _rows(reader, query)
    for row in rows:
        row["cpu_seconds"] = round((row.pop("cpu_ns") or 0) / 1e9, 3)
    return rows


def query_mix(reader: Reader, cluster_id: int, tr: TimeRange) -> list[dict]:
    """Statements by kind (SELECT, INSERT, DDL, ..., UNPARSED): queries and failed, most first."""
    m = schema.workload_mix
    queries = sa.func.sum(m.c.queries).label("queries")
    failed = sa.func.sum(sa.case((m.c.error_code != "", m.c.queries), else_=0)).label("failed")
    query = sa.select(m.c.kind, queries, failed).where(_hours(m, cluster_id, tr)).group_by(m.c.kind)
    return sorted(_rows(reader, query.order_by(m.c.kind)), key=lambda r: -r["queries"])


def failures(reader: Reader, cluster_id: int, tr: TimeRange) -> list[dict]:
    """Failed statements per hour and error code: ts (epoch, the hour's start), error_code, queries."""
    m = schema.workload_mix
    queries = sa.func.sum(m.c.queries).label("queries")
    query = (
        sa.select(m.c.ts, m.c.error_code, queries)
        .where(_hours(m, cluster_id, tr), m.c.error_code != "")
        .group_by(m.c.ts, m.c.error_code)
        .order_by(m.c.ts, m.c.error_code)
    )
    return _rows(reader, query)


def audit_state(reader: Reader, cluster: dict) -> dict:
    """The cluster's audit log as of its last pass: status (ok, not_installed, forbidden, error, or
    pending before the first pass) and, when it is not ok, one sentence saying what to do."""
    found = workload.status(reader.store, cluster["id"])
    status = found.get("status", "pending")
    table = workload.table_of(cluster.get("audit_table"))
    message = None
    if status == NOT_INSTALLED:
        message = workload.INSTALL_HINT
    elif status == FORBIDDEN:
        message = workload.GRANT_HINT.format(table=table)
    elif status == "error":
        message = f"The audit table {table} could not be read: {found.get('message')}"
    elif status == "pending":
        message = "No statistics pass has read the audit log yet."
    return {
        "status": status,
        "table": table,
        "message": message,
        "checked_at": _iso(found["checked_at"]) if found.get("checked_at") else None,
        "rows_read": found.get("rows_read", 0),
        "unparsed": found.get("unparsed", 0),
    }


def report(
    reader: Reader,
    cluster: str | int,
    range_label: str | None,
    *,
    start: str | None = None,
    end: str | None = None,
    now: float | None = None,
) -> dict:
    """`summary` of a cluster named by name or id over a range given as the CLI gives it;
    LookupError or ValueError with a message for an unknown cluster or a bad range."""
    now = time.time() if now is None else now
    tr = parse_range(range_label, now, start, end)
    return summary(reader, find_cluster(reader, cluster), tr, now)


def summary(reader: Reader, cluster: dict, tr: TimeRange, now: float) -> dict:
    """Everything the Queries page and `python -m starmon queries --json` show, times as ISO text."""
    cid = cluster["id"]
    state = audit_state(reader, cluster)
    tables = top_tables(reader, cid, tr)
    slow = slow_queries(reader, cid, tr)
    for row in tables:
        row["last_access"] = _iso(row["last_access"])
    for row in slow:
        row["ts"] = _iso(row["ts"])
    return {
        "cluster": cluster["name"],
        "range": {"start": _iso(tr.start), "end": _iso(tr.end)},
        "audit": state["status"],
        "audit_message": state["message"],
        "top_tables_by_access": tables,
        "slow_queries": slow,
        "active_users_1h": active_users(reader, cid, now - HOUR),
        "active_users_24h": active_users(reader, cid, now - 24 * HOUR),
        "top_users": top_users(reader, cid, tr),
        "query_mix": query_mix(reader, cid, tr),
        "failures": [{**r, "ts": _iso(r["ts"])} for r in failures(reader, cid, tr)],
        "unparsed_statements": state["unparsed"],
    }
