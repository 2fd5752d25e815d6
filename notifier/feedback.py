"""Feedback to a member of the public who left an email with a public report.

At most two short messages per report: one when every URL of it has been assessed (or was
already tracked), one when all the content found illegal is removed. Neither names a URL,
a host or what was seen: only the report's reference and when it came, so a message read
by someone else gives nothing away. Once nothing more will be written, the email is erased;
REPORTER_RETENTION erases whatever is left.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from sqlalchemy import select, update

from notifier.drafts import Hotline
from notifier.exceptions import Bounced, Deferred, TransportDown
from store.models import (
    ACTIONABLE,
    CHECKABLE,
    DUPLICATE,
    PENDING,
    REMOVED,
    Report,
    Submission,
)

ASSESSED, REMOVED_KIND = "assessed", "removed"
HOLD_BACK = timedelta(days=1)


@dataclass(frozen=True)
class Feedback:
    reference: str
    email: str
    kind: str  # assessed or removed
    received_at: datetime
    # URLs passed on for removal: found illegal, or already tracked (never told apart,
    # which would say what the hotline knew)
    illegal: int
    other: int  # URLs not acted on (not illegal, not found, out of remit)
    last: bool  # nothing more will be written: the email can go


def due(session, now: datetime) -> list[Feedback]:
    """Every message owed now, oldest report first."""
    rows = session.scalars(
        select(Submission)
        .where(Submission.email.isnot(None), Submission.feedback_removed_at.is_(None))
        .order_by(Submission.id)
    ).all()
    by_reference: dict[str, list[Submission]] = {}
    for row in rows:
        by_reference.setdefault(row.reference, []).append(row)
    report_ids = {row.report_id for row in rows if row.report_id}
    states = (
        dict(
            session.execute(select(Report.id, Report.state).where(Report.id.in_(report_ids))).all()
        )
        if report_ids
        else {}
    )
    owed = []
    for reference, group in by_reference.items():
        if any(row.state == PENDING for row in group):
            continue
        first = group[0]
        # A URL we already tracked is answered as if assessed, but never sooner than a
        # real assessment could be: a prompt answer would tell what the hotline knows.
        if all(row.state == DUPLICATE for row in group) and now - first.received_at < HOLD_BACK:
            continue
        kinds = Counter(
            "illegal" if row.state == DUPLICATE or row.verdict in ACTIONABLE else "other"
            for row in group
        )
        # Reports that may still come down; a closed or rejected one never will.
        acted = [row.report_id for row in group if states.get(row.report_id) in CHECKABLE]
        all_removed = bool(acted) and all(states.get(i) == REMOVED for i in acted)
        if first.feedback_assessed_at is None:
            kind, last = ASSESSED, not acted
        elif all_removed:
            kind, last = REMOVED_KIND, True
        else:
            continue
        owed.append(
            Feedback(
                reference,
                first.email,
                kind,
                first.received_at,
                kinds["illegal"],
                kinds["other"],
                last,
            )
        )
    return owed


def message(hotline: Hotline, feedback: Feedback, now: datetime) -> EmailMessage:
    received = feedback.received_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    mail = EmailMessage()
    mail["From"] = formataddr((hotline.name, hotline.mail_from))
    mail["To"] = feedback.email
    mail["Date"] = format_datetime(now.astimezone(UTC))
    mail["Message-ID"] = make_msgid(domain=hotline.mail_domain)
    mail["Auto-Submitted"] = "auto-generated"
    lines = [f"Thank you for your report {feedback.reference}, received {received}.", ""]
    if feedback.kind == ASSESSED:
        mail["Subject"] = f"Your report {feedback.reference} has been assessed"
        lines.append("An analyst has looked at every address you gave us:")
        for count, words in (
            (feedback.illegal, "showed illegal content; we are working to have it removed"),
            (
                feedback.other,
                "showed nothing we can act on (not illegal, gone, or not ours to act on)",
            ),
        ):
            if count:
                lines.append(f"- {count} {'address' if count == 1 else 'addresses'} {words}.")
        if not feedback.last:
            lines += ["", "We will write once more when the content has been removed."]
    else:
        mail["Subject"] = f"Your report {feedback.reference}: the content has been removed"
        lines.append("The content you reported has been removed. Thank you for reporting it.")
    lines += [
        "",
        "This message does not repeat what you reported. Please do not reply with links",
        "or images: if you see more, report it on our page.",
        "",
        hotline.name,
    ]
    mail.set_content("\n".join(lines))
    return mail


def send(store, transport, hotline: Hotline, *, now: datetime) -> int:
    """Send what is owed; each message marked sent (and the email erased after the last)
    in its own transaction. Returns how many went."""
    with store.session() as session:
        owed = due(session, now)
    sent = 0
    for feedback in owed:
        try:
            transport.send(
                0,
                message(hotline, feedback, now),
                hotline.mail_from,
                name=f"feedback-{feedback.reference}-{feedback.kind}",
            )
        except TransportDown:
            break
        except Deferred:
            continue
        except Bounced:
            last = True  # an address that bounces will not read a later message either
        else:
            last = feedback.last
        values = {"feedback_assessed_at": now} if feedback.kind == ASSESSED else {}
        if feedback.kind == REMOVED_KIND:
            values["feedback_removed_at"] = now
        if last:
            values.update(email=None, feedback_removed_at=now)
        with store.session() as session:
            session.execute(
                update(Submission)
                .where(Submission.reference == feedback.reference)
                .values(**values)
            )
        sent += 1
    return sent
