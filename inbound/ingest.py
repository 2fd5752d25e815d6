"""Storing one inbound message and doing what its kind calls for: the one path all three
ways in (pipe, LMTP, IMAP) share.

Kinds:
- ``bounce``: a permanent failure. Matched by a token or a Message-ID we sent, its
  notice fails and its recipient is marked bouncing, as a 5xx does at sending: the next
  notify pass goes to the next contact. Matched by a subject tag only, nothing changes.
- ``delay``: a transient failure, recorded only.
- ``auto_reply``: RFC 3834 headers, an out-of-office subject, or a mail system's message
  that is no bounce: recorded only.
- ``reply``: recorded on the timeline of every report of its notice, counted as the
  provider's answer when the match is trusted, and shown in the dashboard's inbox.
- ``unmatched``: no notice of ours; in the inbox.

Everything happens in one transaction: the message is stored with all it does, or not at
all. A second delivery of the same bytes finds the first (``digest``) and does nothing.
Auto-responder loops are cut: beyond INBOUND_AUTO_REPLIES auto-replies a day to one
notice, or the same text again from the same sender within a day, a message is dropped.
Nothing of a message is logged but its id, kind and notice.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inbound.exceptions import NotAMessage
from inbound.matching import Match, match
from inbound.parse import Parsed, clean, parse
from notifier.bouncing import mark_bounced
from notifier.tokens import NoticeNames, store_key
from settings import Settings
from store.db import Store
from store.models import InboundMessage
from store.responses import record_response
from store.types import utcnow

logger = logging.getLogger(__name__)
ACTOR = "mail"
VIAS = ("pipe", "lmtp", "imap")
_LOOP_WINDOW = timedelta(days=1)
MATCHED_BY = ("token", "message_id", "subject", "none")  # surest first
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Delivery:
    """A message as a way in hands it over. ``raw`` is all of it when ``complete``, else
    its first INBOUND_MAX_BYTES (its headers are read from them). ``sender`` is the
    envelope's MAIL FROM ("" for the null sender), ``recipients`` its RCPT TOs."""

    raw: bytes
    size: int
    digest: str
    complete: bool
    via: str
    sender: str | None = None
    recipients: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: bytes, via: str, limit: int, **envelope) -> Delivery:
        complete = len(raw) <= limit
        return cls(
            raw if complete else raw[:limit],
            len(raw),
            hashlib.sha256(raw).hexdigest(),
            complete,
            via,
            **envelope,
        )


def read_delivery(stream: BinaryIO, via: str, limit: int, **envelope) -> Delivery:
    """Read a message from ``stream``, keeping at most ``limit`` bytes of it in memory:
    the rest is hashed and counted as it streams past."""
    digest, kept, size = hashlib.sha256(), bytearray(), 0
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if len(kept) <= limit:
            kept += chunk[: limit + 1 - len(kept)]
    complete = len(kept) <= limit
    return Delivery(bytes(kept[:limit]), size, digest.hexdigest(), complete, via, **envelope)


@dataclass(frozen=True)
class Stored:
    """What became of a message: stored as ``id`` (or already there: ``duplicate``), or
    ``dropped`` (an auto-responder loop), and what it did (``outcome``)."""

    id: int | None
    kind: str
    notice_id: int | None
    matched_by: str
    outcome: str
    duplicate: bool = False
    dropped: bool = False


