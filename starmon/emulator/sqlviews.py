"""What the emulated FE answers over the MySQL protocol.

SHOW statements reuse the show_proc rows; `information_schema` selects run through
sqlglot's executor over tables built for the moment of the query, so any reasonable
WHERE/ORDER BY/LIMIT a client sends is answered the way a real FE would.
"""

from __future__ import annotations

import dataclasses
import re

import sqlglot
from sqlglot.executor import Table as SqlTable
from sqlglot.executor import execute

from . import auditlog, catalog, proc
from .model import ClusterModel, Node
from .profiles import PROFILES

_TABLES_COLUMNS = (
    "TABLE_CATALOG",
    "TABLE_SCHEMA",
    "TABLE_NAME",
    "TABLE_TYPE",
    "ENGINE",
    "VERSION",
    "ROW_FORMAT",
    "TABLE_ROWS",
    "AVG_ROW_LENGTH",
    "DATA_LENGTH",
    "MAX_DATA_LENGTH",
    "INDEX_LENGTH",
    "DATA_FREE",
    "AUTO_INCREMENT",
    "CREATE_TIME",
    "UPDATE_TIME",
    "CHECK_TIME",
    "TABLE_COLLATION",
    "CHECKSUM",
    "CREATE_OPTIONS",
    "TABLE_COMMENT",
)
_TABLES_CONFIG_COLUMNS = (
    "TABLE_SCHEMA",
    "TABLE_NAME",
    "TABLE_ENGINE",
    "TABLE_MODEL",
    "PRIMARY_KEY",
    "PARTITION_KEY",
    "DISTRIBUTE_KEY",
    "DISTRIBUTE_TYPE",
    "DISTRIBUTE_BUCKET",
    "SORT_KEY",
    "PROPERTIES",
    "TABLE_ID",
)
_PARTITIONS_META_COLUMNS = (
    "DB_NAME",
    "TABLE_NAME",
    "PARTITION_NAME",
    "PARTITION_ID",
    "COMPACT_VERSION",
    "VISIBLE_VERSION",
    "VISIBLE_VERSION_TIME",
    "NEXT_VERSION",
    "DATA_VERSION",
    "VERSION_EPOCH",
    "VERSION_TXN_TYPE",
    "PARTITION_KEY",
    "PARTITION_VALUE",
    "DISTRIBUTION_KEY",
    "BUCKETS",
    "REPLICATION_NUM",
    "STORAGE_MEDIUM",
    "COOLDOWN_TIME",
    "LAST_CONSISTENCY_CHECK_TIME",
    "IS_IN_MEMORY",
    "IS_TEMP",
    "DATA_SIZE",
    "ROW_COUNT",
    "ENABLE_DATACACHE",
    "AVG_CS",
    "P50_CS",
    "MAX_CS",
    "STORAGE_PATH",
    "STORAGE_SIZE",
    "METADATA_SWITCH_VERSION",
)
ALTER_COLUMNS = (
    "JobId",
    "TableName",
    "CreateTime",
    "FinishTime",
    "IndexName",
    "IndexId",
    "OriginIndexId",
    "SchemaVersion",
    "TransactionId",
    "State",
    "Msg",
    "Progress",
    "Timeout",
)


_CURRENT_VERSION = re.compile(r"^\s*select\s+current_version\(\s*\)\s*(?:as\s+`?(\w+)`?)?\s*;?\s*$", re.I)
_SHOW_NODES = re.compile(r"^\s*show\s+(backends|frontends|compute\s+nodes)\s*;?\s*$", re.I)
_SHOW_PROC = re.compile(r"""^\s*show\s+proc\s+['"]([^'"]*)['"]\s*;?\s*$""", re.I)
_SHOW_DATABASES = re.compile(r"^\s*show\s+databases\s*;?\s*$", re.I)
_NOW = re.compile(r"^\s*select\s+now\(\s*\)\s*;?\s*$", re.I)
_DESCRIBE = re.compile(r"^\s*desc(?:ribe)?\s+\S+\s*;?\s*$", re.I)
_PROCESSLIST = re.compile(r"^\s*show\s+(full\s+)?processlist\s*;?\s*$", re.I)
# FROM db, or FROM `db` with a backquote inside written twice, as MySQL reads quoted identifiers
_ALTER_COLUMN = re.compile(
    r"^\s*show\s+alter\s+table\s+column(?:\s+(?:from|in)\s+(?:`((?:[^`]|``)+)`|([^`\s;]+)))?.*$", re.I | re.S
)


