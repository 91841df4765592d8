"""Alert rules edited on the Alerts page (issue 15): changes on top of starmon.toml's [alerts.rules]."""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "alert_rule_edits",
        sa.Column("rule", sa.String(64), primary_key=True),
        sa.Column("cluster_glob", sa.String(255), primary_key=True),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_rule_edits")
