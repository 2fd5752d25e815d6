"""Mailboxes that refuse our notices: marking one bouncing, listing them, clearing one.

A mailbox is marked bouncing by a 5xx from our mail server or by a bounce that arrived
later, matched to the notice it bounces (``inbound``). Either way the notice failed: the
next notify pass skips the mailbox for the next contact in the report's chain. A notice
that bounced reached nobody, so it does not start the clock of time to removal either: a
report's first notice is its first one that did not fail, whether the failure was seen at
once or a day later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from store.exceptions import NotFound
from store.models import Contact, Event, Mailbox, Notice, NoticeReport, Report


@dataclass(frozen=True)
class Bouncing:
    address: str
    since: datetime
    error: str | None
    staff_contact: bool  # one of staff's own contacts (ntd contacts), not a look-up's


def mark_bounced(session: Session, notice: Notice, error: str, *, actor: str, now: datetime):
    """Fail ``notice``, mark its recipient bouncing, and put the clock right."""
    notice.failed_at, notice.last_error = now, error
    mailbox = session.get(Mailbox, notice.to)
    if mailbox is None:
        session.add(Mailbox(address=notice.to, bouncing_since=now, last_error=error))
    else:
        mailbox.last_error = error
    report_ids = list(
        session.scalars(select(NoticeReport.report_id).where(NoticeReport.notice_id == notice.id))
    )
    session.add_all(
        Event(at=now, actor=actor, report_id=i, action="bounced", detail=f"{notice.to}: {error}")
        for i in report_ids
    )
    if notice.sent_at is not None:
        session.flush()
        _first_notice_again(session, report_ids)


def _first_notice_again(session: Session, report_ids: list[int]) -> None:
    first = (
        select(func.min(Notice.sent_at))
        .join(NoticeReport, NoticeReport.notice_id == Notice.id)
        .where(
            NoticeReport.report_id == Report.id,
            Notice.sent_at.isnot(None),
            Notice.failed_at.is_(None),
        )
        .scalar_subquery()
    )
    session.execute(
        update(Report).where(Report.id.in_(report_ids)).values(first_notice_at=first),
        execution_options={"synchronize_session": False},
    )


def bouncing(session: Session) -> list[Bouncing]:
    staff = set(session.scalars(select(func.lower(Contact.email))))
    return [
        Bouncing(m.address, m.bouncing_since, m.last_error, m.address.lower() in staff)
        for m in session.scalars(select(Mailbox).order_by(Mailbox.bouncing_since, Mailbox.address))
    ]


def unbounce(session: Session, address: str, *, actor: str, now: datetime) -> None:
    """Let notices go to ``address`` again (the provider fixed its mailbox)."""
    found = session.scalar(select(Mailbox).where(func.lower(Mailbox.address) == address.lower()))
    if found is None:
        raise NotFound(f"{address} is not marked bouncing (see `ntd contacts bouncing`)")
    session.execute(delete(Mailbox).where(Mailbox.address == found.address))
    session.add(Event(at=now, actor=actor, action="unbounced", detail=found.address))