def ingest(store: Store, settings: Settings, delivery: Delivery) -> Stored:
    """Store ``delivery`` and act on it. Raises NotAMessage for input that holds no mail
    message, and StoreUnavailable when the store cannot take it (the caller tells its
    mail server to try again later)."""
    if delivery.via not in VIAS:
        raise ValueError(f"via must be one of {VIAS}")
    parsed = _read(delivery, settings.inbound_text_max)

    def work(session: Session) -> Stored:
        return _store(session, settings, delivery, parsed, utcnow())

    for attempt in (1, 2):
        try:
            stored = store.transaction(
                work, retries=settings.database_retries, backoff=settings.database_retry
            )
            break
        except IntegrityError:
            # The same message delivered twice at once: the other delivery stored it first.
            if attempt == 2:
                raise
    if not stored.duplicate:
        from store.counters import key, record

        result = "dropped" if stored.dropped else "stored"
        record(store, {key("ntd_inbound_messages_total", kind=stored.kind, result=result): 1})
    logger.info(
        "inbound message %s via %s: %s, notice %s (matched by %s)%s",
        stored.id,
        delivery.via,
        stored.kind,
        stored.notice_id,
        stored.matched_by,
        " (duplicate)" if stored.duplicate else " (dropped)" if stored.dropped else "",
        extra={"inbound_id": stored.id, "notice_id": stored.notice_id},
    )
    return stored


def _read(delivery: Delivery, text_max: int) -> Parsed:
    # Blank lines before the headers are tolerated; a first line that is a continuation
    # (it starts with white space) is not a header.
    head = delivery.raw.lstrip(b"\r\n")[:4096].split(b"\n", 1)[0]
    if not delivery.raw.strip():
        raise NotAMessage("the input is empty: no mail message to store")
    if b":" not in head or head.startswith((b" ", b"\t")):
        raise NotAMessage("the input does not begin with mail headers (Name: value lines)")
    return parse(delivery.raw, text_max=text_max, headers_only=not delivery.complete)


def _store(
    session: Session, settings: Settings, delivery: Delivery, parsed: Parsed, now: datetime
) -> Stored:
    earlier = session.scalar(select(InboundMessage).where(InboundMessage.digest == delivery.digest))
    if earlier is not None:
        return Stored(
            earlier.id,
            earlier.kind,
            earlier.notice_id,
            earlier.matched_by,
            f"already stored as message {earlier.id}",
            duplicate=True,
        )
    names = NoticeNames(store_key(session, settings.secret_key))
    found = match(session, names, parsed, delivery.recipients)
    kind = _kind(parsed, found, delivery)
    loop = _loop(session, settings, parsed, found, kind, now)
    if loop:
        return Stored(None, kind, _id(found), found.by, loop, dropped=True)
    row = InboundMessage(
        received_at=now,
        via=delivery.via,
        digest=delivery.digest,
        size=delivery.size,
        from_address=parsed.from_address,
        subject=parsed.subject,
        message_id=clean(parsed.message_id),
        kind=kind,
        matched_by=found.by,
        notice_id=_id(found),
        ticket=clean(parsed.ticket),
        text=parsed.text,
        text_cut=parsed.text_cut,
        attachments=parsed.attachments,
        attachment_types=list(parsed.attachment_types),
        needs_reading=False,
    )
    outcome, row.needs_reading = _act(session, row, parsed, found, delivery, now)
    if not delivery.complete:
        outcome = (
            f"{delivery.size:,} bytes, over INBOUND_MAX_BYTES: kept by its headers only, "
            f"its text and attachments not read; {outcome}"
        )
    elif not parsed.body_read:
        outcome = f"too broken to read past its headers (if those); {outcome}"
    row.outcome = outcome
    session.add(row)
    session.flush()
    return Stored(row.id, kind, row.notice_id, found.by, outcome)


def _kind(parsed: Parsed, found: Match, delivery: Delivery) -> str:
    if found.notice is None:
        return "unmatched"
    # A message to a notice's bounce address can only be a mail system's or an
    # auto-responder's: nobody else was given that address.
    bounce_like = _machine(parsed, delivery) or found.by == "token"
    if bounce_like and parsed.failures.permanent:
        return "bounce"
    if bounce_like and parsed.failures.temporary:
        return "delay"
    if parsed.auto_reply or _machine(parsed, delivery):
        return "auto_reply"
    return "reply"


def _machine(parsed: Parsed, delivery: Delivery) -> str | None:
    if parsed.machine:
        return parsed.machine
    return "the null sender <> of bounces" if delivery.sender == "" else None


