"""AS numbers are 32-bit unsigned (RFC 6793): up to 4,294,967,295, past a signed INTEGER.

PostgreSQL's INTEGER stops at 2,147,483,647, so a 4-byte ASN above it (the private-use
range 4200000000-4294967294, and public ones as they are handed out) failed to store.
SQLite's INTEGER is 64-bit already, so there is nothing to change there (and a batch
alter would copy the whole table for nothing).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_COLUMNS = (("hosting", "asn"), ("network_cache", "asn"))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _COLUMNS:
            op.alter_column(table, column, type_=sa.BigInteger(), existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _COLUMNS:
            op.alter_column(table, column, type_=sa.Integer(), existing_nullable=True)
