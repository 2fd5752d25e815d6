"""hosting contacts and notices

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 00:46:58.919368
"""

from alembic import op
import sqlalchemy as sa
import store.types


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("added_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("bouncing_since", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index("ux_contacts_kind_key", ["kind", "key"], unique=True)

    op.create_table(
        "network_cache",
        sa.Column("prefix", sa.String(length=64), nullable=False),
        sa.Column("asn", sa.Integer(), nullable=True),
        sa.Column("fetched_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("prefix"),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("to", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failed_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index("ix_notices_pending", ["sent_at", "next_attempt_at"], unique=False)

    op.create_table(
        "hosting",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("asn", sa.Integer(), nullable=True),
        sa.Column("network", sa.String(length=64), nullable=True),
        sa.Column("org", sa.Text(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("abuse_email", sa.Text(), nullable=True),
        sa.Column("registered_domain", sa.Text(), nullable=True),
        sa.Column("registrar", sa.Text(), nullable=True),
        sa.Column("cdn", sa.Text(), nullable=True),
        sa.Column("sources", sa.JSON(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("resolved_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id"),
    )
    with op.batch_alter_table("hosting", schema=None) as batch_op:
        batch_op.create_index("ix_hosting_asn", ["asn"], unique=False)
        batch_op.create_index("ix_hosting_country", ["country"], unique=False)

    op.create_table(
        "notice_reports",
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("notice_id", "report_id"),
    )
    with op.batch_alter_table("notice_reports", schema=None) as batch_op:
        batch_op.create_index("ix_notice_reports_report", ["report_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notice_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_reports_report")

    op.drop_table("notice_reports")
    with op.batch_alter_table("hosting", schema=None) as batch_op:
        batch_op.drop_index("ix_hosting_country")
        batch_op.drop_index("ix_hosting_asn")

    op.drop_table("hosting")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_pending")

    op.drop_table("notices")
    op.drop_table("network_cache")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ux_contacts_kind_key")

    op.drop_table("contacts")
