"""Sending pending notices: send, then mark sent, one notice at a time.

A notice is marked sent only after the server took it. A crash in between leaves it
pending, and the next pass sends it again with the same Message-ID: the one duplicate
the product allows, and one receivers can recognise. When the server cannot be reached
everything waits; a 4xx defers one notice with a growing wait; a 5xx marks the mailbox
bouncing and fails the notice, so the next plan falls back to the next contact.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from notifier.bouncing import mark_bounced
from notifier.exceptions import Bounced, Deferred, TransportDown
from notifier.ledger import draft_for, naming
from notifier.message import build_message
from store.db import Store
from store.models import Notice, NoticeReport, Report
from store.police import not_held
from store.types import utcnow

logger = logging.getLogger(__name__)
ACTOR = "notifier"


@dataclass
class SendTally:
    sent: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    bounced: list[int] = field(default_factory=list)
    transport_down: str | None = None


def pending_ids(session: Session, now: datetime, police_timeout=None) -> list[int]:
    """Notices due to be sent, leaving out any that covers a report held for the police:
    a hold placed after a notice was planned (or while it waited to be retried) holds it
    too; it goes once the hold ends."""
    held = (
        select(NoticeReport.notice_id)
        .join(Report, Report.id == NoticeReport.report_id)
        .where(~not_held(now, police_timeout))
    )
    return list(
        session.scalars(
            select(Notice.id)
            .where(
                Notice.sent_at.is_(None),
                Notice.failed_at.is_(None),
                Notice.next_attempt_at <= now,
                Notice.id.not_in(held),
            )
            .order_by(Notice.id)
        )
    )


def send_pending(store: Store, transport, hotline, settings, *, now: datetime) -> SendTally:
    tally = SendTally()
    with store.session() as session:
        ids = pending_ids(session, now, settings.police_clearance_timeout)
    for notice_id in ids:
        with store.session() as session:
            notice = session.get(Notice, notice_id)
            draft = draft_for(session, notice, naming(session, settings, hotline))
            message = build_message(hotline, draft, settings.templates_dir)
        try:
            transport.send(notice_id, message, draft.envelope_from)
        except TransportDown as error:
            tally.transport_down = str(error)
            _defer(store, notice_id, str(error), settings.smtp_retry)
            break  # the server is down: everything else waits too
        except Deferred as error:
            tally.deferred.append(notice_id)
            _defer(store, notice_id, str(error), settings.smtp_retry)
        except Bounced as error:
            tally.bounced.append(notice_id)
            _bounce(store, notice_id, str(error))
        else:
            with store.session() as session:
                notice = session.get(Notice, notice_id)
                notice.sent_at, notice.attempts = utcnow(), notice.attempts + 1
                notice.last_error = None
                # The first notice of any kind starts the clock of time to removal.
                session.execute(
                    update(Report)
                    .where(
                        Report.id.in_(
                            select(NoticeReport.report_id).where(
                                NoticeReport.notice_id == notice_id
                            )
                        )
                    )
                    .where(Report.first_notice_at.is_(None))
                    .values(first_notice_at=notice.sent_at)
                )
            tally.sent.append(notice_id)
    return tally


def _defer(store: Store, notice_id: int, error: str, base: timedelta) -> None:
    with store.session() as session:
        notice = session.get(Notice, notice_id)
        notice.attempts += 1
        notice.last_error = error
        notice.next_attempt_at = utcnow() + base * (2 ** min(notice.attempts - 1, 8))
    logger.warning("notice %d deferred: %s", notice_id, error, extra={"notice_id": notice_id})


def _bounce(store: Store, notice_id: int, error: str) -> None:
    with store.session() as session:
        notice = session.get(Notice, notice_id)
        notice.attempts += 1
        mark_bounced(session, notice, error, actor=ACTOR, now=utcnow())
    logger.warning(
        "notice %d bounced at %s: %s", notice_id, notice.to, error, extra={"notice_id": notice_id}
    )
