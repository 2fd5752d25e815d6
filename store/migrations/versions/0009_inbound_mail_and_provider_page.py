"""The providers' side: inbound messages, provider links and answers, the store's secret.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Time = store.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(length=32), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", Time(timezone=True), nullable=False),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("received_at", Time(timezone=True), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False, unique=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("from_address", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("matched_by", sa.String(length=16), nullable=False),
        sa.Column(
            "notice_id",
            sa.Integer(),
            sa.ForeignKey("notices.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("ticket", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("text_cut", sa.Boolean(), nullable=False),
        sa.Column("attachments", sa.Integer(), nullable=True),
        sa.Column("attachment_types", sa.JSON(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("needs_reading", sa.Boolean(), nullable=False),
        sa.Column("read_at", Time(timezone=True), nullable=True),
        sa.Column("read_by", sa.String(length=64), nullable=True),
    )
    op.create_index("ix_inbound_notice", "inbound_messages", ["notice_id"])
    op.create_index("ix_inbound_received", "inbound_messages", ["received_at"])
    op.create_index("ix_inbound_inbox", "inbound_messages", ["needs_reading", "read_at"])
    op.create_table(
        "provider_links",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column(
            "notice_id",
            sa.Integer(),
            sa.ForeignKey("notices.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("created_at", Time(timezone=True), nullable=False),
        sa.Column("expires_at", Time(timezone=True), nullable=False),
    )
    op.create_table(
        "provider_actions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", Time(timezone=True), nullable=False),
        sa.Column(
            "notice_id",
            sa.Integer(),
            sa.ForeignKey("notices.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "report_id",
            sa.Integer(),
            sa.ForeignKey("reports.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("needs_reading", sa.Boolean(), nullable=False),
        sa.Column("read_at", Time(timezone=True), nullable=True),
        sa.Column("read_by", sa.String(length=64), nullable=True),
    )
    op.create_index("ix_provider_actions_report", "provider_actions", ["report_id", "id"])
    op.create_index("ix_provider_actions_notice", "provider_actions", ["notice_id", "at"])
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("first_response_at", Time(timezone=True), nullable=True))
    with op.batch_alter_table("notices") as batch:
        batch.add_column(sa.Column("answered_at", Time(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("answered_at")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("first_response_at")
    op.drop_table("provider_actions")
    op.drop_table("provider_links")
    op.drop_index("ix_inbound_inbox", "inbound_messages")
    op.drop_index("ix_inbound_received", "inbound_messages")
    op.drop_index("ix_inbound_notice", "inbound_messages")
    op.drop_table("inbound_messages")
    op.drop_table("secrets")
