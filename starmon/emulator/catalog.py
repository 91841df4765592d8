"""A believable catalogue: databases, tables of very different sizes, MVs and schema changes.

Sizes grow with emulated time for tables that take loads, so statistics passes taken
minutes apart show growth. Names, sizes and states are fixed so tests can check them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .load import DAY, GB, TB

if TYPE_CHECKING:
    from .model import ClusterModel

MB = 1024**2
KB = 1024


@dataclass(frozen=True)
class Table:
    db: str
    name: str
    size0: int  # DATA_LENGTH bytes (all replicas) at the origin
    row_bytes: int  # average bytes per row
    model: str  # DUP_KEYS, AGG_KEYS, UNIQUE_KEYS or PRIMARY_KEYS
    keys: str
    buckets: int
    growth_per_day: float = 0.0  # relative growth per day
    partitions: int = 1
    create_time: str = "2024-03-18 10:21:07"


@dataclass(frozen=True)
class MaterializedView:
    db: str
    name: str
    is_active: bool
    state: str  # LAST_REFRESH_STATE
    inactive_reason: str = ""
    error: str = ""
    rows: int = 0
    definition: str = ""


@dataclass(frozen=True)
class SchemaChange:
    db: str
    table: str
    job_id: int
    state: str  # PENDING, WAITING_TXN, RUNNING, FINISHED or CANCELLED
    progress: str
    create_time: str
    finish_time: str = "NULL"
    msg: str = ""


TABLES = (
    Table("sales", "orders_fact", int(1.1 * TB), 180, "DUP_KEYS", "order_id, order_ts", 96, 0.012, 365),
    Table("sales", "order_items", int(640 * GB), 96, "DUP_KEYS", "order_id, item_id", 64, 0.010, 365),
    Table("sales", "customers", int(21 * GB), 420, "PRIMARY_KEYS", "customer_id", 16),
    Table("sales", "products", int(380 * MB), 610, "PRIMARY_KEYS", "product_id", 4),
    Table("web_analytics", "page_views", int(2.7 * TB), 240, "DUP_KEYS", "event_date, site_id", 128, 0.02, 90),
    Table("web_analytics", "sessions", int(410 * GB), 310, "AGG_KEYS", "event_date, session_id", 48, 0.015, 90),
    Table("web_analytics", "events_raw", int(96 * GB), 512, "DUP_KEYS", "event_ts", 32, 0.03, 14),
    Table("finance", "ledger", int(82 * GB), 260, "UNIQUE_KEYS", "entry_id", 16, 0.002, 36),
    Table("finance", "invoices", int(12 * GB), 700, "PRIMARY_KEYS", "invoice_id", 8, 0.001, 36),
    Table("finance", "fx_rates", int(2 * MB), 48, "PRIMARY_KEYS", "ccy, rate_date", 1),
    Table("ops_logs", "app_logs", int(930 * GB), 380, "DUP_KEYS", "log_ts, service", 64, 0.025, 30),
    Table("ops_logs", "audit_trail", int(5 * GB), 220, "DUP_KEYS", "event_ts", 8, 0.004, 30),
    Table("sandbox", "tmp_import", int(12 * MB), 90, "DUP_KEYS", "id", 2),
    Table("sandbox", "test_small", 2 * KB, 64, "DUP_KEYS", "id", 1),
    Table("_statistics_", "column_statistics", int(310 * MB), 160, "UNIQUE_KEYS", "table_id, column_name", 10),
)

MATERIALIZED_VIEWS = (
    MaterializedView(
        "sales",
        "mv_daily_revenue",
        True,
        "SUCCESS",
        rows=1460,
        definition="SELECT order_date, sum(amount) FROM sales.orders_fact GROUP BY order_date",
    ),
    MaterializedView(
        "sales",
        "mv_top_customers",
        True,
        "FAILED",
        error="Memory of query_pool exceed limit. Pipeline Backend: 127.0.0.4, fragment: 1",
        rows=1000,
        definition="SELECT customer_id, sum(amount) FROM sales.orders_fact GROUP BY 1",
    ),
    MaterializedView(
        "web_analytics",
        "mv_hourly_traffic",
        True,
        "RUNNING",
        rows=52560,
        definition="SELECT date_trunc('hour', ts), count(*) FROM web_analytics.page_views GROUP BY 1",
    ),
    MaterializedView("web_analytics", "mv_session_funnel", True, "SUCCESS", rows=8810),
    MaterializedView(
        "finance",
        "mv_ledger_summary",
        False,
        "SUCCESS",
        inactive_reason="base-table schema changed for columns: amount",
        rows=0,
    ),
)

SCHEMA_CHANGES = (
    SchemaChange("sales", "order_items", 12201, "RUNNING", "45%", "2026-11-25 09:12:44"),
    SchemaChange("web_analytics", "sessions", 12240, "PENDING", "N/A", "2026-11-25 09:40:02"),
    SchemaChange(
        "finance", "invoices", 11876, "FINISHED", "N/A", "2026-11-20 16:03:11", finish_time="2026-11-20 16:05:40"
    ),
)

DATABASES = tuple(dict.fromkeys(t.db for t in TABLES))
MV_FAILURE = "Memory of process exceed limit. QUERY_POOL: Used: 41875316736, Limit: 41875316736. Backend: {host}"


def mv_names() -> tuple[str, ...]:
    """Every MV as "db.name": what the mv_refresh_failing switch may name."""
    return tuple(f"{mv.db}.{mv.name}" for mv in MATERIALIZED_VIEWS)


def table_names() -> tuple[str, ...]:
    """Every user table as "db.table": what the schema_change switch may name."""
    return tuple(f"{t.db}.{t.name}" for t in TABLES if not t.db.startswith("_"))


def db_id(db: str) -> int:
    return 10001 + DATABASES.index(db)


def table_id(table: Table) -> int:
    return 11001 + TABLES.index(table)


def table_size(model: ClusterModel, table: Table, t: float) -> int:
    """DATA_LENGTH at time t: grows linearly for tables that take loads (smaller in the past)."""
    days = (t - model.origin) / DAY
    return int(table.size0 * (1 + table.growth_per_day * days))


def table_rows(model: ClusterModel, table: Table, t: float) -> int:
    return table_size(model, table, t) // table.row_bytes
