"""The provider page's side of the store: what a notice's link shows, and the answers
given on it.

The link's token is never stored, only its SHA-256 (``provider_links``), so the table
alone opens no page; with SECRET_KEY kept outside the database (the tokens are HMACs
under it), neither does a copy of the whole database. An answer is recorded for staff
and counted as the provider's first response; "removed" makes the report due at once,
and only the check that follows can set ``removed``: a click never does. Answers per
link are limited to PROVIDER_ANSWERS_PER_HOUR, counted in the store so that every `ntd
serve` shares it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notifier.tokens import token_hash
from store.models import (
    CHECKABLE,
    Event,
    Notice,
    NoticeReport,
    ProviderAction,
    ProviderLink,
    Report,
)
from store.queue import wake
from store.responses import record_response

ACTOR = "provider"
ACTIONS = ("removed", "not_our_customer", "question")
QUESTION_MAX = 2000
_HOUR = timedelta(hours=1)


class LinkUnknown(Exception):
    """No notice has this link."""


class LinkExpired(Exception):
    """The link was valid until ``expires_at``."""

    def __init__(self, expires_at: datetime) -> None:
        super().__init__(f"this link expired on {expires_at:%Y-%m-%d}")
        self.expires_at = expires_at


class BadAnswer(ValueError):
    """An answer the page cannot take; the message says why."""


class TooManyAnswers(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many answers on this link in an hour; try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class PageReport:
    id: int
    canonical_url: str
    state: str
    last_checked_at: datetime | None
    answers: tuple[str, ...]  # what the provider already said about it


@dataclass(frozen=True)
class Page:
    notice_id: int
    notice_kind: str
    sent_at: datetime | None
    expires_at: datetime
    reports: list[PageReport]


def link_for(session: Session, token: str, now: datetime) -> ProviderLink:
    link = session.get(ProviderLink, token_hash(token))
    if link is None:
        raise LinkUnknown("this link is not known: it may have been mistyped")
    if link.expires_at <= now:
        raise LinkExpired(link.expires_at)
    return link


def page(session: Session, token: str, now: datetime) -> Page:
    link = link_for(session, token, now)
    notice = session.get(Notice, link.notice_id)
    rows = session.execute(
        select(Report.id, Report.canonical_url, Report.state, Report.last_checked_at)
        .join(NoticeReport, NoticeReport.report_id == Report.id)
        .where(NoticeReport.notice_id == link.notice_id)
        .order_by(Report.id)
    ).all()
    said: dict[int, list[str]] = {}
    for report_id, action in session.execute(
        select(ProviderAction.report_id, ProviderAction.action)
        .where(ProviderAction.notice_id == link.notice_id)
        .order_by(ProviderAction.id)
    ):
        said.setdefault(report_id, []).append(action)
    return Page(
        notice.id,
        notice.kind,
        notice.sent_at,
        link.expires_at,
        [PageReport(*row, tuple(said.get(row[0], ()))) for row in rows],
    )


def answer(
    session: Session,
    token: str,
    report_id: int,
    action: str,
    text: str | None,
    *,
    per_hour: int,
    now: datetime,
) -> ProviderAction:
    """Record one answer about one report of the link's notice."""
    link = link_for(session, token, now)
    if action not in ACTIONS:
        raise BadAnswer(f"{action!r} is not an answer (one of {', '.join(ACTIONS)})")
    text = (text or "").replace("\x00", "").strip() or None
    if action == "question" and not text:
        raise BadAnswer("write the question in the box")
    if text and len(text) > QUESTION_MAX:
        raise BadAnswer(f"the text is {len(text):,} characters; at most {QUESTION_MAX:,}")
    if action != "question":
        text = None
    covered = session.scalar(
        select(NoticeReport.report_id).where(
            NoticeReport.notice_id == link.notice_id, NoticeReport.report_id == report_id
        )
    )
    if covered is None:
        raise BadAnswer(f"report {report_id} is not one of this notice's")
    _limit(session, link.notice_id, per_hour, now)
    row = ProviderAction(
        at=now,
        notice_id=link.notice_id,
        report_id=report_id,
        action=action,
        text=text,
        needs_reading=action != "removed",
    )
    session.add(row)
    report = session.get(Report, report_id, with_for_update=True)
    detail = f"on the page of notice {link.notice_id}"
    if action == "removed" and report.state in CHECKABLE:
        report.next_due_at = now  # the next pass checks it; only the check decides
        wake(session)
        detail += ": due for a check now"
    session.add(
        Event(at=now, actor=ACTOR, report_id=report_id, action=f"provider_{action}", detail=detail)
    )
    record_response(session, link.notice_id, now, [report_id])
    session.flush()
    return row


def _limit(session: Session, notice_id: int, per_hour: int, now: datetime) -> None:
    since = now - _HOUR
    count, oldest = session.execute(
        select(func.count(), func.min(ProviderAction.at)).where(
            ProviderAction.notice_id == notice_id, ProviderAction.at > since
        )
    ).one()
    if count >= per_hour:
        raise TooManyAnswers(max(1, math.ceil((oldest + _HOUR - now).total_seconds())))
