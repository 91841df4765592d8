"""Summarise a data-statistics pass: databases, tables, MVs, schema changes (pure)."""

from __future__ import annotations

from .parse import column, parse_bool, parse_int

# Databases StarRocks keeps for itself: its system views, its optimizer statistics and the
# monitor database of older releases (StarRocks' own statistics collection skips the same ones).
# They are not the user's data: every count, total and list of tables leaves them out.
SYSTEM_DATABASES = frozenset({"information_schema", "sys", "_statistics_", "starrocks_monitor"})
# What StarRocks writes where it has nothing to say (SHOW ALTER's Progress "N/A", FinishTime "NULL").
_NOTHING = frozenset({"", "N/A", "NULL"})
TOP_TABLES = 20
_RUNNING = {"RUNNING", "WAITING_TXN"}


def _text(value: str | None) -> str | None:
    """Text from the cluster, or None where StarRocks spelled out that there is none."""
    return None if value is None or value.strip().upper() in _NOTHING else value


def table_sizes(rows: list[dict]) -> list[dict]:
    """information_schema.tables rows -> [{db_name, table_name, data_bytes, row_count}], the user's
    tables only, so the stored sizes, the totals and the Table count all cover the same tables."""
    out = []
    for row in rows:
        db, name = column(row, "TABLE_SCHEMA"), column(row, "TABLE_NAME")
        if db is None or name is None or db in SYSTEM_DATABASES:
            continue
        out.append(
            {
                "db_name": db,
                "table_name": name,
                "data_bytes": parse_int(column(row, "DATA_LENGTH")),
                "row_count": parse_int(column(row, "TABLE_ROWS")),
            }
        )
    return out


def ended_jobs(alters: list[dict]) -> list[dict]:
    """The schema-change jobs a pass saw FINISHED or CANCELLED: not stored (the Data page lists the
    unfinished), but what tells a finished job from a failed one in the pass's events."""
    return [
        {
            "db": a.get("_db"),
            "table": column(a, "TableName"),
            "state": state,
            "created": _text(column(a, "CreateTime")),
            "message": _text(column(a, "Msg")),
        }
        for a in alters
        if (state := (column(a, "State") or "").upper()) in ("FINISHED", "CANCELLED")
    ]


def summarize(tables: list[dict], databases: list[str], mvs: list[dict] | None, alters: list[dict] | None) -> dict:
    """Counts and lists for one pass, of the user's `tables` (as table_sizes gives them) and
    databases. A part that could not be read (None) stays NULL."""
    sizes = [t["data_bytes"] for t in tables if t["data_bytes"] is not None]
    rows = [t["row_count"] for t in tables if t["row_count"] is not None]
    largest = sorted((t for t in tables if t["data_bytes"] is not None), key=lambda t: -t["data_bytes"])
    stats = {
        "database_count": len([d for d in databases if d not in SYSTEM_DATABASES]),
        "table_count": len(tables),
        "total_data_bytes": sum(sizes) if sizes else None,
        "total_rows": sum(rows) if rows else None,
        "top_tables": [
            {"db": t["db_name"], "table": t["table_name"], "bytes": t["data_bytes"], "rows": t["row_count"]}
            for t in largest[:TOP_TABLES]
        ],
    }
    if mvs is not None:
        views = [
            {
                "db": column(m, "TABLE_SCHEMA"),
                "name": column(m, "TABLE_NAME"),
                "active": parse_bool(column(m, "IS_ACTIVE")),
                "inactive_reason": _text(column(m, "INACTIVE_REASON")),
                "state": _text(column(m, "LAST_REFRESH_STATE")),
                "error": _text(column(m, "LAST_REFRESH_ERROR_MESSAGE")),
            }
            for m in mvs
        ]
        stats.update(
            mv_total=len(views),
            mv_active=sum(v["active"] is True for v in views),
            mv_inactive=sum(v["active"] is False for v in views),
            mv_failed=sum((v["state"] or "").upper() == "FAILED" for v in views),
            materialized_views=views,
        )
    if alters is not None:
        jobs = [
            {
                "db": a.get("_db"),
                "table": column(a, "TableName"),
                "state": (column(a, "State") or "").upper(),
                "progress": _text(column(a, "Progress")),
                "created": _text(column(a, "CreateTime")),
                "message": _text(column(a, "Msg")),
            }
            for a in alters
        ]
        stats.update(
            schema_change_running=sum(j["state"] in _RUNNING for j in jobs),
            schema_change_pending=sum(j["state"] == "PENDING" for j in jobs),
            schema_changes=[j for j in jobs if j["state"] in _RUNNING | {"PENDING"}],
        )
    return stats
