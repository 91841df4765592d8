"""The panels of StarRocks' own dashboard (issue 18): running queries, transaction, load and
routine-load figures per cluster; JVM GC, disk I/O and network per node, with the counters their
rates are computed from. Metric columns, all nullable, on the rounds and their hourly rollups.

Frozen copy of what starmon.columns declared when it was written (types only: units and meanings
are schema comments, which migrations need not carry).
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"

SNAPSHOT_COLUMNS = (
    ("running_queries", sa.BigInteger),
    ("txn_begin_per_second", sa.Float),
    ("txn_success_per_second", sa.Float),
    ("txn_failed_per_second", sa.Float),
    ("load_finished_per_second", sa.Float),
    ("load_failed_per_second", sa.Float),
    ("routine_load_lag", sa.BigInteger),
)
NODE_COLUMNS = (
    ("txn_begin_total", sa.BigInteger),
    ("txn_success_total", sa.BigInteger),
    ("txn_failed_total", sa.BigInteger),
    ("txn_reject_total", sa.BigInteger),
    ("load_finished_total", sa.BigInteger),
    ("jvm_gc_time_ms", sa.BigInteger),
    ("jvm_gc_ms_per_second", sa.Float),
    ("disk_io_util_pct", sa.Float),
    ("net_receive_bytes_per_second", sa.BigInteger),
    ("net_send_bytes_per_second", sa.BigInteger),
    ("net_receive_bytes_total", sa.BigInteger),
    ("net_send_bytes_total", sa.BigInteger),
)
TABLES = {
    "metrics_snapshots": SNAPSHOT_COLUMNS,
    "hourly_snapshots": SNAPSHOT_COLUMNS,
    "node_snapshots": NODE_COLUMNS,
    "node_hourly": NODE_COLUMNS,
}


def upgrade() -> None:
    # Plain nullable ADD COLUMNs: instant on both engines whatever the table's size, and the
    # tables' foreign keys and indexes stay as they are (a batch rebuild would copy every round).
    for table, columns in TABLES.items():
        for name, kind in columns:
            op.add_column(table, sa.Column(name, kind(), nullable=True))


def downgrade() -> None:
    for table, columns in TABLES.items():
        with op.batch_alter_table(table) as batch:
            for name, _kind in columns:
                batch.drop_column(name)
