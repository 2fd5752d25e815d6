"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29 00:17:40.738551
"""

from alembic import op
import sqlalchemy as sa
import store.types


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("canonical_url", sa.Text(), nullable=False),
        sa.Column("url_key", sa.String(length=64), nullable=False),
        sa.Column("ref", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("seen_online", sa.Boolean(), nullable=False),
        sa.Column("reappearances", sa.Integer(), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("first_online_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_online_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("removed_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_sha256", sa.String(length=64), nullable=True),
        sa.Column("first_content_type", sa.Text(), nullable=True),
        sa.Column("check_count", sa.Integer(), nullable=False),
        sa.Column("last_checked_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(length=16), nullable=True),
        sa.Column("last_http_status", sa.Integer(), nullable=True),
        sa.Column("last_final_url", sa.Text(), nullable=True),
        sa.Column("last_content_type", sa.Text(), nullable=True),
        sa.Column("last_bytes", sa.Integer(), nullable=True),
        sa.Column("last_truncated", sa.Boolean(), nullable=True),
        sa.Column("last_sha256", sa.String(length=64), nullable=True),
        sa.Column("last_ip", sa.String(length=45), nullable=True),
        sa.Column("last_elapsed_ms", sa.Integer(), nullable=True),
        sa.Column("last_detail", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("failing_since", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_failure_counted_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_due_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("lease_until", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("url_key"),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index("ix_reports_due", ["next_due_at"], unique=False)
        batch_op.create_index("ix_reports_ref", ["ref"], unique=False)
        batch_op.create_index("ix_reports_state", ["state"], unique=False)

    op.create_table(
        "checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("final_url", sa.Text(), nullable=True),
        sa.Column("content_type", sa.Text(), nullable=True),
        sa.Column("bytes", sa.Integer(), nullable=True),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("elapsed_ms", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.create_index("ix_checks_report", ["report_id", "id"], unique=False)

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_report", ["report_id", "id"], unique=False)

    op.create_table(
        "fingerprints",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id", "sha256"),
    )
    op.create_table(
        "report_refs",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.Column("added_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id", "ref"),
    )
    with op.batch_alter_table("report_refs", schema=None) as batch_op:
        batch_op.create_index("ix_report_refs_ref", ["ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_refs", schema=None) as batch_op:
        batch_op.drop_index("ix_report_refs_ref")

    op.drop_table("report_refs")
    op.drop_table("fingerprints")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_report")

    op.drop_table("events")
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.drop_index("ix_checks_report")

    op.drop_table("checks")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_state")
        batch_op.drop_index("ix_reports_ref")
        batch_op.drop_index("ix_reports_due")

    op.drop_table("reports")
