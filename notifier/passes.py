"""One notification pass: plan what is due, send what is pending, fall back past bounces."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import select

from notifier import feedback
from notifier.exceptions import MissingIdentity
from notifier.ledger import bouncing, draft_for, hotline_identity, naming, plan
from notifier.message import describe
from notifier.partners import load_partners
from notifier.policy import Rules
from notifier.sender import SendTally, send_pending
from notifier.transport import open_transport
from settings import Settings
from store.db import Store
from store.types import utcnow

IDENTITY = ("mail_from", "hotline_name", "hotline_country")


class _DryRun(Exception):
    """Raised inside the planning transaction of a dry run, so that it is rolled back."""


@dataclass
class NotifyTally:
    planned: list[str] = field(default_factory=list)  # one line per notice planned
    sent: SendTally = field(default_factory=SendTally)
    feedback: int = 0  # messages to public reporters (notifier.feedback)


def check_identity(settings: Settings) -> None:
    """Refuse to notify while the hotline's identity settings are missing, naming them."""
    missing = [name.upper() for name in IDENTITY if not getattr(settings, name)]
    if missing:
        raise MissingIdentity(
            f"set {', '.join(missing)} before notices can go out (who the hotline is)"
        )


def rules(settings: Settings, session) -> Rules:
    return Rules(
        reminder_interval=settings.reminder_interval,
        escalate_after=settings.escalate_after,
        hotline_country=settings.hotline_country,
        partners=load_partners(settings.partners_file),
        partner_and_host=settings.partner_and_host,
        bouncing=bouncing(session),
        police_timeout=settings.police_clearance_timeout,
    )


def notify(store: Store, settings: Settings, *, dry_run: bool = False) -> NotifyTally:
    """Plan and send. With ``dry_run`` nothing is recorded or sent: the plan is described."""
    check_identity(settings)
    hotline = hotline_identity(settings)
    tally = NotifyTally()
    transport = None if dry_run else open_transport(settings)
    started = time.monotonic()
    try:
        # Twice at most: a bounce in the first round makes a fallback notice due at once.
        for _ in range(2):
            try:
                with store.session() as session:
                    names = naming(session, settings, hotline)
                    notices = plan(
                        session,
                        rules(settings, session),
                        names,
                        now=utcnow(),
                        max_reports=settings.notice_max_reports,
                    )
                    tally.planned += [describe(draft_for(session, n, names)) for n in notices]
                    if dry_run:
                        raise _DryRun  # leaving the block this way rolls the plan back
            except _DryRun:
                return tally
            sent = send_pending(store, transport, hotline, settings, now=utcnow())
            tally.sent.sent += sent.sent
            tally.sent.deferred += sent.deferred
            tally.sent.bounced += sent.bounced
            tally.sent.transport_down = sent.transport_down
            if not sent.bounced or sent.transport_down:
                break
        if not tally.sent.transport_down:
            tally.feedback = feedback.send(store, transport, hotline, now=utcnow())
    finally:
        if transport is not None:
            transport.close()
    _count(store, tally, time.monotonic() - started)
    return tally


def _count(store: Store, tally: NotifyTally, seconds: float) -> None:
    """The pass's notices by kind and result, and its duration, for /metrics."""
    from collections import Counter as Amounts

    from store.counters import key, observe, record
    from store.models import Notice

    results = {"sent": tally.sent.sent, "deferred": tally.sent.deferred}
    results["bounced"] = tally.sent.bounced
    ids = [i for found in results.values() for i in found]
    amounts = Amounts()
    if ids:
        with store.session() as session:
            which = select(Notice.id, Notice.kind).where(Notice.id.in_(ids))
            kinds = dict(session.execute(which).all())
        for result, found in results.items():
            for notice_id in found:
                amounts[key("ntd_notices_total", kind=kinds.get(notice_id), result=result)] += 1
    observe(amounts, "ntd_pass_duration_seconds", seconds, job="notify")
    record(store, amounts)
