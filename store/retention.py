"""Retention: what a finished report keeps once RETENTION has passed.

A report is finished when it is ``closed`` or ``rejected``, or ``removed`` for longer than
REAPPEARANCE_WINDOW (it can no longer come back as the same report). Finished for longer
than RETENTION, it is purged:

- gone: its URL (the row says ``purged``, and a new report of the URL starts afresh), ref
  and refs, reason, expected fingerprints, the addresses, hashes, final URLs and redirects
  of its checks, every check row but the first and the last, its hosting's address,
  domain, abuse address and look-up details, the details of its audit events (their
  digests stay: the chain still verifies), the text of what providers wrote about it,
  and of mail to notices that covered only purged reports (sender, subject, text, ticket,
  what it did), with those notices' provider links and mail-server errors; and, past
  RETENTION too, the text of mail that matched no notice and the RDAP answers cached;
- kept, as the statistics need them: its dates, state, category, whether it was seen
  online, reappearances, provider ASN, network, organisation and country, and its
  notices with when they went, bounced and were answered, and to which abuse desk (a
  provider's role address, not a person's).

So `ntd stats` gives the same figures before and after a purge.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from store.models import (
    CLOSED,
    REJECTED,
    REMOVED,
    Check,
    Event,
    Fingerprint,
    Hosting,
    InboundMessage,
    NetworkCache,
    Notice,
    NoticeReport,
    ProviderAction,
    ProviderLink,
    Report,
    ReportRef,
    Submission,
)

PURGED = "purged"
_CHUNK = 500
_NO_URL = {"url": None, "canonical_url": None, "url_key": None}
_NO_TEXT = {
    "from_address": None,
    "subject": None,
    "message_id": None,
    "text": None,
    "ticket": None,
    "outcome": None,
}


@dataclass
class Purge:
    """How much a purge took away (or would, with --dry-run)."""

    reports: int = 0
    checks: int = 0  # check rows deleted
    refs: int = 0
    fingerprints: int = 0
    event_details: int = 0
    messages: int = 0  # inbound message texts erased
    answers: int = 0  # provider-page texts erased
    links: int = 0  # provider links deleted
    submissions: int = 0  # public submissions whose URL was erased
    reporters: int = 0  # public submissions whose reporter's email and text were erased

    def add(self, other: Purge) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def summary(self) -> str:
        return (
            f"{self.reports} reports, {self.checks} check rows, {self.refs} refs, "
            f"{self.fingerprints} fingerprints, {self.event_details} event details, "
            f"{self.messages} message texts, {self.answers} provider answers, "
            f"{self.links} provider links, {self.submissions} submission URLs, "
            f"{self.reporters} reporters' details"
        )


def due(
    session: Session,
    now: datetime,
    retention: timedelta,
    window: timedelta,
    limit: int | None = None,
) -> list[int]:
    """The ids of the reports to purge now, lowest first (at most ``limit``)."""
    cutoff = now - retention
    last_event = select(func.max(Event.at)).where(Event.report_id == Report.id).scalar_subquery()
    ended = func.coalesce(last_event, Report.created_at)
    finished = or_(
        and_(Report.state.in_([CLOSED, REJECTED]), ended < cutoff),
        and_(
            Report.state == REMOVED,
            Report.removed_at < cutoff,
            Report.removed_at < now - window,
        ),
    )
    query = select(Report.id).where(Report.purged_at.is_(None), finished).order_by(Report.id)
    return list(session.scalars(query if limit is None else query.limit(limit)))


def purge(
    session: Session,
    now: datetime,
    retention: timedelta,
    window: timedelta,
    *,
    actor: str,
    dry_run: bool = False,
    reporter_retention: timedelta | None = None,
) -> Purge:
    """Purge (or count, ``dry_run``) every report due; one audit event says how much."""
    ids = due(session, now, retention, window)
    total = Purge()
    for start in range(0, len(ids), _CHUNK):
        total.add(_chunk(session, ids[start : start + _CHUNK], now, dry_run))
    total.add(_loose_ends(session, now - retention, dry_run))
    if reporter_retention is not None:
        total.add(_reporters(session, now, now - reporter_retention, dry_run))
    if (total.reports or total.reporters or total.submissions) and not dry_run:
        _record(session, now, retention, total, actor)
    return total


def purge_store(
    store,
    now: datetime,
    retention: timedelta,
    window: timedelta,
    *,
    actor: str,
    retries: int,
    backoff: timedelta,
    dry_run: bool = False,
    reporter_retention: timedelta | None = None,
) -> Purge:
    """``purge`` for a whole store, 500 reports a transaction: a first purge of a large
    store must not hold SQLite's one write lock for long. Each chunk is whole, so a purge
    cut short is simply finished by the next."""
    if dry_run:
        with store.session() as session:
            return purge(
                session,
                now,
                retention,
                window,
                actor=actor,
                dry_run=True,
                reporter_retention=reporter_retention,
            )
    total = Purge()

    def one_chunk(session: Session) -> Purge | None:
        ids = due(session, now, retention, window, limit=_CHUNK)
        return _chunk(session, ids, now, False) if ids else None

    while (done := store.transaction(one_chunk, retries=retries, backoff=backoff)) is not None:
        total.add(done)

    def finish(session: Session) -> None:
        total.add(_loose_ends(session, now - retention, False))
        if reporter_retention is not None:
            total.add(_reporters(session, now, now - reporter_retention, False))
        if total.reports or total.reporters or total.submissions:
            _record(session, now, retention, total, actor)

    store.transaction(finish, retries=retries, backoff=backoff)
    return total


def _record(session: Session, now: datetime, retention: timedelta, total: Purge, actor: str):
    detail = f"finished more than {retention} ago: {total.summary()}"
    session.add(Event(at=now, actor=actor, action="purged", detail=detail))


def _loose_ends(session: Session, cutoff: datetime, dry_run: bool) -> Purge:
    """Mail that matched no notice, and RDAP answers kept for domains and addresses, once
    older than RETENTION: they belong to no report, so no report's purge takes them."""
    unmatched = and_(
        InboundMessage.notice_id.is_(None), InboundMessage.received_at < cutoff, _any_text()
    )
    # Public submissions closed without a report (not illegal, not found, out of remit).
    closed = and_(
        Submission.report_id.is_(None),
        Submission.assessed_at < cutoff,
        Submission.url.isnot(None),
    )
    counted = Purge(
        messages=_count(session, InboundMessage, unmatched),
        submissions=_count(session, Submission, closed),
    )
    if not dry_run:
        session.execute(update(InboundMessage).where(unmatched).values(**_NO_TEXT))
        session.execute(delete(NetworkCache).where(NetworkCache.fetched_at < cutoff))
        session.execute(update(Submission).where(closed).values(**_NO_URL))
    return counted


