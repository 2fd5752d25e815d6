"""The JSON shapes of PRODUCT.md, built from the store: ``ntd show --json`` and the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.checks import CHECK_FIELDS
from store.models import (
    Check,
    Fingerprint,
    Hosting,
    InboundMessage,
    Notice,
    NoticeReport,
    ProviderAction,
    Report,
    ReportRef,
)

HOSTING_FIELDS = (
    "ip",
    "asn",
    "network",
    "org",
    "country",
    "abuse_email",
    "registered_domain",
    "registrar",
    "cdn",
    "sources",
)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with a ``Z``, as PRODUCT.md writes times."""
    if moment is None:
        return None
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def report_view(
    session: Session, report: Report, *, police_timeout: timedelta | None = None
) -> dict[str, Any]:
    """One report with its refs, fingerprints, checks, hosting and notices.

    ``police_timeout`` is POLICE_CLEARANCE_TIMEOUT, for when a police hold ends by itself.
    """
    from store.submissions import of_report
    from store.types import utcnow

    refs = session.scalars(
        select(ReportRef.ref).where(ReportRef.report_id == report.id).order_by(ReportRef.added_at)
    ).all()
    prints = session.scalars(
        select(Fingerprint.sha256).where(Fingerprint.report_id == report.id)
    ).all()
    return {
        "id": report.id,
        "url": report.url,
        "canonical_url": report.canonical_url,
        "ref": report.ref,
        "refs": list(refs),
        "category": report.category,
        "sha256": sorted(prints),
        "reason": report.reason,
        "state": report.state,
        "seen_online": report.seen_online,
        "paused": report.paused,
        "reappearances": report.reappearances,
        "created_at": iso(report.created_at),
        "created_by": report.created_by,
        "first_online_at": iso(report.first_online_at),
        "last_online_at": iso(report.last_online_at),
        "removed_at": iso(report.removed_at),
        "purged_at": iso(report.purged_at),
        "next_check_at": iso(report.next_due_at),
        "hosting": hosting_view(session.get(Hosting, report.id)),
        "check_count": report.check_count,
        "checks": stored_checks(session, report),
        "notices": notices_view(session, report),
        "messages": messages_view(session, report),
        "provider_actions": provider_actions_view(session, report),
        "police_hold": hold_view(report, police_timeout, utcnow()),
        "submissions": of_report(session, report.id),
    }


def hold_view(report: Report, timeout: timedelta | None, now: datetime) -> dict[str, Any] | None:
    """The hold as `ntd show --json` gives it, or None when there never was one."""
    if report.police_hold_at is None:
        return None
    expires = report.police_hold_at + timeout if timeout is not None else None
    active = report.police_cleared_at is None and (expires is None or now < expires)
    return {
        "since": iso(report.police_hold_at),
        "active": active,
        "cleared_at": iso(report.police_cleared_at),
        "cleared_by": report.police_cleared_by,
        "expires_at": iso(expires),
    }


def hosting_view(hosting: Hosting | None) -> dict[str, Any] | None:
    if hosting is None:
        return None
    view = {name: getattr(hosting, name) for name in HOSTING_FIELDS}
    view["resolved_at"] = iso(hosting.resolved_at)
    view["details"] = hosting.details
    return view


def notices_view(session: Session, report: Report) -> list[dict[str, Any]]:
    """The notices that covered this report, oldest first."""
    notices = session.scalars(
        select(Notice)
        .join(NoticeReport, NoticeReport.notice_id == Notice.id)
        .where(NoticeReport.report_id == report.id)
        .order_by(Notice.id)
    )
    return [
        {
            "id": notice.id,
            "kind": notice.kind,
            "to": notice.to,
            "message_id": notice.message_id,
            "created_at": iso(notice.created_at),
            "at": iso(notice.sent_at),
            "status": notice_status(notice),
            "reason": notice.reason,
            "error": notice.last_error,
            "answered_at": iso(notice.answered_at),
        }
        for notice in notices
    ]


def notice_status(notice: Notice) -> str:
    """pending, sent, failed (refused at sending) or bounced (refused after the relay
    took it)."""
    if notice.failed_at is not None:
        return "bounced" if notice.sent_at is not None else "failed"
    return "sent" if notice.sent_at is not None else "pending"


def messages_view(session: Session, report: Report) -> list[dict[str, Any]]:
    """The inbound messages matched to a notice that covered this report, oldest first."""
    rows = session.scalars(
        select(InboundMessage)
        .join(NoticeReport, NoticeReport.notice_id == InboundMessage.notice_id)
        .where(NoticeReport.report_id == report.id)
        .order_by(InboundMessage.received_at, InboundMessage.id)
    )
    return [message_view(row) for row in rows]


def message_view(row: InboundMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "received_at": iso(row.received_at),
        "via": row.via,
        "from": row.from_address,
        "subject": row.subject,
        "kind": row.kind,
        "notice_id": row.notice_id,
        "matched_by": row.matched_by,
        "ticket": row.ticket,
        "text": row.text,
        "text_cut": row.text_cut,
        "attachments": row.attachments,
        "attachment_types": row.attachment_types or [],
        "outcome": row.outcome,
        "needs_reading": row.needs_reading,
        "read_at": iso(row.read_at),
        "read_by": row.read_by,
    }


def provider_actions_view(session: Session, report: Report) -> list[dict[str, Any]]:
    """What the provider said about this report on its page, oldest first."""
    rows = session.scalars(
        select(ProviderAction)
        .where(ProviderAction.report_id == report.id)
        .order_by(ProviderAction.at, ProviderAction.id)
    )
    return [
        {
            "id": row.id,
            "at": iso(row.at),
            "notice_id": row.notice_id,
            "action": row.action,
            "text": row.text,
            "read_at": iso(row.read_at),
            "read_by": row.read_by,
        }
        for row in rows
    ]


def stored_checks(session: Session, report: Report) -> list[dict[str, Any]]:
    """The first check, each change of outcome, and the latest, oldest first."""
    rows = session.scalars(
        select(Check).where(Check.report_id == report.id).order_by(Check.id)
    ).all()
    checks = [{"at": iso(row.at), **{f: getattr(row, f) for f in CHECK_FIELDS}} for row in rows]
    if report.last_checked_at is not None and (not rows or rows[-1].at != report.last_checked_at):
        checks.append(
            {
                "at": iso(report.last_checked_at),
                **{f: getattr(report, f"last_{f}") for f in CHECK_FIELDS},
            }
        )
    return checks
