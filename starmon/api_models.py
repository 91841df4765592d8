"""The HTTP API's answers as pydantic models: the OpenAPI document and the validation of every
answer come from these same classes, so the document cannot drift from what is served.

Times are ISO 8601 strings in UTC (as `python -m starmon overview --json` prints them); a value
starmon could not read is null, never 0.
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, create_model

from . import schema

Status = Literal["ok", "partial", "down"]
PROBLEMS = "what is wrong at the range's end, worst first, each saying where its alert stands (firing, pending, off)"


class ErrorBody(BaseModel):
    code: str = Field(description="machine-readable: bad_request, unauthorized, forbidden, not_found, ...")
    message: str = Field(description="what went wrong, in words")


class Error(BaseModel):
    """Every answer that is not a success: 400, 401, 403, 404, 405, 409, 422, 429, 503."""

    error: ErrorBody


class Cluster(BaseModel):
    id: int
    name: str
    enabled: bool
    source: str = Field(description="file (starmon.toml), ui (the Clusters page) or demo")
    status: Status | None = Field(description="of the newest round; null before the first")
    version: str | None = Field(description="StarRocks version the newest round read")
    collected_at: str | None = Field(description="when the newest round started")


class Range(BaseModel):
    label: str = Field(description="1h, 6h, 24h, 3d, 7d, 30d, 90d or custom")
    start: str
    end: str


class HealthCard(BaseModel):
    key: str
    title: str
    value: float | None = Field(description="a number; alive nodes on alive cards, 0 ok / 1 partial / 2 down")
    total: float | None = Field(description="all nodes of the role on alive cards, else null")
    unit: str
    display: str = Field(description='the value as the dashboard shows it: "2/3", "ok", "412 ms"')
    status: str = Field(description="ok, warning, critical or unknown")
    delta: float | None = Field(description="change of value since deltas_since; null with fewer than two rounds")


class Series(BaseModel):
    """Bucketed series: the i-th value of every list belongs to time[i] (the bucket's start)."""

    bucket_seconds: int
    time: list[str]
    series: dict[str, list[float | None]]


class NodeSeries(Series):
    role: str = Field(description="FE, BE or CN")
    host: str


class Aggregates(BaseModel):
    avg_qps: float | None
    max_qps: float | None
    p99_latency_ms: float | None
    error_rate: float | None = Field(description="% of queries that failed")
    availability_pct: float | None = Field(description="% of rounds that found the cluster up")


class Fit(BaseModel):
    """One straight-line fit of used disk against time (starmon.forecast.Forecast)."""

    status: str = Field(description="ok, insufficient_data, not_growing or above_threshold")
    subject: str = Field(description='"cluster" or the node, e.g. "BE 10.0.0.3"')
    slope_bytes_per_day: float | None
    r2: float | None
    used_pct: float | None
    days_to_85: float | None
    days_to_95: float | None
    days_to_full: float | None
    full_at: str | None
    at_95: str | None
    interval_days: float | None
    outliers_dropped: int
    points: int
    message: str | None
    capacity: float | None = Field(description="bytes")
    residual_sd: float | None


class Forecast(BaseModel):
    """The disk-full forecast as of now: the first BE to reach 95 % leads; every fit below."""

    status: str
    slope_bytes_per_day: float | None
    r2: float | None
    days_to_85: float | None
    days_to_95: float | None
    days_to_full: float | None
    full_at: str | None
    interval_days: float | None
    message: str | None
    first_node: str | None
    at_95: str | None
    outliers_dropped: int
    cluster: Fit
    nodes: list[Fit]


def _table_model(name: str, table: sa.Table, doc: str) -> type[BaseModel]:
    """A model with every column of a table, each nullable, typed and described as the schema says."""
    kinds = {sa.Integer: int, sa.Float: float, sa.String: str, sa.Boolean: bool}
    fields = {}
    for column in table.columns:
        kind = next(k for base, k in kinds.items() if isinstance(column.type, base))
        fields[column.name] = (kind | None, Field(default=None, description=column.comment or None))
    return create_model(name, __doc__=doc, __config__=ConfigDict(extra="forbid"), **fields)


Snapshot = _table_model(
    "Snapshot",
    schema.metrics_snapshots,
    "A stored round, every column (units in starmon/columns.py); null where starmon could not read it.",
)
NodeRow = _table_model("NodeRow", schema.node_snapshots, "One node as one round found it, every column.")


class Overview(BaseModel):
    cluster_id: int
    cluster: str
    timestamp: str | None = Field(description="when the round the cards are read from started (range's end)")
    status: Status | None
    range: Range
    real_time: Snapshot | None = Field(description="that round, every column")  # type: ignore[valid-type]
    trends: Series = Field(description="the health cards' series, bucketed over the range")
    aggregated: Aggregates
    aggregate_units: dict[str, str]
    health_cards: list[HealthCard]
    deltas_since: str | None = Field(description="the range's first round: what the deltas are against")
    problems: list[str] = Field(description=PROBLEMS)
    forecast: Forecast


class Health(BaseModel):
    cluster_id: int
    cluster: str
    timestamp: str | None
    range: Range
    deltas_since: str | None
    health_cards: list[HealthCard]
    problems: list[str] = Field(description=PROBLEMS)


class Performance(BaseModel):
    cluster_id: int
    cluster: str
    range: Range
    cluster_series: Series = Field(
        description="QPS, RPS, p50/p95/p99 latency (ms), error and timeout rates (%), open connections, running "
        "queries (busiest BE/CN), transactions begun/committed/failed and loads finished/failed per second, "
        "routine-load lag (messages); units in starmon/columns.py"
    )
    per_fe: list[NodeSeries] = Field(description="QPS and p99 latency of each FE")


class Resources(BaseModel):
    cluster_id: int
    cluster: str
    range: Range
    average: Series = Field(description="the cluster's average CPU and memory %, and disk %")
    per_node: list[NodeSeries] = Field(
        description="CPU %, memory % and bytes, disk % and bytes, disk I/O utilisation %, network received and "
        "sent (bytes/s), compaction score and tablets of each BE and CN"
    )
    jvm_heap: list[NodeSeries] = Field(description="heap used, max (bytes) and %, and GC time (ms/s) of each FE")
    nodes: list[NodeRow] = Field(description="every node as the newest round found it")  # type: ignore[valid-type]
    forecast: Forecast = Field(description="the capacity forecast, per BE under nodes")


class TableSize(BaseModel):
    database: str
    table: str
    size_bytes: int | None = Field(description="DATA_LENGTH, every replica")
    rows: int | None
    growth_bytes: int | None = Field(description="since the range's first statistics pass")


class MaterializedView(BaseModel):
    db: str | None
    name: str | None
    active: bool | None
    inactive_reason: str | None = None
    state: str | None = Field(default=None, description="the last refresh's state")
    error: str | None = None


class SchemaChange(BaseModel):
    db: str | None
    table: str | None
    state: str | None
    progress: str | None = None
    created: str | None = Field(default=None, description="as the cluster reports it, in its time zone")
    message: str | None = None


class TableAccess(BaseModel):
    catalog: str | None = Field(description="default_catalog, or the external catalog the table is in")
    database: str
    table: str
    access_count: int = Field(description="statements that read or wrote it in the range's hours")
    unique_users: int
    last_access: str | None


class SlowQuery(BaseModel):
    query_id: str
    ts: str = Field(description="when it started")
    user_name: str | None
    db_name: str | None
    query_ms: int | None
    scan_bytes: int | None
    scan_rows: int | None
    cpu_ns: int | None
    mem_bytes: int | None
    state: str | None
    error_code: str | None
    stmt: str = Field(description="its first 200 characters, as the cluster logged them: text, never markup")


class UserLoad(BaseModel):
    user: str
    queries: int
    failed: int
    query_ms: int | None
    cpu_seconds: float
    scan_bytes: int | None


class DataStats(BaseModel):
    cluster_id: int
    cluster: str
    range: Range
    collected_at: str | None = Field(description="the newest statistics pass; null before the first")
    status: Status | None
    error: str | None
    database_count: int | None
    table_count: int | None
    total_data_bytes: int | None
    total_rows: int | None
    growth_since: str | None = Field(description="the range's first pass with sizes, what growth is against")
    largest_tables: list[TableSize]
    fastest_growing: list[TableSize]
    mv_total: int | None
    mv_active: int | None
    mv_inactive: int | None
    mv_failed: int | None
    materialized_views: list[MaterializedView]
    schema_change_running: int | None
    schema_change_pending: int | None
    schema_changes: list[SchemaChange]
    audit: Literal["ok", "not_installed", "forbidden", "error", "pending"] = Field(
        description="whether the audit log (README: Queries) could be read at the last pass; pending before one"
    )
    audit_message: str | None = Field(description="what to do when audit is not ok: the INSTALL PLUGIN or GRANT")
    top_tables_by_access: list[TableAccess] = Field(description="most accessed first, over the range's hours")
    slow_queries: list[SlowQuery] = Field(description="the slowest that started in the range, slowest first")
    active_users_1h: int = Field(description="users who ran a statement in the last hour")
    active_users_24h: int
    top_users: list[UserLoad] = Field(description="by statements run in the range's hours")


class Event(BaseModel):
    ts: str = Field(description="the round or statistics pass that showed it")
    kind: str = Field(description="node_down, node_up, node_restarted, leader_changed, ... (README: Events)")
    subject: str = Field(description='what it happened to: "BE 10.0.0.7", "sales.mv_daily", "" for the cluster')
    severity: Literal["info", "warning", "critical"]
    details: dict = Field(description="before and after values, durations in seconds; never secrets")


class Events(BaseModel):
    cluster_id: int
    cluster: str
    range: Range
    events: list[Event] = Field(description="oldest first")


class Refreshed(BaseModel):
    cluster_id: int
    cluster: str
    status: Status
    collect_ms: int
    reason: str | None = Field(description="what failed, in words, when not ok")
