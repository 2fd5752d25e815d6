"""Claiming due reports with a lease, so that no two workers check one report in a pass.

A claim is one ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING id``. On PostgreSQL
the inner select locks its rows with ``FOR UPDATE SKIP LOCKED``, so concurrent workers
take different rows instead of waiting on each other. SQLite has a single writer and
runs the statement atomically under the write lock taken when the transaction began.
A worker that dies simply lets its lease run out; the reports are then due again.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.orm import Session

from store import counters
from store.models import CHECKABLE, Counter, Report


def worker_name() -> str:
    """A name for this process as the holder of leases (reports', look-ups'): its host,
    its pid and a random part, since pids are reused."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _unleased(now: datetime):
    return or_(Report.lease_until.is_(None), Report.lease_until < now)


def claim_due(
    session: Session,
    worker: str,
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    pass_started: datetime | None = None,
) -> list[int]:
    """Lease up to ``limit`` due reports to ``worker``, the longest-waiting first.

    Reports checked since ``pass_started`` are left alone, so that a pass checks each
    report once even when a check leaves it due at once (a queued report held back).
    """
    conditions = [Report.next_due_at <= now, _unleased(now)]
    if pass_started is not None:
        conditions.append(
            or_(Report.last_checked_at.is_(None), Report.last_checked_at < pass_started)
        )
    due = select(Report.id).where(and_(*conditions)).order_by(Report.next_due_at).limit(limit)
    return _claim(session, due, worker, now + lease)


def claim_named(
    session: Session, worker: str, ids: Sequence[int], *, now: datetime, lease: timedelta
) -> list[int]:
    """Lease the named reports now, due or not, unless another worker holds them."""
    named = select(Report.id).where(
        and_(Report.id.in_(ids), Report.state.in_(CHECKABLE), _unleased(now))
    )
    return _claim(session, named, worker, now + lease)


def count_due(session: Session, *, now: datetime) -> int:
    """How many reports are due now and free to claim."""
    return session.scalar(
        select(func.count()).select_from(Report).where(Report.next_due_at <= now, _unleased(now))
    )


WAKE_CHANNEL = "ntd_due"
# How many times work was queued to be checked at once, in the counters table: it adds up
# across processes, is committed with the work, and shows in /metrics.
WAKEUPS = counters.key("ntd_wakeups_total")


def wake(session: Session) -> None:
    """Tell `ntd run` that work is due now, not at its next CHECK_EVERY.

    It counts one wake-up in the session's transaction, which `ntd run` compares between
    passes with the count it read as its last pass began: committed with the work, the
    count is never seen before the work can be. On PostgreSQL a NOTIFY, delivered at the
    commit too, makes it look at once rather than within WAKE_EVERY.
    """
    counters.add(session, {WAKEUPS: 1})
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {WAKE_CHANNEL}"))


def wakeups(session: Session) -> float:
    """The wake-ups counted so far (0 before the first)."""
    name, labels = WAKEUPS
    value = session.scalar(
        select(Counter.value).where(Counter.name == name, Counter.labels == labels)
    )
    return value or 0.0


def release(session: Session, worker: str, ids: Sequence[int] | None = None) -> None:
    """Give back leases early, e.g. for reports a stopping worker did not reach; with
    ``ids`` None, every lease ``worker`` still holds."""
    held = Report.claimed_by == worker
    session.execute(
        update(Report)
        .where(held if ids is None else and_(Report.id.in_(ids), held))
        .values(claimed_by=None, lease_until=None)
    )


def _claim(session: Session, candidates, worker: str, until: datetime) -> list[int]:
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    claimed = session.execute(
        update(Report)
        .where(Report.id.in_(candidates.scalar_subquery()))
        .values(claimed_by=worker, lease_until=until)
        .returning(Report.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed.scalars())
