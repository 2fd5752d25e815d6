"""Keep when a report's first notice went on the report: the clock of time to removal.

Statistics read it for every report; a join over all notices each time would cost
seconds at a million reports. Filled in from the notices already sent.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch_op:
        batch_op.add_column(
            sa.Column("first_notice_at", store.types.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE reports SET first_notice_at = ("
        " SELECT MIN(n.sent_at) FROM notice_reports nr JOIN notices n ON n.id = nr.notice_id"
        " WHERE nr.report_id = reports.id AND n.sent_at IS NOT NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch_op:
        batch_op.drop_column("first_notice_at")
