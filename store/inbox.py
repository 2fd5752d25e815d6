"""The dashboard's inbox: replies, unmatched mail and provider-page answers that a person
should read, until someone marks them read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.exceptions import NotFound
from store.models import InboundMessage, NoticeReport, ProviderAction

KINDS = ("message", "answer")


@dataclass(frozen=True)
class Entry:
    kind: str  # message (mail) or answer (provider page)
    id: int
    at: datetime
    what: str  # reply, unmatched, auto_reply…; or removed, not_our_customer, question
    notice_id: int | None
    report_ids: list[int]
    sender: str | None
    subject: str | None
    ticket: str | None
    text: str | None
    text_cut: bool
    attachments: int | None
    outcome: str | None
    read_at: datetime | None
    read_by: str | None


def inbox(session: Session, *, unread_only: bool = True, limit: int = 100) -> list[Entry]:
    """Newest first."""
    messages = select(InboundMessage).where(InboundMessage.needs_reading.is_(True))
    answers = select(ProviderAction).where(ProviderAction.needs_reading.is_(True))
    if unread_only:
        messages = messages.where(InboundMessage.read_at.is_(None))
        answers = answers.where(ProviderAction.read_at.is_(None))
    messages = messages.order_by(InboundMessage.received_at.desc()).limit(limit)
    answers = answers.order_by(ProviderAction.at.desc()).limit(limit)
    entries = [_message(session, m) for m in session.scalars(messages)]
    entries += [_answer(a) for a in session.scalars(answers)]
    return sorted(entries, key=lambda e: e.at, reverse=True)[:limit]


def mark_read(session: Session, kind: str, entry_id: int, *, actor: str, now: datetime) -> None:
    model = {"message": InboundMessage, "answer": ProviderAction}.get(kind)
    row = session.get(model, entry_id) if model is not None else None
    if row is None:
        raise NotFound(f"there is no {kind} {entry_id} in the inbox")
    if row.read_at is None:
        row.read_at, row.read_by = now, actor


def _message(session: Session, m: InboundMessage) -> Entry:
    reports = (
        list(
            session.scalars(
                select(NoticeReport.report_id)
                .where(NoticeReport.notice_id == m.notice_id)
                .order_by(NoticeReport.report_id)
            )
        )
        if m.notice_id is not None
        else []
    )
    return Entry(
        "message",
        m.id,
        m.received_at,
        m.kind,
        m.notice_id,
        reports,
        m.from_address,
        m.subject,
        m.ticket,
        m.text,
        m.text_cut,
        m.attachments,
        m.outcome,
        m.read_at,
        m.read_by,
    )


def _answer(a: ProviderAction) -> Entry:
    return Entry(
        "answer",
        a.id,
        a.at,
        a.action,
        a.notice_id,
        [a.report_id],
        "provider page",
        None,
        None,
        a.text,
        False,
        None,
        None,
        a.read_at,
        a.read_by,
    )