def _reporters(session: Session, now: datetime, cutoff: datetime, dry_run: bool) -> Purge:
    """The reporter's personal data in public reports received before ``cutoff``."""
    personal = and_(
        Submission.received_at < cutoff,
        or_(
            Submission.email.isnot(None),
            Submission.description.isnot(None),
            Submission.client_digest.isnot(None),
        ),
    )
    counted = Purge(reporters=_count(session, Submission, personal))
    if not dry_run:
        session.execute(
            update(Submission)
            .where(personal)
            .values(email=None, description=None, client_digest=None, erased_at=now)
        )
    return counted


def _chunk(session: Session, ids: list[int], now: datetime, dry_run: bool) -> Purge:
    counted = Purge(reports=len(ids))
    middle = _middle_checks(session, ids)
    counted.checks = len(middle)
    counted.refs = _count(session, ReportRef, ReportRef.report_id.in_(ids))
    counted.fingerprints = _count(session, Fingerprint, Fingerprint.report_id.in_(ids))
    has_detail = and_(Event.report_id.in_(ids), Event.detail.isnot(None))
    counted.event_details = _count(session, Event, has_detail)
    notices = _notices_only_of(session, ids)
    has_text = and_(InboundMessage.notice_id.in_(notices), _any_text())
    counted.messages = _count(session, InboundMessage, has_text) if notices else 0
    answered = and_(ProviderAction.report_id.in_(ids), ProviderAction.text.isnot(None))
    counted.answers = _count(session, ProviderAction, answered)
    counted.links = (
        _count(session, ProviderLink, ProviderLink.notice_id.in_(notices)) if notices else 0
    )
    linked = and_(Submission.report_id.in_(ids), Submission.url.isnot(None))
    counted.submissions = _count(session, Submission, linked)
    if dry_run:
        return counted

    # The public's copies of the URL go with the report's.
    session.execute(update(Submission).where(linked).values(**_NO_URL, description=None))
    for start in range(0, len(middle), _CHUNK):
        session.execute(delete(Check).where(Check.id.in_(middle[start : start + _CHUNK])))
    session.execute(
        update(Check)
        .where(Check.report_id.in_(ids))
        .values(final_url=None, sha256=None, ip=None, redirects=None, detail=None)
    )
    session.execute(delete(ReportRef).where(ReportRef.report_id.in_(ids)))
    session.execute(delete(Fingerprint).where(Fingerprint.report_id.in_(ids)))
    session.execute(
        update(Hosting)
        .where(Hosting.report_id.in_(ids))
        .values(ip=None, registered_domain=None, abuse_email=None, details=None, sources=None)
    )
    session.execute(update(Event).where(has_detail).values(detail=None))
    if notices:
        session.execute(
            update(InboundMessage).where(InboundMessage.notice_id.in_(notices)).values(**_NO_TEXT)
        )
        session.execute(delete(ProviderLink).where(ProviderLink.notice_id.in_(notices)))
        # What the mail server said (it quotes addresses), and whom an escalation named.
        session.execute(
            update(Notice).where(Notice.id.in_(notices)).values(last_error=None, context=None)
        )
    session.execute(update(ProviderAction).where(answered).values(text=None))
    for report_id in ids:
        session.execute(
            update(Report)
            .where(Report.id == report_id)
            .values(
                url=PURGED,
                canonical_url=PURGED,
                # Frees the URL's key: a new report of it is a new report.
                url_key=hashlib.sha256(f"purged:{report_id}".encode()).hexdigest(),
                ref=None,
                reason=None,
                first_sha256=None,
                last_final_url=None,
                last_sha256=None,
                last_ip=None,
                last_detail=None,
                last_redirects=None,
                next_due_at=None,
                claimed_by=None,
                lease_until=None,
                purged_at=now,
            )
        )
    return counted


