"""Public reports (submissions), analysts' assessments, and the police-first hold.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("police_hold_at", store.types.UTCDateTime(timezone=True)))
        batch.add_column(sa.Column("police_cleared_at", store.types.UTCDateTime(timezone=True)))
        batch.add_column(sa.Column("police_cleared_by", sa.String(length=64)))
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("received_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("url", sa.Text()),
        sa.Column("canonical_url", sa.Text()),
        sa.Column("url_key", sa.String(length=64)),
        sa.Column("seen", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("email", sa.Text()),
        sa.Column("client_digest", sa.String(length=64)),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("verdict", sa.String(length=16)),
        sa.Column("assessed_at", store.types.UTCDateTime(timezone=True)),
        sa.Column("assessed_by", sa.Text()),
        sa.Column("report_id", sa.Integer(), sa.ForeignKey("reports.id", ondelete="SET NULL")),
        sa.Column("feedback_assessed_at", store.types.UTCDateTime(timezone=True)),
        sa.Column("feedback_removed_at", store.types.UTCDateTime(timezone=True)),
        sa.Column("erased_at", store.types.UTCDateTime(timezone=True)),
    )
    op.create_index("ix_submissions_reference", "submissions", ["reference"])
    op.create_index("ix_submissions_url_key", "submissions", ["url_key"])
    op.create_index("ix_submissions_state", "submissions", ["state"])
    op.create_index("ix_submissions_client", "submissions", ["client_digest", "received_at"])
    op.create_index("ix_submissions_report", "submissions", ["report_id"])
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "submission_id",
            sa.Integer(),
            sa.ForeignKey("submissions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("analyst", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=16)),
        sa.Column("police", sa.Boolean(), nullable=False),
        sa.Column("at", store.types.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_assessments_submission", "assessments", ["submission_id"])


def downgrade() -> None:
    op.drop_table("assessments")
    op.drop_table("submissions")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("police_cleared_by")
        batch.drop_column("police_cleared_at")
        batch.drop_column("police_hold_at")
