"""Sign-in accounts, per-cluster TLS verification, the Overview's covering index, leases."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

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


def upgrade() -> None:
    # A plain ADD COLUMN with a constant default works on both engines and, unlike a table
    # rebuild, leaves the snapshots' foreign keys to clusters alone.
    op.add_column("clusters", sa.Column("tls_verify", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
    )
    op.create_index("ix_sign_in_failures_name_ts", "sign_in_failures", ["name", "ts"])
    op.create_table(
        "collector_leases",
        sa.Column("cluster_id", sa.Integer(), sa.ForeignKey("clusters.id"), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "collectors",
        sa.Column("owner", sa.String(128), primary_key=True),
        sa.Column("heartbeat_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_snapshots_overview", "metrics_snapshots", ["cluster_id", "ts", *OVERVIEW_COLUMNS])
    op.drop_index("ix_snapshots_cluster_ts", "metrics_snapshots")  # the unique constraint's index serves


def downgrade() -> None:
    op.create_index("ix_snapshots_cluster_ts", "metrics_snapshots", ["cluster_id", "ts"])
    op.drop_index("ix_snapshots_overview", "metrics_snapshots")
    for table in ("collectors", "collector_leases", "sign_in_failures", "users"):
        op.drop_table(table)
    with op.batch_alter_table("clusters") as batch:
        batch.drop_column("tls_verify")