def _middle_checks(session: Session, ids: list[int]) -> list[int]:
    ends = (
        select(func.min(Check.id)).where(Check.report_id.in_(ids)).group_by(Check.report_id)
    ).union(select(func.max(Check.id)).where(Check.report_id.in_(ids)).group_by(Check.report_id))
    return list(
        session.scalars(select(Check.id).where(Check.report_id.in_(ids), Check.id.not_in(ends)))
    )


def _notices_only_of(session: Session, ids: list[int]) -> list[int]:
    """Notices every report of which is purged once ``ids`` are."""
    touched = select(NoticeReport.notice_id).where(NoticeReport.report_id.in_(ids))
    others = (
        select(NoticeReport.notice_id)
        .join(Report, Report.id == NoticeReport.report_id)
        .where(
            NoticeReport.notice_id.in_(touched),
            Report.purged_at.is_(None),
            Report.id.not_in(ids),
        )
    )
    return list(
        session.scalars(
            select(NoticeReport.notice_id)
            .where(NoticeReport.notice_id.in_(touched), NoticeReport.notice_id.not_in(others))
            .distinct()
        )
    )


def _any_text():
    return or_(
        InboundMessage.text.isnot(None),
        InboundMessage.subject.isnot(None),
        InboundMessage.from_address.isnot(None),
    )


def _count(session: Session, model, where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(where))
