"""The audit trail, sealed: every event is chained to the one before it by SHA-256.

Each transaction that writes events seals them as it commits: under a lock on the chain's
head (one row, ``audit_head``), each new event gets the next ``seq``, the SHA-256 of its
``detail`` (``detail_digest``) and ``hash`` = SHA-256 of the previous hash and its own
content. The head keeps the last seq and hash, so that deleting the newest rows shows
too. ``verify()`` walks the chain and names the first row that was changed, inserted
(no seal, a seal out of turn) or deleted (a gap). The lock is held only from the seal to
the commit, a few milliseconds, so that writers queue there and nowhere else.

Only events this transaction wrote are sealed, never whatever else lies unsealed: a row
put in with SQL carries no seal, and ``verify()`` names it.

A purge (store.retention) may erase an event's ``detail`` (it can hold a reference or a
reason staff wrote) of a purged report: the digest stays, so the chain still verifies,
and the erasure is told apart from an edit by the report being purged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from store.models import AuditHead, Event, Report

GENESIS = "0" * 64
_PENDING = "audit_pending"
_EVENTS = Event.__table__
_CHUNK = 500


def record(session: Session, rows: list[dict]) -> None:
    """Insert event rows (dicts of Event's columns) in one statement, to be sealed."""
    if rows:
        ids = session.execute(insert(_EVENTS).returning(_EVENTS.c.id), rows).scalars()
        session.info.setdefault(_PENDING, set()).update(ids)


def install(sessions: sessionmaker) -> None:
    """Seal every session's new events as it commits (its outermost transaction: a
    savepoint's release seals nothing, a savepoint's rollback forgets nothing else)."""
    event.listen(sessions, "after_flush", _collect)
    event.listen(sessions, "before_commit", _seal)
    event.listen(sessions, "after_soft_rollback", _forget)


def _collect(session: Session, _context) -> None:
    new = [obj.id for obj in session.new if isinstance(obj, Event)]
    if new:
        session.info.setdefault(_PENDING, set()).update(new)


def _forget(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the whole transaction, not a savepoint
        session.info.pop(_PENDING, None)


def _seal(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outer commit seals
    session.flush()  # events added but not flushed yet are collected by _collect
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar()
    seq, previous = head.seq, head.hash
    ids = sorted(pending)
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(*_COLUMNS)
            .where(_EVENTS.c.id.in_(ids[start : start + _CHUNK]))
            .order_by(_EVENTS.c.id)
        ).all()
        seals = []
        for row in rows:  # a savepoint rolled back may have taken some away: skipped
            seq += 1
            digest = detail_digest(row.detail)
            previous = chain(previous, seq, row, digest)
            seals.append({"key": row.id, "seq": seq, "detail_digest": digest, "hash": previous})
        if seals:
            session.execute(
                update(_EVENTS)
                .where(_EVENTS.c.id == bindparam("key"))
                .values(
                    seq=bindparam("seq"),
                    detail_digest=bindparam("detail_digest"),
                    hash=bindparam("hash"),
                ),
                seals,
                execution_options={"synchronize_session": False},
            )
    session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=previous),
        execution_options={"synchronize_session": False},
    )


_COLUMNS = (
    _EVENTS.c.id,
    _EVENTS.c.at,
    _EVENTS.c.actor,
    _EVENTS.c.report_id,
    _EVENTS.c.action,
    _EVENTS.c.from_state,
    _EVENTS.c.to_state,
    _EVENTS.c.detail,
)


def detail_digest(detail: str | None) -> str:
    return hashlib.sha256(b"\x00" if detail is None else b"\x01" + detail.encode()).hexdigest()


