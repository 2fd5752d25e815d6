"""Which notices are due: the timing rules of PRODUCT.md, as a pure function.

Only reports that are online, not paused, and have an abuse contact are notified. The
first notice starts the clock. A reminder follows every REMINDER_INTERVAL after the
previous one while the content stays up; once ESCALATE_AFTER reminders have gone, each
further reminder also goes to the escalation contact. A report seen again after removal
starts a new episode, notified afresh. One recipient never gets the same report twice
within REMINDER_INTERVAL, nor anything more about it while a notice to it is pending. A
bounced recipient is skipped for the next in the chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Sent:
    """A notice that covers the report, sent or still pending (it will go)."""

    kind: str
    to: str
    at: datetime  # when it was sent, or created while pending
    pending: bool = False  # planned, not sent yet: nothing more to its recipient till it goes


@dataclass(frozen=True)
class Partner:
    country: str
    email: str
    name: str


@dataclass(frozen=True)
class Candidate:
    """A report that may be notified, with its contacts and what it was already sent."""

    report_id: int
    contacts: tuple[str, ...]  # the abuse contact first, then fallbacks
    escalations: tuple[str, ...] = ()  # upstream network, registrar, CDN: in that order
    country: str | None = None
    episode_start: datetime | None = None  # when it was seen again after removal
    history: tuple[Sent, ...] = ()


@dataclass(frozen=True)
class Rules:
    reminder_interval: timedelta
    escalate_after: int
    hotline_country: str | None
    partners: dict[str, Partner] = field(default_factory=dict)
    partner_and_host: bool = False
    bouncing: frozenset[str] = frozenset()
    police_timeout: timedelta | None = None  # POLICE_CLEARANCE_TIMEOUT


@dataclass(frozen=True)
class Due:
    report_id: int
    kind: str
    to: str
    reason: str
    previous_at: datetime | None = None
    original_recipient: str | None = None
    partner_name: str | None = None


def due(candidate: Candidate, now: datetime, rules: Rules) -> list[Due]:
    """The notices ``candidate`` is due now."""
    history = [
        s
        for s in candidate.history
        if candidate.episode_start is None or s.at >= candidate.episode_start
    ]
    # A recipient whose notice is still pending gets nothing more about the report until it
    # goes: a pass after a crash or a deferral would otherwise send it and a reminder at once.
    recently = {
        s.to for s in candidate.history if s.pending or now - s.at < rules.reminder_interval
    }
    found: list[Due] = []

    partner = rules.partners.get(candidate.country or "")
    if partner and candidate.country != rules.hotline_country:
        if not any(s.kind == "partner" for s in history) and partner.email not in recently:
            found.append(
                Due(
                    candidate.report_id,
                    "partner",
                    partner.email,
                    f"hosted in {candidate.country}: forwarded to {partner.name}",
                    partner_name=partner.name,
                )
            )
        if not rules.partner_and_host:
            return found

    primary = next((c for c in candidate.contacts if c not in rules.bouncing), None)
    if primary is None:
        return found
    host = [s for s in history if s.kind in ("notice", "reminder") and s.to == primary]
    again = " (seen again after removal)" if candidate.episode_start else ""
    if not host:
        if primary not in recently:
            fallback = primary != candidate.contacts[0]
            reason = "fallback after a bounce" if fallback else "first notice"
            found.append(Due(candidate.report_id, "notice", primary, reason + again))
        return found
    last = max(s.at for s in host)
    if now - last < rules.reminder_interval or primary in recently:
        return found
    reminders = sum(s.kind == "reminder" for s in host)
    found.append(
        Due(
            candidate.report_id,
            "reminder",
            primary,
            f"still online {_ago(now - min(s.at for s in host))} after the first notice",
            previous_at=last,
        )
    )
    if reminders >= rules.escalate_after:
        target = next(
            (
                e
                for e in candidate.escalations
                if e != primary and e not in rules.bouncing and e not in recently
            ),
            None,
        )
        if target:
            first = min(s.at for s in host)
            found.append(
                Due(
                    candidate.report_id,
                    "escalation",
                    target,
                    f"{reminders} reminders to {primary} unanswered",
                    previous_at=first,
                    original_recipient=primary,
                )
            )
    return found


def _ago(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h" if seconds < 172800 else f"{seconds / 86400:.0f} d"