def _act(
    session: Session,
    row: InboundMessage,
    parsed: Parsed,
    found: Match,
    delivery: Delivery,
    now: datetime,
) -> tuple[str, bool]:
    """What the message does: (outcome for staff, whether it waits in the inbox)."""
    notice, kind = found.notice, row.kind
    machine = _machine(parsed, delivery)
    if notice is None:
        looks = machine or parsed.auto_reply
        return "matches no notice of ours" + (
            f" (it looks automatic: {looks})" if looks else ""
        ), True
    weak = f"matched to notice {notice.id} by its subject tag only, which anyone can write"
    failures = parsed.failures
    if kind == "bounce":
        if not found.trusted:
            return f"{weak}: nothing done", True
        if notice.failed_at is not None:
            return f"notice {notice.id} to {notice.to} had already bounced", False
        if notice.sent_at is None:
            return f"notice {notice.id} was never sent, so cannot have bounced: nothing done", True
        if found.by != "token" and notice.to.lower() not in failures.permanent:
            # Our Message-ID in a bounce for someone else: a copy of the thread (staff's
            # reply with a Cc) bounced, not the notice. Staff read it; nothing changes.
            failed = ", ".join(failures.permanent)
            return (
                f"a bounce for {failed}, not for notice {notice.id}'s recipient {notice.to}: "
                "nothing done"
            ), True
        why = failures.diagnostic or "a permanent failure"
        mark_bounced(
            session, notice, f"bounced after the relay accepted it: {why}", actor=ACTOR, now=now
        )
        return (
            f"{notice.to} marked bouncing ({why}); its reports go to the next contact at the "
            "next notify pass"
        ), False
    if kind == "delay":
        why = failures.diagnostic or "a transient failure"
        return f"delivery of notice {notice.id} delayed ({why}): recorded only", False
    if kind == "auto_reply":
        if parsed.auto_reply:
            return f"an automatic message ({parsed.auto_reply}): recorded only", False
        return f"a mail system's message ({machine}) that is no bounce ntd can read", True
    if not found.trusted:
        return f"{weak}: unverified, not counted as an answer", True
    if notice.kind == "partner":
        # A partner hotline's answer: staff read it; it is not the provider's response.
        return f"reply from the partner hotline to notice {notice.id}", True
    record_response(session, notice.id, now)
    return f"reply to notice {notice.id}", True


def _loop(
    session: Session,
    settings: Settings,
    parsed: Parsed,
    found: Match,
    kind: str,
    now: datetime,
) -> str | None:
    """Why this message is one more turn of an auto-responder loop, or None."""
    if kind in ("bounce", "delay"):
        return None
    since = now - _LOOP_WINDOW
    # Only messages matched at least as surely count against this one: a forged subject
    # tag must not use up a notice's auto-reply quota, nor make the real reply a "repeat".
    as_sure = MATCHED_BY[: MATCHED_BY.index(found.by) + 1]
    recent = select(InboundMessage).where(
        InboundMessage.received_at >= since,
        InboundMessage.matched_by.in_(as_sure),
        InboundMessage.notice_id == _id(found)
        if found.notice is not None
        else InboundMessage.notice_id.is_(None),
    )
    if kind == "auto_reply" and found.notice is not None:
        count = session.scalar(
            select(func.count()).select_from(
                recent.where(InboundMessage.kind == "auto_reply").subquery()
            )
        )
        if count >= settings.inbound_auto_replies:
            return (
                f"dropped: {count} auto-replies to notice {found.notice.id} in a day already "
                "(INBOUND_AUTO_REPLIES), an auto-responder loop"
            )
    same = session.scalar(
        select(func.count()).select_from(
            recent.where(
                InboundMessage.from_address == parsed.from_address,
                InboundMessage.text == parsed.text,
            ).subquery()
        )
    )
    if same and parsed.text:
        return "dropped: the same text from the same sender within a day, an auto-responder loop"
    return None


def _id(found: Match) -> int | None:
    return found.notice.id if found.notice is not None else None
