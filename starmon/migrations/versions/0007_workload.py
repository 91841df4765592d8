"""The workload from the audit log (issue 17): a watermark per cluster and hourly aggregates."""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def _hourly(name: str, *columns: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("cluster_id", sa.Integer(), sa.ForeignKey("clusters.id"), primary_key=True),
        sa.Column("ts", sa.Float(), primary_key=True),
        *columns,
    )


def upgrade() -> None:
    op.create_table(
        "audit_watermarks",
        sa.Column("cluster_id", sa.Integer(), sa.ForeignKey("clusters.id"), primary_key=True),
        sa.Column("audit_ts", sa.String(32)),
        sa.Column("query_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text()),
        sa.Column("checked_at", sa.Float(), nullable=False),
        sa.Column("rows_read", sa.BigInteger(), nullable=False),
        sa.Column("unparsed", sa.BigInteger(), nullable=False),
    )
    _hourly(
        "workload_table_access",
        sa.Column("catalog", sa.String(128), primary_key=True),
        sa.Column("db_name", sa.String(255), primary_key=True),
        sa.Column("table_name", sa.String(255), primary_key=True),
        sa.Column("user_name", sa.String(128), primary_key=True),
        sa.Column("accesses", sa.BigInteger(), nullable=False),
        sa.Column("last_access", sa.Float(), nullable=False),
    )
    _hourly(
        "workload_users",
        sa.Column("user_name", sa.String(128), primary_key=True),
        *(sa.Column(c, sa.BigInteger(), nullable=False) for c in ("queries", "failed", "query_ms", "cpu_ns")),
        sa.Column("scan_bytes", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
    )
    _hourly(
        "workload_digests",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        *(
            sa.Column(c, sa.BigInteger(), nullable=False)
            for c in ("queries", "failed", "query_ms", "max_ms", "cpu_ns", "scan_bytes")
        ),
        sa.Column("sample", sa.Text()),
    )
    _hourly(
        "workload_mix",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("error_code", sa.String(96), primary_key=True),
        sa.Column("queries", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "slow_queries",
        sa.Column("cluster_id", sa.Integer(), sa.ForeignKey("clusters.id"), primary_key=True),
        sa.Column("query_id", sa.String(64), primary_key=True),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("user_name", sa.String(128)),
        sa.Column("db_name", sa.String(255)),
        *(sa.Column(c, sa.BigInteger()) for c in ("query_ms", "scan_bytes", "scan_rows", "cpu_ns", "mem_bytes")),
        sa.Column("state", sa.String(16)),
        sa.Column("error_code", sa.String(96)),
        sa.Column("stmt", sa.Text()),
    )
    op.create_index("ix_slow_queries_cluster_ts", "slow_queries", ["cluster_id", "ts"])
    op.add_column("clusters", sa.Column("audit_table", sa.String(255)))


def downgrade() -> None:
    with op.batch_alter_table("clusters") as batch:
        batch.drop_column("audit_table")
    op.drop_index("ix_slow_queries_cluster_ts", "slow_queries")
    for name in ("slow_queries", "workload_mix", "workload_digests", "workload_users", "workload_table_access"):
        op.drop_table(name)
    op.drop_table("audit_watermarks")
