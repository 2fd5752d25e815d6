"""Police first: a report's notices wait until law enforcement clears it.

Many hotlines tell the police before the host when content is hosted in their own country,
so that an investigation is not spoiled by a takedown. A held report is checked as usual;
only its notices wait, until staff record the clearance or POLICE_CLEARANCE_TIMEOUT
passes. Holding and clearing are events, on the report's timeline and in the audit log.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import Session

from store.models import CHECKABLE, Event, Report
from store.queue import wake


def hold(
    session: Session,
    report: Report,
    *,
    actor: str,
    now: datetime,
    why: str | None = None,
    timeout: timedelta | None = None,
):
    """Hold ``report``'s notices for the police; False when a hold is already on (one
    past ``timeout``, POLICE_CLEARANCE_TIMEOUT, is over and can be placed again)."""
    expired = (
        timeout is not None
        and report.police_hold_at is not None
        and report.police_hold_at <= now - timeout
    )
    if report.police_hold_at is not None and report.police_cleared_at is None and not expired:
        return False
    report.police_hold_at, report.police_cleared_at, report.police_cleared_by = now, None, None
    session.add(Event(at=now, actor=actor, report_id=report.id, action="police_hold", detail=why))
    return True


def clear(session: Session, report: Report, *, actor: str, now: datetime, note: str | None = None):
    """Record law enforcement's clearance; False when there is no hold to clear.

    The report is made due, so the next check confirms it is still online before the
    first notice goes (a content taken down meanwhile is found removed instead)."""
    if report.police_hold_at is None or report.police_cleared_at is not None:
        return False
    report.police_cleared_at, report.police_cleared_by = now, actor
    if report.state in CHECKABLE and report.next_due_at is not None:
        report.next_due_at = min(report.next_due_at, now)
        wake(session)
    session.add(
        Event(at=now, actor=actor, report_id=report.id, action="police_cleared", detail=note)
    )
    return True


def not_held(now: datetime, timeout: timedelta | None) -> ColumnElement[bool]:
    """SQL: the report's notices may go: no hold, or the hold timed out, or it was cleared
    and a check since has found the content (still) online."""
    free = [
        Report.police_hold_at.is_(None),
        and_(
            Report.police_cleared_at.isnot(None),
            Report.last_checked_at > Report.police_cleared_at,
        ),
    ]
    if timeout is not None:
        free.append(Report.police_hold_at <= now - timeout)
    return or_(*free)
