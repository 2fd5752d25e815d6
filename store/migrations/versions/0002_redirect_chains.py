"""Keep the redirect chain of each stored check and of the latest one.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checks") as batch_op:
        batch_op.add_column(sa.Column("redirects", sa.JSON(), nullable=True))
    with op.batch_alter_table("reports") as batch_op:
        batch_op.add_column(sa.Column("last_redirects", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch_op:
        batch_op.drop_column("last_redirects")
    with op.batch_alter_table("checks") as batch_op:
        batch_op.drop_column("redirects")
