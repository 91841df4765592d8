"""The snapshot store's tables, declared once with SQLAlchemy Core.

Metric columns come from `starmon.columns`, so adding a metric there adds its column.
Indexes follow the read pattern: one cluster, a time range.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .columns import NODE_METRICS, NODE_TEXT, SNAPSHOT_METRICS, SNAPSHOT_TEXT, Metric

metadata = MetaData()


def _metric_columns(metrics: tuple[Metric, ...]) -> list[Column]:
    return [
        Column(m.name, BigInteger if m.kind is int else Float, nullable=True, comment=f"{m.unit}: {m.description}")
        for m in metrics
    ]


clusters = Table(
    "clusters",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("fe_host", String(255), nullable=False),
    Column("http_port", Integer, nullable=False),
    Column("query_port", Integer, nullable=False),
    Column("user", String(128), nullable=False),
    Column("password_env", String(128), comment="environment variable holding the password"),
    Column("password_encrypted", Text, comment="Fernet token of a password entered in the UI; never plaintext"),
    Column("tls", Boolean, nullable=False, default=False),
    Column("tls_verify", Boolean, nullable=False, default=True, comment="false only by explicit opt-in"),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("source", String(8), nullable=False, comment="'file' (starmon.toml), 'ui' or 'demo'"),
    Column("updated_at", Float, nullable=False),
    Column("tags", Text, nullable=False, default="[]", comment="JSON list of tags: 'prod', 'eu'"),
    Column("audit_table", String(255), comment="db.table of the AuditLoader plugin's table; NULL: its default"),
)

metrics_snapshots = Table(
    "metrics_snapshots",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("cluster_id", Integer, ForeignKey("clusters.id"), nullable=False),
    Column("ts", Float, nullable=False, comment="UTC epoch seconds when the round started"),
    Column("status", String(8), nullable=False, comment="ok, partial or down"),
    Column("error", Text, comment="why the round was partial or down, in words"),
    Column("collect_ms", Integer, nullable=False),
    Column("source", String(16), comment="where node lists came from: show_proc or mysql"),
    Column("version", String(SNAPSHOT_TEXT["version"]), comment="StarRocks version the FE reported"),
    *_metric_columns(SNAPSHOT_METRICS),
    UniqueConstraint("cluster_id", "ts", name="uq_snapshot_cluster_ts"),
)
# Covers the Overview's reads (card sparklines, range aggregates): a cluster's week is one contiguous
# run of this index, read without visiting the table, however many clusters share the file
# (bench/bench_read.py). At most 16 columns, MySQL's limit for one index.
OVERVIEW_COLUMNS = (
    "status",
    "qps",
    "query_latency_p99",
    "query_error_rate",
    "frontend_alive",
    "backend_alive",
    "avg_cpu_usage",
    "avg_memory_usage",
    "disk_usage_pct",
    "tablet_count",
    "max_compaction_score",
    "txn_running",
    "load_running",
)
Index(
    "ix_snapshots_overview",
    metrics_snapshots.c.cluster_id,
    metrics_snapshots.c.ts,
    *(metrics_snapshots.c[name] for name in OVERVIEW_COLUMNS),
)

node_snapshots = Table(
    "node_snapshots",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("snapshot_id", Integer, ForeignKey("metrics_snapshots.id"), nullable=False),
    Column("cluster_id", Integer, nullable=False),
    Column("ts", Float, nullable=False),
    Column("role", String(2), nullable=False, comment="FE, BE or CN"),
    Column("host", String(NODE_TEXT["host"]), nullable=False),
    Column("name", String(NODE_TEXT["name"]), comment="FE Name, BackendId or ComputeNodeId"),
    Column("alive", Boolean),
    Column("is_leader", Boolean),
    Column("version", String(NODE_TEXT["version"])),
    Column(
        "last_heartbeat",
        String(NODE_TEXT["last_heartbeat"]),
        comment="as the FE printed it, in the cluster's time zone",
    ),
    Column("last_start_time", String(NODE_TEXT["last_start_time"])),
    Column("error", Text),
    *_metric_columns(NODE_METRICS),
)
Index("ix_nodes_cluster_ts", node_snapshots.c.cluster_id, node_snapshots.c.ts)
Index("ix_nodes_snapshot", node_snapshots.c.snapshot_id)

data_statistics = Table(
    "data_statistics",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("cluster_id", Integer, ForeignKey("clusters.id"), nullable=False),
    Column("ts", Float, nullable=False),
    Column("status", String(8), nullable=False),
    Column("error", Text),
    Column("collect_ms", Integer, nullable=False),
    Column("database_count", Integer),
    Column("table_count", Integer),
    Column("total_data_bytes", BigInteger, comment="bytes, all replicas (DATA_LENGTH)"),
    Column("total_rows", BigInteger),
    Column("mv_total", Integer),
    Column("mv_active", Integer),
    Column("mv_inactive", Integer),
    Column("mv_failed", Integer, comment="MVs whose last refresh failed"),
    Column("schema_change_running", Integer),
    Column("schema_change_pending", Integer),
    Column("top_tables", Text, comment="JSON: largest tables [{db, table, bytes, rows}]"),
    Column("materialized_views", Text, comment="JSON: [{db, name, active, state, error}]"),
    Column("schema_changes", Text, comment="JSON: unfinished jobs [{db, table, state, progress}]"),
)
Index("ix_statistics_cluster_ts", data_statistics.c.cluster_id, data_statistics.c.ts)

table_size_history = Table(
    "table_size_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("cluster_id", Integer, ForeignKey("clusters.id"), nullable=False),
    Column("ts", Float, nullable=False),
    Column("db_name", String(255), nullable=False),
    Column("table_name", String(255), nullable=False),
    Column("data_bytes", BigInteger),
    Column("row_count", BigInteger),
)
Index("ix_table_size_cluster_ts", table_size_history.c.cluster_id, table_size_history.c.ts)
Index(
    "ix_table_size_table",
    table_size_history.c.cluster_id,
    table_size_history.c.db_name,
    table_size_history.c.table_name,
    table_size_history.c.ts,
)


# -- tiers for long ranges --------------------------------------------------------------------
hourly_snapshots = Table(
    "hourly_snapshots",
    metadata,
    Column("cluster_id", Integer, ForeignKey("clusters.id"), primary_key=True),
    Column("ts", Float, primary_key=True, comment="UTC epoch seconds at the start of the hour"),
    Column("rounds", Integer, nullable=False),
    Column("down_rounds", Integer, nullable=False),
    Column("qps_max", Float, comment="highest QPS of a round in the hour"),
    *_metric_columns(SNAPSHOT_METRICS),
    comment="metrics_snapshots rolled up per hour (avg, or max where metrics.py says so)",
)

node_hourly = Table(
    "node_hourly",
    metadata,
    Column("cluster_id", Integer, ForeignKey("clusters.id"), primary_key=True),
    Column("ts", Float, primary_key=True),
    Column("role", String(2), primary_key=True),
    Column("host", String(255), primary_key=True),
    *_metric_columns(NODE_METRICS),
)

daily_snapshots = Table(
    "daily_snapshots",
    metadata,
    Column("cluster_id", Integer, ForeignKey("clusters.id"), primary_key=True),
    Column("day", String(10), primary_key=True, comment="UTC date, YYYY-MM-DD"),
    Column("rounds", Integer, nullable=False),
    Column("avg_qps", Float),
    Column("max_qps", Float),
    Column("avg_latency_p99", Float, comment="ms"),
    Column("total_queries", BigInteger, comment="from counter deltas, resets handled"),
    Column("total_errors", BigInteger),
    Column("avg_disk_usage_pct", Float),
    Column("max_disk_usage_pct", Float),
    Column("avg_backend_alive", Float),
    Column("total_downtime_seconds", Float, comment="time the cluster was recorded down"),
)


# -- dashboard sign-in ------------------------------------------------------------------------
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(8), nullable=False, comment="viewer or admin"),
    Column("password_hash", String(255), nullable=False, comment="scrypt, salted; never the password"),
    Column("created_at", Float, nullable=False),
)

sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False),
    Column("ts", Float, nullable=False),
)
Index("ix_sign_in_failures_name_ts", sign_in_failures.c.name, sign_in_failures.c.ts)


# -- what changed: events derived from consecutive rounds and statistics passes -------------------
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("cluster_id", Integer, ForeignKey("clusters.id"), nullable=False),
    Column("ts", Float, nullable=False, comment="UTC epoch seconds of the round or pass that showed it"),
    Column("kind", String(32), nullable=False, comment="node_down, node_up, node_restarted, leader_changed, ..."),
    Column("subject", String(255), nullable=False, comment="what it happened to: 'BE 10.0.0.7', a table, ''"),
    Column("severity", String(8), nullable=False, comment="info, warning or critical"),
    Column("details", Text, comment="JSON object: before/after values, durations; never secrets"),
    UniqueConstraint("cluster_id", "ts", "kind", "subject", name="uq_events_once"),
)
Index("ix_events_cluster_ts", events.c.cluster_id, events.c.ts)


# -- machines and browsers that stay signed in ------------------------------------------------
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(8), nullable=False, comment="viewer or admin"),
    Column("token_hash", String(64), nullable=False, unique=True, comment="SHA-256 hex; never the token"),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True, comment="SHA-256 hex of the cookie's session id"),
    Column("user_name", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, comment="UTC epoch seconds"),
)
Index("ix_web_sessions_user", web_sessions.c.user_name)


# -- several collectors on one server database ---------------------------------------------
collector_leases = Table(
    "collector_leases",
    metadata,
    Column("cluster_id", Integer, ForeignKey("clusters.id"), primary_key=True),
    Column("owner", String(128), nullable=False, comment="collector id, '' when free"),
    Column("expires_at", Float, nullable=False, comment="UTC epoch seconds"),
)

collectors = Table(
    "collectors",
    metadata,
    Column("owner", String(128), primary_key=True),
    Column("heartbeat_at", Float, nullable=False),
)


# -- alerts: their lifecycle, silences, and the outbox notifications leave through ----------------
alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("cluster_id", Integer, ForeignKey("clusters.id"), nullable=False),
    Column("rule", String(64), nullable=False, comment="a rule of starmon.alerts.RULES"),
    Column("subject", String(255), nullable=False, comment="what it is about: 'BE 10.0.0.7', an MV, ''"),
    Column("state", String(8), nullable=False, comment="pending, firing or resolved"),
    Column("severity", String(8), nullable=False, comment="warning or critical: the highest reached"),
    Column("message", Text, nullable=False, comment="the condition in words, as the Overview says it"),
    Column("value", Float, comment="the newest value, in the rule's unit"),
    Column("threshold", Float),
    Column("unit", String(16)),
    Column("peak", Float, comment="the worst value while open"),
    Column("started_at", Float, nullable=False, comment="first round the condition held"),
    Column("fired_at", Float),
    Column("resolved_at", Float, comment="also set when a pending alert's condition went away"),
    Column("last_seen_at", Float, nullable=False),
    Column("last_sent_at", Float, comment="when it last went out (or would have, silenced): repeats count from it"),
    Column("notifications", Integer, nullable=False, default=0, comment="messages delivered about it"),
    Column("silenced", Boolean, nullable=False, default=False, comment="a silence held it back when it fired"),
)
Index("ix_alerts_cluster_state", alerts.c.cluster_id, alerts.c.state)
Index("ix_alerts_cluster_started", alerts.c.cluster_id, alerts.c.started_at)

alert_silences = Table(
    "alert_silences",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("cluster_id", Integer, ForeignKey("clusters.id"), comment="NULL: every cluster"),
    Column("rule", String(64), comment="NULL: every rule"),
    Column("until", Float, nullable=False, comment="UTC epoch seconds"),
    Column("reason", Text, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
)

alert_outbox = Table(
    "alert_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("cluster_id", Integer, ForeignKey("clusters.id"), nullable=False),
    Column("channel", String(64), nullable=False, comment="a channel's name; its URL stays in the config"),
    Column("alert_ids", Text, nullable=False, comment="JSON list of the alerts the message is about"),
    Column("notify_type", String(8), nullable=False, comment="apprise's info, success, warning or failure"),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("next_attempt_at", Float, nullable=False, comment="due from then; a sender claims a row by moving it on"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("sent_at", Float),
    Column("given_up_at", Float),
    Column("last_error", Text, comment="why the last attempt failed, in words; never the channel's URL"),
)
Index("ix_alert_outbox_due", alert_outbox.c.sent_at, alert_outbox.c.next_attempt_at)

alert_rule_edits = Table(
    "alert_rule_edits",
    metadata,
    Column("rule", String(64), primary_key=True, comment="a rule of starmon.alerts.RULES"),
    Column("cluster_glob", String(255), primary_key=True, comment="'*': every cluster; else a cluster name glob"),
    Column("changes", Text, nullable=False, comment="JSON: the [alerts.rules] keys the Alerts page set"),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", Float, nullable=False),
)


# -- the workload, from the audit log (issue 17): starmon's own hourly aggregates --------------
audit_watermarks = Table(
    "audit_watermarks",
    metadata,
    Column("cluster_id", Integer, ForeignKey("clusters.id"), primary_key=True),
    Column("audit_ts", String(32), comment="the last row read: its `timestamp` as the cluster wrote it"),
    Column("query_id", String(64), comment="and its queryId, the tiebreak within one second"),
    Column("status", String(16), nullable=False, comment="ok, not_installed, forbidden or error"),
    Column("message", Text, comment="why not ok, in words"),
    Column("checked_at", Float, nullable=False, comment="UTC epoch seconds of the last pass"),
    Column("rows_read", BigInteger, nullable=False, default=0, comment="audit rows counted so far"),
    Column("unparsed", BigInteger, nullable=False, default=0, comment="of them, statements sqlglot could not read"),
)

workload_table_access = Table(
    "workload_table_access",
    metadata,
    Column("cluster_id", Integer, ForeignKey("clusters.id"), primary_key=True),
    Column("ts", Float, primary_key=True, comment="UTC epoch seconds at the start of the hour"),
    Column("catalog", String(128), primary_key=True),
    Column("db_name", String(255), primary_key=True),
    Column("table_name", String(255), primary_key=True),
    Column("user_name", String(128), primary_key=True),
    Column("accesses", BigInteger, nullable=False, comment="statements that read or wrote the table"),
    Column("last_access", Float, nullable=False),
)

workload_users = Table(
    "workload_users",
    metadata,
    Column("cluster_id", Integer, ForeignKey("clusters.id"), primary_key=True),
    Column("ts", Float, primary_key=True, comment="UTC epoch seconds at the start of the hour"),
    Column("user_name", String(128), primary_key=True),
    Column("queries", BigInteger, nullable=False),
    Column("failed", BigInteger, nullable=False),
    Column("query_ms", BigInteger, nullable=False, comment="ms, summed"),
    Column("cpu_ns", BigInteger, nullable=False, comment="ns, summed (cpuCostNs)"),
    Column("scan_bytes", BigInteger, nullable=False, comment="bytes, summed"),
    Column("last_seen", Float, nullable=False),
)

workload_digests = Table(
    "workload_digests",
    metadata,
    Column("cluster_id", Integer, ForeignKey("clusters.id"), primary_key=True),
    Column("ts", Float, primary_key=True, comment="UTC epoch seconds at the start of the hour"),
    Column("digest", String(64), primary_key=True, comment="the audit log's digest, else a normalised hash"),
    Column("kind", String(16), nullable=False, comment="SELECT, INSERT, DDL, ... or UNPARSED"),
    Column("queries", BigInteger, nullable=False),
    Column("failed", BigInteger, nullable=False),
    Column("query_ms", BigInteger, nullable=False, comment="ms, summed"),
    Column("max_ms", BigInteger, nullable=False),
    Column("cpu_ns", BigInteger, nullable=False),
    Column("scan_bytes", BigInteger, nullable=False),
    Column("sample", Text, comment="one statement of the shape, its first 1,000 characters"),
)

workload_mix = Table(
    "workload_mix",
    metadata,
    Column("cluster_id", Integer, ForeignKey("clusters.id"), primary_key=True),
    Column("ts", Float, primary_key=True, comment="UTC epoch seconds at the start of the hour"),
    Column("kind", String(16), primary_key=True),
    Column("error_code", String(96), primary_key=True, comment="'' for a statement that succeeded"),
    Column("queries", BigInteger, nullable=False),
)

slow_queries = Table(
    "slow_queries",
    metadata,
    Column("cluster_id", Integer, ForeignKey("clusters.id"), primary_key=True),
    Column("query_id", String(64), primary_key=True),
    Column("ts", Float, nullable=False, comment="UTC epoch seconds the query started"),
    Column("user_name", String(128)),
    Column("db_name", String(255)),
    Column("query_ms", BigInteger),
    Column("scan_bytes", BigInteger),
    Column("scan_rows", BigInteger),
    Column("cpu_ns", BigInteger),
    Column("mem_bytes", BigInteger),
    Column("state", String(16)),
    Column("error_code", String(96)),
    Column("stmt", Text, comment="its first 1,000 characters"),
)
Index("ix_slow_queries_cluster_ts", slow_queries.c.cluster_id, slow_queries.c.ts)
WORKLOAD_TABLES = (workload_table_access, workload_users, workload_digests, workload_mix, slow_queries)
