"""Public reports: received, matched to what is tracked, assessed by analysts.

A public report is one or more URLs with what the reporter saw; each URL is a
``Submission`` row under the report's reference. A URL already tracked is linked to its
report at once (another sighting) and not assessed again; the rest wait for an analyst.
An assessment applies to every pending submission of the same URL, and takes effect when
ASSESSMENT_REVIEWS analysts agree: illegal content (``baseline``, ``national``) becomes a
queued report with its category, held for the police if asked; the rest are closed with
the verdict as the reason. Every step is an event with its actor, so the audit log shows
who assessed what.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from intake.categories import CATEGORIES
from intake.public import PublicReport
from intake.submissions import Entry
from store import police, reports
from store.models import (
    ACTIONABLE,
    ASSESSED,
    DUPLICATE,
    PENDING,
    REMOVED,
    VERDICTS,
    Assessment,
    Event,
    Report,
    Submission,
)
from store.queue import wake

PUBLIC = "public"  # the actor of what a member of the public did
NATIONAL_CATEGORIES = tuple(c for c in CATEGORIES if c != "baseline")
_HOUR = timedelta(hours=1)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over a phone


class TooManyReports(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many reports from this address in an hour; try again in {retry_after} s"
        )
        self.retry_after = retry_after


class UnknownSubmission(LookupError):
    pass


class BadAssessment(ValueError):
    pass


@dataclass(frozen=True)
class Received:
    reference: str
    ids: list[int]
    duplicates: list[int | None]  # per submission: the tracked report it was linked to


@dataclass(frozen=True)
class Assessed:
    done: bool  # took effect (enough analysts agree)
    submissions: list[int]  # every pending submission of the URL it applied to
    report_id: int | None  # the report made or linked, for illegal content
    agreeing: int  # analysts agreeing on this verdict so far
    needed: int


def client_digest(key: bytes, address: str) -> str:
    """A client address as a keyed hash: countable, not readable."""
    return hmac.new(key, f"public-report:{address}".encode(), hashlib.sha256).hexdigest()


def receive(
    session: Session, report: PublicReport, *, client: str, per_hour: int, now: datetime
) -> Received:
    """Store a public report, or refuse it whole (TooManyReports) before storing anything."""
    _lock(session, f"public-report:{client}")  # reports sent at once are counted in turn
    since = now - _HOUR
    count, oldest = session.execute(
        select(
            func.count(func.distinct(Submission.reference)), func.min(Submission.received_at)
        ).where(Submission.client_digest == client, Submission.received_at > since)
    ).one()
    if count >= per_hour:
        raise TooManyReports(max(1, math.ceil((oldest + _HOUR - now).total_seconds())))
    reference = _new_reference(session)
    keys = [entry.url_key for entry in report.entries]
    for key in sorted(keys):  # wait for an assessment of the same URL to finish
        _lock(session, f"assess:{key}")
    tracked = dict(
        session.execute(select(Report.url_key, Report.id).where(Report.url_key.in_(keys))).all()
    )
    rows = []
    for entry in report.entries:
        report_id = tracked.get(entry.url_key)
        rows.append(
            Submission(
                reference=reference,
                received_at=now,
                url=entry.url,
                canonical_url=entry.canonical_url,
                url_key=entry.url_key,
                seen=report.seen,
                description=report.text,
                email=report.email,
                client_digest=client,
                state=DUPLICATE if report_id else PENDING,
                report_id=report_id,
            )
        )
    session.add_all(rows)
    session.flush()
    tracked_count = sum(1 for r in rows if r.report_id)
    detail = f"{reference}: {len(rows)} URL(s), {tracked_count} already tracked"
    session.add(Event(at=now, actor=PUBLIC, action="public_report", detail=detail))
    for row in rows:
        if row.report_id is None:
            continue
        tracked_report = session.get(Report, row.report_id, with_for_update=True)
        detail = f"seen again in public report {reference} (submission {row.id})"
        if tracked_report.state == REMOVED and tracked_report.purged_at is None:
            tracked_report.next_due_at = now  # back up? only a check can tell
            wake(session)
            detail += ": due for a check now"
        session.add(
            Event(at=now, actor=PUBLIC, report_id=row.report_id, action="sighting", detail=detail)
        )
    return Received(reference, [r.id for r in rows], [r.report_id for r in rows])


def _lock(session: Session, name: str) -> None:
    """A transaction-long lock on ``name`` (PostgreSQL; SQLite has one writer anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})


def _new_reference(session: Session) -> str:
    while True:
        reference = "S-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))
        if session.scalar(select(Submission.id).where(Submission.reference == reference)) is None:
            return reference


def pending(session: Session, *, limit: int = 200) -> list[dict]:
    """The assessment queue: one entry per URL, oldest first, with every sighting of it."""
    rows = session.scalars(
        select(Submission).where(Submission.state == PENDING).order_by(Submission.id)
    ).all()
    groups: dict[str, list[Submission]] = {}
    for row in rows:
        groups.setdefault(row.url_key or f"#{row.id}", []).append(row)
    reviews = _reviews(session, [row.id for row in rows])
    queue = []
    for group in list(groups.values())[:limit]:
        first = group[0]
        queue.append(
            {
                "id": first.id,
                "reference": first.reference,
                "received_at": first.received_at,
                "url": first.url,
                "canonical_url": first.canonical_url,
                "sightings": len(group),
                "seen": sorted({row.seen for row in group}),
                "texts": [row.description for row in group if row.description],
                "reviews": [
                    {
                        "analyst": a.analyst,
                        "verdict": a.verdict,
                        "category": a.category,
                        "police": a.police,
                    }
                    for row in group
                    for a in reviews.get(row.id, [])
                ],
            }
        )
    return queue