def chain(previous: str, seq: int, row, digest: str) -> str:
    """The hash of one event: its predecessor's hash, its place and its content."""
    content = [
        previous,
        seq,
        row.id,
        row.at.isoformat(timespec="microseconds"),
        row.actor,
        row.report_id,
        row.action,
        row.from_state,
        row.to_state,
        digest,
    ]
    return hashlib.sha256(json.dumps(content, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Verdict:
    events: int  # sealed events walked
    redacted: int  # details erased by a purge
    problem: str | None  # the first break found, or None

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify(session: Session) -> Verdict:
    """Walk the chain from the first event; stop at the first break."""
    head = session.get(AuditHead, 1)
    purged = set(session.scalars(select(Report.id).where(Report.purged_at.isnot(None))))
    previous, expected, redacted = GENESIS, 1, 0
    # Up to the head as first read: what others seal while we walk is for the next walk.
    for row in _sealed(session, upto=head.seq):
        if row.seq != expected:
            if row.seq > expected:
                missing = "s" if row.seq - expected > 1 else ""
                return Verdict(
                    expected - 1,
                    redacted,
                    f"event{missing} sealed as {_range(expected, row.seq - 1)} "
                    f"{'were' if missing else 'was'} deleted (the chain jumps to event "
                    f"{row.id}, sealed {row.seq})",
                )
            return Verdict(
                expected - 1,
                redacted,
                f"event {row.id} was inserted: it carries seal {row.seq}, which an earlier "
                "event already has",
            )
        if row.detail is None and row.detail_digest != detail_digest(None):
            if row.report_id not in purged:
                return Verdict(
                    expected - 1, redacted, f"event {row.id} was changed: its detail is gone"
                )
            redacted += 1
        elif detail_digest(row.detail) != row.detail_digest:
            return Verdict(expected - 1, redacted, f"event {row.id} was changed (its detail)")
        if chain(previous, row.seq, row, row.detail_digest) != row.hash:
            return Verdict(expected - 1, redacted, f"event {row.id} was changed")
        previous, expected = row.hash, expected + 1
    walked = expected - 1
    if walked < head.seq:
        many = head.seq - walked > 1
        return Verdict(
            walked,
            redacted,
            f"the newest event{'s' if many else ''}, sealed as {_range(walked + 1, head.seq)}, "
            f"{'were' if many else 'was'} deleted",
        )
    if previous != head.hash:
        return Verdict(walked, redacted, "the chain's head was changed")
    # Seals beyond the head: others' commits since it was read, or forged. The head as it
    # is now tells which.
    now_head = session.execute(select(AuditHead.seq).where(AuditHead.id == 1)).scalar()
    stray = session.execute(
        select(_EVENTS.c.id, _EVENTS.c.seq)
        .where(_EVENTS.c.seq > now_head)
        .order_by(_EVENTS.c.seq)
        .limit(1)
    ).first()
    if stray is not None:
        return Verdict(
            walked,
            redacted,
            f"event {stray.id} was inserted: its seal {stray.seq} is beyond the chain's head "
            f"({now_head})",
        )
    unsealed = session.scalar(
        select(_EVENTS.c.id).where(_EVENTS.c.seq.is_(None)).order_by(_EVENTS.c.id).limit(1)
    )
    if unsealed is not None:
        return Verdict(walked, redacted, f"event {unsealed} was inserted: it carries no seal")
    return Verdict(walked, redacted, None)


def export(session: Session) -> Iterator[dict]:
    """Every sealed event in chain order, as JSON-ready dicts (for an external archive)."""
    for row in _sealed(session):
        yield {
            "seq": row.seq,
            "id": row.id,
            "at": row.at.isoformat(timespec="microseconds"),
            "actor": row.actor,
            "report_id": row.report_id,
            "action": row.action,
            "from_state": row.from_state,
            "to_state": row.to_state,
            "detail": row.detail,
            "detail_sha256": row.detail_digest,
            "hash": row.hash,
        }


def _sealed(session: Session, upto: int | None = None) -> Iterable:
    last = 0
    while True:
        query = select(*_COLUMNS, _EVENTS.c.seq, _EVENTS.c.detail_digest, _EVENTS.c.hash)
        if upto is not None:
            query = query.where(_EVENTS.c.seq <= upto)
        rows = session.execute(
            query.where(_EVENTS.c.seq > last).order_by(_EVENTS.c.seq).limit(_CHUNK * 4)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def _range(first: int, last: int) -> str:
    return str(first) if first == last else f"{first} to {last}"
