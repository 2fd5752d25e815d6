"""The notices in the store: picking due ones as pending rows, and turning rows into drafts.

Planning records every due notice as a pending row, with its reports and its
deterministic Message-ID, in the one transaction that picked them: two passes cannot
both plan the same notice, and a notice planned is never forgotten.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from notifier.drafts import Draft, Hotline, NoticeReport
from notifier.policy import Candidate, Due, Rules, Sent, due
from notifier.tokens import NoticeNames, store_key, token_hash
from store.models import (
    ONLINE,
    Event,
    Fingerprint,
    Hosting,
    Mailbox,
    Notice,
    ProviderLink,
    Report,
)
from store.models import (
    NoticeReport as NoticeReportRow,
)
from store.police import not_held

BATCH = 1000


@dataclass(frozen=True)
class Naming:
    """How notices are named and addressed. Reads MAIL_FROM, BOUNCE_ADDRESS, PUBLIC_URL,
    PROVIDER_LINK_TTL and SECRET_KEY (or the store's own key), through ``naming()``."""

    names: NoticeNames
    mail_domain: str
    bounce_base: str
    public_url: str | None
    link_ttl: timedelta

    def envelope_from(self, notice_id: int) -> str:
        return self.names.bounce_address(notice_id, self.bounce_base)

    def provider_link(self, notice_id: int) -> str | None:
        if self.public_url is None:
            return None
        return f"{self.public_url}/p/{self.names.provider_token(notice_id)}"


def naming(session: Session, settings, hotline: Hotline) -> Naming:
    return Naming(
        names=NoticeNames(store_key(session, settings.secret_key)),
        mail_domain=hotline.mail_domain,
        bounce_base=settings.bounce_address or hotline.mail_from,
        public_url=settings.public_url.rstrip("/") if settings.public_url else None,
        link_ttl=settings.provider_link_ttl,
    )


def bouncing(session: Session) -> frozenset[str]:
    return frozenset(session.scalars(select(Mailbox.address)))


def notifiable(now: datetime, police_timeout: timedelta | None = None) -> ColumnElement[bool]:
    """SQL: the report's notices may go now: online, neither paused nor held for the
    police."""
    return and_(Report.state == ONLINE, Report.paused.is_(False), not_held(now, police_timeout))


def candidates(
    session: Session, now: datetime, police_timeout: timedelta | None = None
) -> Iterator[Candidate]:
    """Online reports with an abuse contact, neither paused nor held for the police, and
    what each was already sent."""
    rows = session.execute(
        select(Report.id, Hosting.abuse_email, Hosting.country, Hosting.details)
        .join(Hosting, Hosting.report_id == Report.id)
        .where(notifiable(now, police_timeout), Hosting.abuse_email.isnot(None))
        .order_by(Report.id)
    )
    for batch in _batches(rows, BATCH):
        ids = [row.id for row in batch]
        history: dict[int, list[Sent]] = {}
        for row in session.execute(
            select(
                NoticeReportRow.report_id,
                Notice.kind,
                Notice.to,
                Notice.sent_at,
                Notice.created_at,
            )
            .join(Notice, Notice.id == NoticeReportRow.notice_id)
            .where(NoticeReportRow.report_id.in_(ids), Notice.failed_at.is_(None))
        ):
            history.setdefault(row.report_id, []).append(
                Sent(
                    row.kind,
                    row.to,
                    row.sent_at or row.created_at,
                    pending=row.sent_at is None,
                )
            )
        episodes = dict(
            session.execute(
                select(Event.report_id, func.max(Event.at))
                .where(Event.report_id.in_(ids), Event.action == "reappeared")
                .group_by(Event.report_id)
            ).all()
        )
        for row in batch:
            details = row.details or {}
            contacts = (row.abuse_email, *details.get("fallback_emails", ()))
            yield Candidate(
                report_id=row.id,
                contacts=tuple(dict.fromkeys(c for c in contacts if c)),
                escalations=tuple(
                    e["email"] for e in details.get("escalations", ()) if e.get("email")
                ),
                country=row.country,
                episode_start=episodes.get(row.id),
                history=tuple(history.get(row.id, ())),
            )


def plan(
    session: Session, rules: Rules, naming: Naming, *, now: datetime, max_reports: int
) -> list[Notice]:
    """Record every notice due now as a pending row; one per recipient and kind, split.

    Each gets its Message-ID and, with PUBLIC_URL, its provider link (kept as a hash).
    """
    groups: dict[tuple[str, str], list[Due]] = {}
    for candidate in candidates(session, now, rules.police_timeout):
        for item in due(candidate, now, rules):
            groups.setdefault((item.kind, item.to), []).append(item)
    notices = []
    for (kind, to), items in groups.items():
        for start in range(0, len(items), max_reports):
            chunk = items[start : start + max_reports]
            reasons = Counter(item.reason for item in chunk)
            notice = Notice(
                kind=kind,
                to=to,
                created_at=now,
                next_attempt_at=now,
                attempts=0,
                reason="; ".join(
                    f"{r} ({n})" if len(reasons) > 1 else r for r, n in reasons.most_common(3)
                ),
                context=_context(chunk),
            )
            session.add(notice)
            session.flush()  # the id names the Message-ID
            notice.message_id = naming.names.message_id(notice.id, naming.mail_domain)
            # A partner hotline is told, not asked: the provider page is for the host.
            if naming.public_url is not None and kind != "partner":
                session.add(
                    ProviderLink(
                        token_hash=token_hash(naming.names.provider_token(notice.id)),
                        notice_id=notice.id,
                        created_at=now,
                        expires_at=now + naming.link_ttl,
                    )
                )
            session.add_all(
                NoticeReportRow(notice_id=notice.id, report_id=i.report_id) for i in chunk
            )
            notices.append(notice)
    return notices


def _context(items: list[Due]) -> dict:
    previous = [i.previous_at for i in items if i.previous_at]
    first = items[0]
    return {
        "previous_notice_at": min(previous).isoformat() if previous else None,
        "original_recipient": first.original_recipient,
        "partner_name": first.partner_name,
    }


def draft_for(session: Session, notice: Notice, naming: Naming) -> Draft:
    """What to build for a notice row: its reports as they stand now."""
    rows = session.execute(
        select(Report, Hosting)
        .join(NoticeReportRow, NoticeReportRow.report_id == Report.id)
        .outerjoin(Hosting, Hosting.report_id == Report.id)
        .where(NoticeReportRow.notice_id == notice.id)
        .order_by(Report.id)
    ).all()
    ids = [report.id for report, _ in rows]
    expected: dict[int, list[str]] = {}
    for report_id, sha in session.execute(
        select(Fingerprint.report_id, Fingerprint.sha256).where(Fingerprint.report_id.in_(ids))
    ):
        expected.setdefault(report_id, []).append(sha)
    context = notice.context or {}
    previous = context.get("previous_notice_at")
    cdn = next((h.cdn for _, h in rows if h is not None and h.cdn), None)
    link = session.scalar(select(ProviderLink).where(ProviderLink.notice_id == notice.id))
    return Draft(
        notice_id=notice.id,
        message_id=notice.message_id,
        envelope_from=naming.envelope_from(notice.id),
        provider_link=naming.provider_link(notice.id) if link is not None else None,
        provider_link_expires=link.expires_at if link is not None else None,
        kind=notice.kind,
        to=notice.to,
        created_at=notice.created_at,
        reason=notice.reason or "",
        reports=tuple(
            _notice_report(report, hosting, expected.get(report.id, ())) for report, hosting in rows
        ),
        previous_notice_at=datetime.fromisoformat(previous) if previous else None,
        original_recipient=context.get("original_recipient"),
        partner_name=context.get("partner_name"),
        cdn=cdn,
    )


def _notice_report(
    report: Report, hosting: Hosting | None, expected: Iterable[str]
) -> NoticeReport:
    observed = None
    if report.last_outcome == "online" and not report.last_truncated:
        observed = report.last_sha256
    return NoticeReport(
        report_id=report.id,
        url=report.url,
        canonical_url=report.canonical_url,
        category=report.category,
        first_seen_online=report.first_online_at or report.created_at,
        last_seen_online=report.last_online_at or report.created_at,
        expected_sha256=tuple(sorted(expected)),
        observed_sha256=observed,
        ip=hosting.ip if hosting else report.last_ip,
        host=urlsplit(report.canonical_url).hostname,
        asn=hosting.asn if hosting else None,
        org=hosting.org if hosting else None,
        country=hosting.country if hosting else None,
        ref=report.ref,
        reappeared=report.reappearances > 0,
    )


def hotline_identity(settings) -> Hotline:
    return Hotline(
        name=settings.hotline_name,
        mail_from=settings.mail_from,
        country=settings.hotline_country,
        legal_basis=settings.legal_basis,
        reply_to=settings.reply_to,
    )


def _batches(rows, size: int):
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch
