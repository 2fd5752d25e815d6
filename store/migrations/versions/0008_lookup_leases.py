"""Workers share their RDAP look-ups: a lease per network or domain being asked.

Two workers whose passes meet the same network asked RDAP for it twice, at each one's
RDAP_RATE. Now one takes a lease on the cache key and asks; the other waits for the
answer in network_cache.

network_cache.prefix also grows from 64 to 300 characters: besides prefixes it holds
"domain:<registered domain>", and a domain name may have 253. PostgreSQL refused the
longer ones; SQLite does not enforce the length, so only PostgreSQL is altered.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lookup_leases",
        sa.Column("key", sa.String(length=300), primary_key=True),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("until", store.types.UTCDateTime(timezone=True), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("network_cache", "prefix", type_=sa.String(300), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("network_cache", "prefix", type_=sa.String(64), existing_nullable=False)
    op.drop_table("lookup_leases")
