"""Running totals for /metrics, and the leader's heartbeat for /healthz.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("labels", sa.String(length=200), primary_key=True),
        sa.Column("value", sa.Float(), nullable=False),
    )
    op.create_table(
        "heartbeats",
        sa.Column("name", sa.String(length=32), primary_key=True),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("at", store.types.UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("heartbeats")
    op.drop_table("counters")
