"""The sealed audit chain, purged reports, and sign-in throttling.

Queueing becomes an event (one per batch): reports queued before are given theirs here,
one per actor and moment (one call of the queue). Then the events already in the store
are sealed, in id order, as if each had been sealed when it was written.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Time = store.types.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("detail_digest", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch.create_index("ix_events_seq", ["seq"], unique=True)
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("purged_at", Time(timezone=True), nullable=True))
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
    )
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", Time(timezone=True), nullable=False),
        sa.Column("locked_until", Time(timezone=True), nullable=True),
    )
    _queued_events()
    _seal_existing(head)


def _queued_events() -> None:
    from store.reports import _ids

    bind = op.get_bind()
    reports = sa.table(
        "reports",
        sa.column("id", sa.Integer),
        sa.column("created_at", Time(timezone=True)),
        sa.column("created_by", sa.String),
    )
    events = sa.table(
        "events",
        sa.column("at", Time(timezone=True)),
        sa.column("actor", sa.String),
        sa.column("action", sa.String),
        sa.column("detail", sa.Text),
    )
    batches: dict[tuple, list[int]] = {}
    for row in bind.execute(sa.select(reports).order_by(reports.c.id)):
        batches.setdefault((row.created_at, row.created_by), []).append(row.id)
    rows = [
        {"at": at, "actor": actor, "action": "queued", "detail": f"{len(ids)} reports: {_ids(ids)}"}
        for (at, actor), ids in sorted(batches.items(), key=lambda item: item[1][0])
    ]
    if rows:
        bind.execute(events.insert(), rows)


def _seal_existing(head: sa.Table) -> None:
    from store.audit import GENESIS, chain, detail_digest

    bind = op.get_bind()
    events = sa.table(
        "events",
        sa.column("id", sa.Integer),
        sa.column("at", Time(timezone=True)),
        sa.column("actor", sa.String),
        sa.column("report_id", sa.Integer),
        sa.column("action", sa.String),
        sa.column("from_state", sa.String),
        sa.column("to_state", sa.String),
        sa.column("detail", sa.Text),
        sa.column("seq", sa.Integer),
        sa.column("detail_digest", sa.String),
        sa.column("hash", sa.String),
    )
    seq, previous, last = 0, GENESIS, 0
    while True:
        rows = bind.execute(
            sa.select(events).where(events.c.id > last).order_by(events.c.id).limit(1000)
        ).all()
        if not rows:
            break
        seals = []
        for row in rows:
            seq += 1
            digest = detail_digest(row.detail)
            previous = chain(previous, seq, row, digest)
            seals.append({"key": row.id, "s": seq, "d": digest, "h": previous})
        bind.execute(
            events.update()
            .where(events.c.id == sa.bindparam("key"))
            .values(seq=sa.bindparam("s"), detail_digest=sa.bindparam("d"), hash=sa.bindparam("h")),
            seals,
        )
        last = rows[-1].id
    bind.execute(head.insert().values(id=1, seq=seq, hash=previous))


def downgrade() -> None:
    op.drop_table("login_throttle")
    op.drop_table("audit_head")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("purged_at")
    with op.batch_alter_table("events") as batch:
        batch.drop_index("ix_events_seq")
        batch.drop_column("hash")
        batch.drop_column("detail_digest")
        batch.drop_column("seq")
