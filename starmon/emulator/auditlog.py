"""The AuditLoader plugin's table, as the emulated cluster would have filled it.

One statement every `3600 / per_hour` seconds, each a pure function of its slot number, so a
test can ask what the table held between any two instants, and the demo's week replays the
same rows a live pass reads. The mix is what a DBA sees on a real cluster: several users and
databases, joins, CTEs, subqueries, INSERT INTO ... SELECT, external-catalog names, backticks,
comments, failures and timeouts, a few heavy scans, and the plugin's connection rows.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

import sqlglot
from sqlglot import exp
from sqlglot.executor import Table as SqlTable
from sqlglot.executor import execute

from .model import ClusterModel, unit_hash
from .proc import CLUSTER_TZ, fe_time

GB = 10**9


@dataclass(frozen=True)
class Template:
    """One statement shape of the workload: who runs it, where, what it reads and writes, how heavy."""

    user: str
    db: str
    sql: str  # {n}: a literal that changes per statement
    tables: tuple[str, ...]  # catalog.db.table of every table it reads or writes (the known answer)
    weight: float
    ms: int  # typical queryTime
    scan_bytes: int
    catalog: str = "default_catalog"
    is_query: bool = True


TEMPLATES = (
    Template(
        "bi_dashboard",
        "sales",
        "SELECT o.order_date, SUM(i.amount) FROM orders_fact o JOIN order_items i ON o.order_id = i.order_id "
        "WHERE o.order_date >= '2026-11-{n:02d}' GROUP BY o.order_date",
        ("default_catalog.sales.orders_fact", "default_catalog.sales.order_items"),
        0.30,
        800,
        2 * GB,
    ),
    Template(
        "analyst_ana",
        "sales",
        "/* weekly segments */ WITH recent AS (SELECT customer_id, SUM(amount) AS amt FROM sales.orders_fact "
        "WHERE order_id > {n} GROUP BY customer_id) SELECT c.segment, p.category, SUM(r.amt) FROM recent r "
        "JOIN `sales`.`customers` c ON c.customer_id = r.customer_id JOIN sales.products p ON p.product_id = c.fav "
        "JOIN finance.fx_rates fx ON fx.ccy = c.ccy JOIN sales.order_items i ON i.order_id = r.customer_id "
        "GROUP BY 1, 2",
        (
            "default_catalog.sales.orders_fact",
            "default_catalog.sales.customers",
            "default_catalog.sales.products",
            "default_catalog.finance.fx_rates",
            "default_catalog.sales.order_items",
        ),
        0.10,
        4200,
        9 * GB,
    ),
    Template(
        "web_app",
        "web_analytics",
        "select count(*) from page_views where site_id = {n} and event_date = current_date()",
        ("default_catalog.web_analytics.page_views",),
        0.25,
        120,
        GB // 4,
    ),
    Template(
        "web_app",
        "web_analytics",
        "SELECT s.session_id FROM sessions s WHERE s.session_id IN (SELECT session_id FROM events_raw "
        "WHERE event_ts > now() - INTERVAL {n} MINUTE)",
        ("default_catalog.web_analytics.sessions", "default_catalog.web_analytics.events_raw"),
        0.10,
        300,
        GB // 2,
    ),
    Template(
        "etl_loader",
        "finance",
        "INSERT INTO finance.ledger SELECT * FROM sales.orders_fact WHERE order_id > {n}",
        ("default_catalog.finance.ledger", "default_catalog.sales.orders_fact"),
        0.06,
        9000,
        20 * GB,
        is_query=False,
    ),
    Template(
        "etl_loader",
        "ops_logs",
        "-- nightly copy from the lake\nINSERT INTO ops_logs.app_logs SELECT * FROM hive_prod.logs.`app_raw` "
        "WHERE dt = '2026-11-{n:02d}'",
        ("default_catalog.ops_logs.app_logs", "hive_prod.logs.app_raw"),
        0.05,
        15000,
        60 * GB,
        is_query=False,
    ),
    Template(
        "data_scientist",
        "web_analytics",
        "SELECT * FROM web_analytics.page_views WHERE user_agent LIKE '%bot{n}%'",
        ("default_catalog.web_analytics.page_views",),
        0.02,
        95000,
        800 * GB,
    ),
    Template(
        "data_scientist",
        "logs",
        "SELECT level, count(*) FROM app_raw WHERE dt > '2026-11-{n:02d}' GROUP BY level",
        ("hive_prod.logs.app_raw",),
        0.04,
        6000,
        30 * GB,
        catalog="hive_prod",
    ),
    Template(
        "finance_ro",
        "finance",
        "SELECT i.invoice_id, l.amount FROM invoices i LEFT JOIN ledger l ON l.entry_id = i.invoice_id "
        "WHERE i.invoice_id = {n}",
        ("default_catalog.finance.invoices", "default_catalog.finance.ledger"),
        0.06,
        60,
        GB // 100,
    ),
    Template("root", "", "SHOW DATABASES", (), 0.02, 5, 0, is_query=False),
)
_WEIGHTS = tuple(
    sum(t.weight for t in TEMPLATES[: i + 1]) / sum(t.weight for t in TEMPLATES) for i in range(len(TEMPLATES))
)
ERROR_CODES = ("ANALYSIS_ERR", "MEM_LIMIT_EXCEEDED", "INTERNAL_ERROR")
TIMEOUT_MS = 300_000


def _period(model: ClusterModel) -> float:
    return 3600.0 / model.audit.per_hour


def slot_row(model: ClusterModel, i: int) -> dict:
    """The audit row of slot i, by column name, and the Template it ran (None for a session row)."""
    seed = model.workload.seed
    t = int(i * _period(model))
    r = unit_hash(seed, "audit", i)
    fe = model.frontends[i % len(model.frontends)]
    if unit_hash(seed, "conn", i) < 0.03:  # newer plugins also log sessions opening
        row = dict(queryType="connection", user="web_app", db="", stmt="", state="", queryTime=0, scanBytes=0)
        row.update(scanRows=0, cpuCostNs=0, memCostBytes=0, errorCode="", digest="", isQuery=0, catalog="")
        template = row["template"] = None
    else:
        template = next(tp for tp, edge in zip(TEMPLATES, _WEIGHTS) if r < edge)
        n = 1 + int(unit_hash(seed, "n", i) * 28)
        jitter = 0.5 + unit_hash(seed, "ms", i)
        ms, state, code = int(template.ms * jitter), "EOF" if template.is_query else "OK", ""
        fail = unit_hash(seed, "fail", i)
        spiking = template.is_query and model.incident("latency_spike", t) != 1.0
        if fail < 0.01 or (spiking and _chance(seed, "spike", i) < 0.2):  # a fifth of the queries time out
            ms, state, code = TIMEOUT_MS, "ERR", "TIMEOUT"
        elif not template.is_query and model.incident("fail_loads", t) and _chance(seed, "load", i) < 0.5:
            state, code = "ERR", "INTERNAL_ERROR"  # failing loads: half the INSERTs fail
        elif fail < 0.03:
            state, code = "ERR", ERROR_CODES[int(fail * 1000) % len(ERROR_CODES)]
        scanned = int(template.scan_bytes * jitter)
        row = dict(
            queryType="slow_query" if ms > 5000 else "query",
            user=template.user,
            db=template.db,
            catalog=template.catalog,
            stmt=template.sql.format(n=n),
            state=state,
            errorCode=code,
            queryTime=ms,
            scanBytes=scanned,
            scanRows=scanned // 120,
            cpuCostNs=ms * 2_500_000,
            memCostBytes=min(scanned // 8, 40 * GB),
            isQuery=int(template.is_query),
            digest=hashlib.md5(template.sql.encode()).hexdigest() if ms > 5000 else "",
            template=template,  # not a column: the known answer tests count against
        )
    row.update(
        queryId=f"{zlib_id(seed, i)}-{i:012d}",
        timestamp=fe_time(t),
        clientIp=f"10.30.0.{10 + i % 40}:{40000 + i % 20000}",
        authorizedUser=f"'{row['user']}'@'%'",
        resourceGroup="default_wg",
        returnRows=0 if template is None else 1 + i % 500,
        stmtId=i % 100_000,
        feIp=fe.host,
        planCpuCosts=0.0,
        planMemCosts=0.0,
        candidateMvs="",
        hitMVs="",
    )
    return row


def _chance(*key: object) -> float:
    """A number in [0, 1) for the key, independent of unit_hash's for the same slot (CRC32 is
    linear: two unit_hash keys of a slot differing in a fixed word are correlated, so an incident
    decided by one would pick by template)."""
    return int.from_bytes(hashlib.md5(":".join(map(str, key)).encode()).digest()[:8], "big") / 2**64


def zlib_id(seed: int, i: int) -> str:
    """The first part of slot i's queryId: a hex word, as a UUID starts."""
    return f"{int(unit_hash(seed, 'qid', i) * 2**32):08x}"