class SqlError(Exception):
    """An error the FE would send back as a MySQL error packet."""

    def __init__(self, message: str, code: int = 1064):
        super().__init__(message)
        self.code = code


def _tables_rows(model: ClusterModel, t: float) -> list[tuple]:
    comment = "OLAP" if model.profile.name in ("2.5", "3.1") else ""
    rows = []
    for tb in catalog.TABLES:
        size, n = catalog.table_size(model, tb, t), catalog.table_rows(model, tb, t)
        rows.append(
            (
                "def",
                tb.db,
                tb.name,
                "BASE TABLE",
                "StarRocks",
                None,
                "",
                n,
                size // max(n, 1),
                size,
                None,
                None,
                None,
                None,
                tb.create_time,
                proc.fe_time(t - 120),
                None,
                "utf8_general_ci",
                None,
                "",
                comment,
            )
        )
    for view in ("tables", "tables_config", "materialized_views", "partitions_meta"):
        rows.append(
            (
                "def",
                "information_schema",
                view,
                "SYSTEM VIEW",
                "MEMORY",
                None,
                "",
                0,
                0,
                0,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                "utf8_general_ci",
                None,
                "",
                "",
            )
        )
    return rows


def _tables_config_rows(model: ClusterModel, t: float) -> list[tuple]:
    return [
        (
            tb.db,
            tb.name,
            "OLAP",
            tb.model,
            tb.keys if tb.model == "PRIMARY_KEYS" else "",
            "event_date" if tb.partitions > 1 else "",
            tb.keys.split(",")[0],
            "HASH",
            tb.buckets,
            tb.keys,
            '{"replication_num":"3"}',
            catalog.table_id(tb),
        )
        for tb in catalog.TABLES
    ]


def _partitions_meta_rows(model: ClusterModel, t: float) -> list[tuple]:
    rows = []
    for tb in catalog.TABLES:
        size, n = catalog.table_size(model, tb, t), catalog.table_rows(model, tb, t)
        shown = min(tb.partitions, 3)
        for p in range(shown):
            name = tb.name if tb.partitions == 1 else f"p2026112{5 - p}"
            rows.append(
                (
                    tb.db,
                    tb.name,
                    name,
                    catalog.table_id(tb) * 1000 + p,
                    0,
                    40 + p,
                    proc.fe_time(t - 600),
                    41 + p,
                    40 + p,
                    0,
                    "TXN_NORMAL",
                    "event_date" if tb.partitions > 1 else "",
                    "",
                    tb.keys.split(",")[0],
                    tb.buckets,
                    3,
                    "HDD",
                    "9999-12-31 23:59:59",
                    "NULL",
                    0,
                    0,
                    size // tb.partitions,
                    n // tb.partitions,
                    0,
                    1.2,
                    1.0,
                    4.0,
                    "",
                    0,
                    0,
                )
            )
    return rows