def _reviews(session: Session, ids: list[int]) -> dict[int, list[Assessment]]:
    found: dict[int, list[Assessment]] = {}
    if ids:
        for row in session.scalars(
            select(Assessment).where(Assessment.submission_id.in_(ids)).order_by(Assessment.id)
        ):
            found.setdefault(row.submission_id, []).append(row)
    return found


def assess(
    session: Session,
    submission_id: int,
    verdict: str,
    *,
    analyst: str,
    category: str | None = None,
    police_first: bool = False,
    reviews_needed: int = 1,
    now: datetime,
) -> Assessed:
    """An analyst's verdict on a submission (and every pending one of the same URL)."""
    found = session.get(Submission, submission_id)
    if found is None:
        raise UnknownSubmission(f"there is no submission {submission_id}")
    # One lock per URL, before any row lock: analysts assessing two sightings of one URL
    # at once take turns instead of locking the same rows in different orders.
    _lock(session, f"assess:{found.url_key or found.id}")
    submission = session.get(
        Submission, submission_id, with_for_update=True, populate_existing=True
    )
    if submission.state != PENDING:
        linked = f" (report {submission.report_id})" if submission.report_id else ""
        was = submission.verdict or "already tracked"
        raise BadAssessment(
            f"submission {submission_id} is already {submission.state}: {was}{linked}"
        )
    category = _category(verdict, category, submission.seen)
    if police_first and verdict not in ACTIONABLE:
        raise BadAssessment(
            "only content assessed illegal (baseline, national) is held for the police"
        )
    group = (
        session.scalars(
            select(Submission)
            .where(Submission.state == PENDING, Submission.url_key == submission.url_key)
            .order_by(Submission.id)
            .with_for_update()
        ).all()
        if submission.url_key
        else [submission]
    )
    ids = [row.id for row in group]
    # An analyst's latest verdict replaces their earlier one on this URL.
    for old in session.scalars(
        select(Assessment).where(Assessment.submission_id.in_(ids), Assessment.analyst == analyst)
    ):
        session.delete(old)
    session.add(
        Assessment(
            submission_id=submission.id,
            analyst=analyst,
            verdict=verdict,
            category=category,
            police=police_first,
            at=now,
        )
    )
    session.flush()
    agreeing = sorted(
        {
            a.analyst
            for a in session.scalars(select(Assessment).where(Assessment.submission_id.in_(ids)))
            if (a.verdict, a.category, a.police) == (verdict, category, police_first)
        }
    )
    what = (
        verdict
        + (f" ({category})" if verdict == "national" else "")
        + (", police first" if police_first else "")
    )
    if len(agreeing) < reviews_needed:
        session.add(
            Event(
                at=now,
                actor=analyst,
                action="assessment_review",
                detail=f"submission {submission.id} ({submission.reference}): {what}; "
                f"{len(agreeing)} of {reviews_needed} analysts agree",
            )
        )
        return Assessed(False, ids, None, len(agreeing), reviews_needed)

    report_id = None
    if verdict in ACTIONABLE:
        entry = Entry(
            url=submission.url,
            canonical_url=submission.canonical_url,
            url_key=submission.url_key,
            ref=submission.reference,
            sha256=(),
            category=category,
        )
        [queued] = reports.queue(
            session,
            [entry],
            actor=analyst,
            now=now,
            default_category=category,
            link_submissions=False,  # the group is assessed below, these and no others
        )
        report_id = queued.id
        wake(session)
        if police_first:
            report = session.get(Report, report_id, with_for_update=True)
            police.hold(
                session, report, actor=analyst, now=now, why=f"assessed {submission.reference}"
            )
    for row in group:
        row.state, row.verdict, row.assessed_at = ASSESSED, verdict, now
        row.assessed_by, row.report_id = ", ".join(agreeing), report_id
    session.add(
        Event(
            at=now,
            actor=analyst,
            report_id=report_id,
            action="assessed",
            detail=f"submission {submission.id} ({submission.reference}): {what}"
            + (
                f", with {', '.join(a for a in agreeing if a != analyst)}"
                if len(agreeing) > 1
                else ""
            ),
        )
    )
    return Assessed(True, ids, report_id, len(agreeing), reviews_needed)


def _category(verdict: str, category: str | None, seen: str) -> str | None:
    if verdict not in VERDICTS:
        raise BadAssessment(f"{verdict!r} is not a verdict: use one of {', '.join(VERDICTS)}")
    if verdict == "baseline":
        if category not in (None, "baseline"):
            raise BadAssessment("a baseline assessment has the category baseline")
        return "baseline"
    if verdict == "national":
        category = category or (seen if seen in NATIONAL_CATEGORIES else None)
        if category not in NATIONAL_CATEGORIES:
            raise BadAssessment(
                f"a national assessment needs a category: one of {', '.join(NATIONAL_CATEGORIES)}"
            )
        return category
    if category is not None:
        raise BadAssessment(f"a {verdict} assessment takes no category")
    return None


def of_report(session: Session, report_id: int) -> list[dict]:
    """The public submissions linked to a report, for its page and `ntd show --json`."""
    rows = session.scalars(
        select(Submission).where(Submission.report_id == report_id).order_by(Submission.id)
    ).all()
    from store.views import iso

    return [
        {
            "id": row.id,
            "reference": row.reference,
            "received_at": iso(row.received_at),
            "seen": row.seen,
            "state": row.state,
            "verdict": row.verdict,
            "assessed_at": iso(row.assessed_at),
            "assessed_by": row.assessed_by,
        }
        for row in rows
    ]
