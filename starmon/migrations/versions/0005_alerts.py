"""Alerts (issue 15): alerts with their lifecycle, silences, and the outbox notifications leave through."""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("cluster_id", sa.Integer(), sa.ForeignKey("clusters.id"), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("value", sa.Float()),
        sa.Column("threshold", sa.Float()),
        sa.Column("unit", sa.String(16)),
        sa.Column("peak", sa.Float()),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("fired_at", sa.Float()),
        sa.Column("resolved_at", sa.Float()),
        sa.Column("last_seen_at", sa.Float(), nullable=False),
        sa.Column("last_sent_at", sa.Float()),
        sa.Column("notifications", sa.Integer(), nullable=False),
        sa.Column("silenced", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_alerts_cluster_state", "alerts", ["cluster_id", "state"])
    op.create_index("ix_alerts_cluster_started", "alerts", ["cluster_id", "started_at"])
    op.create_table(
        "alert_silences",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("cluster_id", sa.Integer(), sa.ForeignKey("clusters.id")),
        sa.Column("rule", sa.String(64)),
        sa.Column("until", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("cluster_id", sa.Integer(), sa.ForeignKey("clusters.id"), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("alert_ids", sa.Text(), nullable=False),
        sa.Column("notify_type", sa.String(8), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.Float()),
        sa.Column("given_up_at", sa.Float()),
        sa.Column("last_error", sa.Text()),
    )
    op.create_index("ix_alert_outbox_due", "alert_outbox", ["sent_at", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_outbox_due", "alert_outbox")
    op.drop_table("alert_outbox")
    op.drop_table("alert_silences")
    op.drop_index("ix_alerts_cluster_started", "alerts")
    op.drop_index("ix_alerts_cluster_state", "alerts")
    op.drop_table("alerts")