def _mv_rows(model: ClusterModel, t: float) -> list[tuple]:
    rows = []
    failing = model.incident("mv_refresh_failing", t)
    for i, mv in enumerate(catalog.MATERIALIZED_VIEWS):
        if f"{mv.db}.{mv.name}" == failing:  # the switch's MV: its refreshes fail until it is off
            host = (model.backends or model.frontends)[0].host
            mv = dataclasses.replace(mv, state="FAILED", error=catalog.MV_FAILURE.format(host=host))
        values = {
            "MATERIALIZED_VIEW_ID": str(12001 + i),
            "TABLE_SCHEMA": mv.db,
            "TABLE_NAME": mv.name,
            "REFRESH_TYPE": "ASYNC",
            "IS_ACTIVE": str(mv.is_active).lower(),
            "INACTIVE_REASON": mv.inactive_reason,
            "PARTITION_TYPE": "RANGE",
            "TASK_ID": str(13001 + i),
            "TASK_NAME": f"mv-{12001 + i}",
            "LAST_REFRESH_START_TIME": proc.fe_time(t - 900),
            "LAST_REFRESH_FINISHED_TIME": "" if mv.state == "RUNNING" else proc.fe_time(t - 840),
            "LAST_REFRESH_DURATION": 60.0,
            "LAST_REFRESH_STATE": mv.state,
            "LAST_REFRESH_FORCE_REFRESH": "false",
            "LAST_REFRESH_START_PARTITION": "",
            "LAST_REFRESH_END_PARTITION": "",
            "LAST_REFRESH_BASE_REFRESH_PARTITIONS": "{}",
            "LAST_REFRESH_MV_REFRESH_PARTITIONS": "",
            "LAST_REFRESH_ERROR_CODE": "-1" if mv.error else "0",
            "LAST_REFRESH_ERROR_MESSAGE": mv.error,
            "TABLE_ROWS": str(mv.rows),
            "MATERIALIZED_VIEW_DEFINITION": mv.definition,
            "EXTRA_MESSAGE": "",
            "QUERY_REWRITE_STATUS": "VALID" if mv.is_active else "INVALID",
            "CREATOR": "'root'@'%'",
        }
        rows.append(tuple(values[c] for c in model.profile.mv_columns))
    return rows


def _info_schema(model: ClusterModel, t: float) -> tuple[dict, dict]:
    """sqlglot executor tables and schema for this instant (columns stored lower-case)."""
    views = {
        "tables": (_TABLES_COLUMNS, _tables_rows),
        "tables_config": (_TABLES_CONFIG_COLUMNS, _tables_config_rows),
        "materialized_views": (model.profile.mv_columns, _mv_rows),
    }
    if model.profile.has_partitions_meta:
        views["partitions_meta"] = (_PARTITIONS_META_COLUMNS, _partitions_meta_rows)
    tables, schema = {}, {}
    for view, (cols, build) in views.items():
        lower = tuple(c.lower() for c in cols)
        table = SqlTable(lower)
        for row in build(model, t):
            table.append(row)
        tables[view] = table
        schema[view] = {c: "TEXT" for c in lower}
    return {"information_schema": tables}, {"information_schema": schema}


_CANONICAL = {
    c.lower(): c
    for c in _TABLES_COLUMNS + _TABLES_CONFIG_COLUMNS + _PARTITIONS_META_COLUMNS + PROFILES["3.4"].mv_columns
}


def query_information_schema(model: ClusterModel, sql: str, t: float) -> tuple[list[tuple], list[str]]:
    """Run a SELECT over the emulated information_schema views."""
    tables, schema = _info_schema(model, t)
    match = re.search(r"information_schema\s*\.\s*`?(\w+)", sql, re.I)
    if match and match.group(1).lower() not in tables["information_schema"]:
        raise SqlError(f"Unknown table 'information_schema.{match.group(1)}'", code=1109)
    try:
        result = execute(sqlglot.parse_one(sql, read="mysql"), schema=schema, tables=tables)
    except sqlglot.errors.SqlglotError as exc:
        raise SqlError(f"Getting analyzing error. Detail message: {exc}") from exc
    return list(result.rows), [_CANONICAL.get(c, c) for c in result.columns]


