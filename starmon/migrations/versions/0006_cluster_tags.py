"""Cluster tags (issue 16's fleet view): a JSON list per cluster, "[]" for every cluster so far."""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    # A plain ADD COLUMN with a constant default works on both engines and leaves the
    # snapshots' foreign keys to clusters alone (as 0002's tls_verify does).
    op.add_column("clusters", sa.Column("tags", sa.Text(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("clusters") as batch:
        batch.drop_column("tags")
