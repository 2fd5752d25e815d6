"""Staff actions the dashboard adds to those of store.reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from store.models import CHECKABLE, Event, Report
from store.queue import wake


def request_recheck(session: Session, report: Report, *, actor: str, now: datetime) -> bool:
    """Make a report due now: the scheduler's next pass checks it. False if it never is.

    The web process never fetches a reported URL itself; the crawler does, with its
    connect-time safety checks. A worker holding the report's lease keeps it, and its
    own check is as fresh as the one asked for.
    """
    if report.state not in CHECKABLE:
        return False
    report.next_due_at = now
    session.add(Event(at=now, actor=actor, report_id=report.id, action="recheck_requested"))
    wake(session)
    return True