def processlist(model: ClusterModel, fe: Node, t: float) -> tuple[list[tuple], tuple[str, ...]]:
    """SHOW PROCESSLIST: the connections of the FE the client is connected to."""
    cols = model.profile.processlist_columns
    rows = []
    for i in range(model.fe_connections(fe, t)):
        busy = i % 4 == 0
        values = {
            "Id": i + 1,
            "User": "root" if i == 0 else "analyst",
            "Host": f"10.20.0.{30 + i}:{50210 + i}",
            "Db": catalog.DATABASES[i % len(catalog.DATABASES)],
            "Command": "Query" if busy else "Sleep",
            "ConnectionStartTime": proc.fe_time(t - 3600 - i),
            "Time": i % 7,
            "State": "OK" if not busy else "",
            "Info": "SELECT count(*) FROM sales.orders_fact" if busy else "",
            "IsPending": "false",
        }
        rows.append(tuple(values[c] for c in cols))
    return rows, cols


def show_alter_column(model: ClusterModel, db: str | None, t: float) -> tuple[list[tuple], tuple[str, ...]]:
    """SHOW ALTER TABLE COLUMN [FROM db]: schema-change jobs of one database at time t."""
    if not db:
        raise SqlError("No database selected", code=1046)
    if db not in catalog.DATABASES:
        raise SqlError(f"Unknown database '{db}'", code=1049)
    rows = [
        (
            str(sc.job_id),
            sc.table,
            sc.create_time,
            sc.finish_time,
            sc.table,
            str(sc.job_id + 1),
            str(sc.job_id - 40),
            "1",
            str(sc.job_id * 3),
            sc.state,
            sc.msg,
            sc.progress,
            "86400",
        )
        for sc in proc.schema_changes(model, t)
        if sc.db == db
    ]
    return rows, ALTER_COLUMNS


def answer(
    model: ClusterModel, fe: Node, sql: str, t: float, database: str | None = None
) -> tuple[list[tuple], list[str]] | None:
    """What FE `fe` answers to one statement at time t: (rows, columns), SqlError, or None for
    a statement StarRocks answers as any MySQL server does (left to the protocol library).

    The MySQL port and the demo's replayed statistics passes both answer through here.
    """
    if m := _CURRENT_VERSION.match(sql):
        return [(model.profile.version,)], [m.group(1) or "current_version()"]
    if m := _SHOW_NODES.match(sql):
        kind = m.group(1).lower().split()[0]
        path = {"backends": "/backends", "frontends": "/frontends", "compute": "/compute_nodes"}[kind]
        columns, rows = proc.show_proc(model, fe, path, t)
        return rows, list(columns)
    if m := _SHOW_PROC.match(sql):
        found = proc.show_proc(model, fe, m.group(1), t)
        if found is None:
            raise SqlError(f"Proc path '{m.group(1)}' doesn't exist")
        return found[1], list(found[0])
    if _SHOW_DATABASES.match(sql):
        return [(db,) for db in ("information_schema", "sys", *catalog.DATABASES)], ["Database"]
    if _PROCESSLIST.match(sql):
        rows, columns = processlist(model, fe, t)
        return rows, list(columns)
    if m := _ALTER_COLUMN.match(sql):
        quoted, bare = m.groups()
        rows, columns = show_alter_column(model, quoted.replace("``", "`") if quoted else bare or database, t)
        return rows, list(columns)
    if _NOW.match(sql):
        return [(proc.fe_time(t),)], ["now()"]
    if auditlog.names(model, sql):  # the AuditLoader plugin's table
        try:
            return auditlog.describe(model) if _DESCRIBE.match(sql) else auditlog.query(model, sql, t)
        except auditlog.Refused as exc:
            raise SqlError(str(exc), code=exc.code) from exc
    if re.search(r"\binformation_schema\b", sql, re.I) or (database or "").lower() == "information_schema":
        return query_information_schema(model, sql, t)
    return None
