"""Events (issue 16): what changed between consecutive rounds and statistics passes, stored once."""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("cluster_id", sa.Integer(), sa.ForeignKey("clusters.id"), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("details", sa.Text()),
        sa.UniqueConstraint("cluster_id", "ts", "kind", "subject", name="uq_events_once"),
    )
    op.create_index("ix_events_cluster_ts", "events", ["cluster_id", "ts"])


def downgrade() -> None:
    op.drop_index("ix_events_cluster_ts", "events")
    op.drop_table("events")