def rows_between(model: ClusterModel, lo: float, hi: float) -> list[dict]:
    """Every audit row whose timestamp falls in [lo, hi] epoch seconds, the extra rows a test
    added included, oldest first."""
    period = _period(model)
    first, last = max(0, int(lo // period)), int(hi // period)
    rows = [slot_row(model, i) for i in range(first, last + 1) if lo <= int(i * period) <= hi]
    extra = [r for ts, r in model.audit.extra if lo <= ts <= hi]
    return sorted(rows + extra, key=lambda r: (r["timestamp"], r["queryId"]))


class Refused(Exception):
    """What the FE answers instead of rows: no plugin (no table) or no SELECT on it."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def _check(model: ClusterModel) -> tuple[str, str]:
    db, table = model.audit.table.split(".", 1)
    if not model.audit.installed:
        raise Refused(f"Unknown database '{db}'", 1049)
    if not model.audit.readable:
        raise Refused(
            f"Access denied; you need (at least one of) the SELECT privilege(s) on TABLE {table} for this "
            "operation. Please ask the admin to grant permission(s) or try activating existing roles",
            1142,
        )
    return db, table


def names(model: ClusterModel, sql: str) -> bool:
    """Whether a statement is about the audit table (its table name appears in it)."""
    return model.audit.table.split(".", 1)[1].lower() in sql.lower()


def describe(model: ClusterModel) -> tuple[list[tuple], list[str]]:
    """DESCRIBE of the audit table: one row per column the profile's plugin writes."""
    _check(model)
    columns = model.profile.audit_columns or ()
    return [(c, "varchar(96)", "YES", "false", None, "") for c in columns], [
        "Field",
        "Type",
        "Null",
        "Key",
        "Default",
        "Extra",
    ]


_LOWER = re.compile(r"`?timestamp`?\s*>=?\s*'([0-9: -]{19})'", re.I)
RETAINED_DAYS = 8  # what a SELECT with no lower bound on `timestamp` sees


def query(model: ClusterModel, sql: str, t: float) -> tuple[list[tuple], list[str]]:
    """A SELECT over the audit table as loaded at time t (the plugin loads every 60 s), run by
    sqlglot's executor over the rows from its lower bound on `timestamp` on."""
    db, table = _check(model)
    columns = model.profile.audit_columns or ()
    bound = _LOWER.search(sql)
    lo = _epoch(bound.group(1)) if bound else t - RETAINED_DAYS * 86400
    loaded = t - t % 60
    lowered = tuple(c.lower() for c in columns)
    rows = SqlTable(lowered)
    for row in rows_between(model, lo, loaded):
        rows.append(tuple(row.get(c) for c in columns))
    try:
        tree = sqlglot.parse_one(sql, read="mysql").transform(
            lambda n: exp.to_identifier(n.name.lower()) if isinstance(n, exp.Identifier) else n
        )
        result = execute(tree, schema={db: {table: {c: "TEXT" for c in lowered}}}, tables={db: {table: rows}})
    except sqlglot.errors.SqlglotError as exc:
        raise Refused(f"Getting analyzing error. Detail message: {exc}", 1064) from exc
    canonical = {c.lower(): c for c in columns}
    return list(result.rows), [canonical.get(c, c) for c in result.columns]


def _epoch(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CLUSTER_TZ).timestamp()
