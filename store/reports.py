"""Queueing reports and the staff actions on them: the writes intake and the CLI share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from intake.submissions import Entry
from store import audit
from store.exceptions import NotFound
from store.models import (
    CLOSED,
    DUPLICATE,
    PENDING,
    QUEUED,
    REMOVED,
    Event,
    Fingerprint,
    Report,
    ReportRef,
    Submission,
)
from store.queue import wake
from store.writes import insert_ignoring_duplicates

BATCH = 1000
# Re-adding a tracked URL puts it back in the queue from these states.
REQUEUED_FROM = (REMOVED, CLOSED)


@dataclass(frozen=True)
class Queued:
    """What became of one accepted entry."""

    id: int
    canonical_url: str
    state: str
    new: bool
    requeued: bool


def queue(
    session: Session,
    entries: Iterable[Entry],
    *,
    actor: str,
    now: datetime,
    default_category: str,
    progress: Callable[[int], None] | None = None,
    link_submissions: bool = True,
) -> list[Queued]:
    """Store every entry as a queued report, or add its ref to the report that tracks it.

    Public submissions of the same URLs still waiting for an analyst are tracked from now
    on: they become sightings of the report, as if it had been tracked when they came
    (``link_submissions``; an assessment, which queues its own, links them itself).
    Returns one result per entry, in order. Works in batches, so 100,000 entries cost a
    few hundred statements rather than a few hundred thousand.
    """
    results: list[Queued] = []
    for batch in _batches(entries, BATCH):
        results.extend(_queue_batch(session, batch, actor, now, default_category))
        if link_submissions:
            _link_waiting_submissions(session, batch, results[-len(batch) :], actor, now)
        if progress:
            progress(len(batch))
    return results


def _queue_batch(
    session: Session, batch: list[Entry], actor: str, now: datetime, default_category: str
) -> list[Queued]:
    keys = {entry.url_key for entry in batch}
    existing = {
        row.url_key: row
        for row in session.execute(
            select(Report.id, Report.url_key, Report.state, Report.canonical_url).where(
                Report.url_key.in_(keys)
            )
        )
    }
    known: dict[str, tuple[int, str, bool, bool]] = {}  # url_key -> id, state, new, requeued
    events: list[dict] = []

    fresh: dict[str, Entry] = {}
    for entry in batch:
        if entry.url_key not in existing and entry.url_key not in fresh:
            fresh[entry.url_key] = entry
    if fresh:
        rows = [
            {
                "url": e.url,
                "canonical_url": e.canonical_url,
                "url_key": e.url_key,
                "ref": e.ref,
                "category": e.category or default_category,
                "state": QUEUED,
                "created_at": now,
                "created_by": actor,
                "next_due_at": now,
            }
            for e in fresh.values()
        ]
        # A Core executemany, then one select for the new ids: the ORM's bulk path, or
        # RETURNING in parameter order (row by row on SQLite), cost many times more.
        session.connection().execute(insert(Report.__table__), rows)
        inserted = session.execute(
            select(Report.id, Report.url_key).where(Report.url_key.in_(fresh.keys()))
        )
        # Who queued a report, and when, is on its row (created_by, created_at): an
        # event each would double the cost of a large import and say nothing more.
        for row in inserted:
            known[row.url_key] = (row.id, QUEUED, True, False)

    for key, row in existing.items():
        if row.state in REQUEUED_FROM:
            report = session.get(Report, row.id)
            report.state, report.reason, report.next_due_at = QUEUED, None, now
            report.lease_until = report.claimed_by = None
            known[key] = (row.id, QUEUED, False, True)
            events.append(_event(now, actor, row.id, "requeued", row.state, QUEUED))
        else:
            known[key] = (row.id, row.state, False, False)

    existing_refs = set()
    if existing:
        existing_refs = {
            (row.report_id, row.ref)
            for row in session.execute(
                select(ReportRef.report_id, ReportRef.ref).where(
                    ReportRef.report_id.in_([r.id for r in existing.values()])
                )
            )
        }
    refs, prints, results, seen = {}, set(), [], set()
    for entry in batch:
        report_id, state, new, requeued = known[entry.url_key]
        if entry.url_key in seen:  # the same URL twice in one batch is new only once
            new = requeued = False
        seen.add(entry.url_key)
        if entry.ref and (report_id, entry.ref) not in existing_refs:
            refs[(report_id, entry.ref)] = {
                "report_id": report_id,
                "ref": entry.ref,
                "added_at": now,
                "added_by": actor,
            }
            if not new:
                events.append(_event(now, actor, report_id, "ref_added", None, None, entry.ref))
            existing_refs.add((report_id, entry.ref))
        prints.update((report_id, sha) for sha in entry.sha256)
        results.append(Queued(report_id, entry.canonical_url, state, new, requeued))

    insert_ignoring_duplicates(session, ReportRef, list(refs.values()))
    insert_ignoring_duplicates(
        session, Fingerprint, [{"report_id": r, "sha256": s} for r, s in sorted(prints)]
    )
    _fill_missing_first_refs(session, existing.values(), refs)
    if fresh:
        ids = sorted(known[key][0] for key in fresh)
        events.append(
            _event(now, actor, None, "queued", None, None, f"{len(ids)} reports: {_ids(ids)}")
        )
    audit.record(session, events)
    if fresh or any(requeued for *_, requeued in known.values()):
        wake(session)  # `ntd run` checks it now rather than at its next interval
    return results


def _link_waiting_submissions(
    session: Session, batch: list[Entry], queued: list[Queued], actor: str, now: datetime
) -> None:
    """Public submissions of these URLs that wait for an analyst: the URL is tracked now,
    so each becomes a sighting of its report and leaves the assessment queue."""
    report_of = {entry.url_key: result.id for entry, result in zip(batch, queued, strict=True)}
    waiting = session.execute(
        select(Submission.id, Submission.reference, Submission.url_key).where(
            Submission.state == PENDING, Submission.url_key.in_(report_of)
        )
    ).all()
    if not waiting:
        return
    submissions = Submission.__table__  # a Core executemany: no ORM objects to keep in step
    session.execute(
        update(submissions)
        .where(submissions.c.id == bindparam("submission_id"), submissions.c.state == PENDING)
        .values(state=DUPLICATE, report_id=bindparam("linked_report")),
        [{"submission_id": row.id, "linked_report": report_of[row.url_key]} for row in waiting],
    )
    audit.record(
        session,
        [
            _event(
                now,
                actor,
                report_of[row.url_key],
                "sighting",
                detail=f"public report {row.reference} (submission {row.id}) waited for an "
                "analyst: tracked now",
            )
            for row in waiting
        ],
    )


def _ids(ids: list[int]) -> str:
    """``1-5, 7, 9-14``: sorted ids as runs."""
    runs, start = [], ids[0]
    for previous, current in zip(ids, [*ids[1:], None], strict=True):
        if current != previous + 1:
            runs.append(str(start) if start == previous else f"{start}-{previous}")
            start = current
    return ", ".join(runs)


def _fill_missing_first_refs(session: Session, existing: Iterable, refs: dict) -> None:
    # A tracked report first queued without a ref takes the first one given later.
    given = {}
    for report_id, ref in refs:
        given.setdefault(report_id, ref)
    for row in existing:
        if row.id in given:
            session.execute(
                update(Report)
                .where(Report.id == row.id, Report.ref.is_(None))
                .values(ref=given[row.id])
            )


def find(session: Session, key: int | str) -> Report:
    """The report with this id, or whose canonical URL this is; raise ``NotFound``."""
    from intake.canonical import canonicalise, url_key
    from intake.exceptions import RejectedInput

    if isinstance(key, int) or key.strip().isdigit():
        report = session.get(Report, int(key))
        if report is None:
            raise NotFound(f"no report with id {int(key)}")
        return report
    try:
        canonical = canonicalise(key)
    except RejectedInput as error:
        raise NotFound(f"{key!r} is neither a report id nor a URL: {error}") from None
    report = session.scalar(select(Report).where(Report.url_key == url_key(canonical)))
    if report is None:
        raise NotFound(f"no report tracks {canonical}")
    return report


def set_paused(session: Session, report: Report, paused: bool, *, actor: str, now: datetime):
    """Hold or release a report's notices. Returns False when it already was so."""
    if report.paused == paused:
        return False
    report.paused = paused
    session.add(Event(**_event(now, actor, report.id, "paused" if paused else "resumed")))
    return True


def close(session: Session, report: Report, reason: str, *, actor: str, now: datetime) -> bool:
    """Withdraw a report. Returns False when it was already closed."""
    if report.state == CLOSED:
        return False
    session.add(Event(**_event(now, actor, report.id, "closed", report.state, CLOSED, reason)))
    report.state, report.reason = CLOSED, reason
    report.next_due_at = report.claimed_by = report.lease_until = None
    return True


def _event(now, actor, report_id, action, from_state=None, to_state=None, detail=None) -> dict:
    return {
        "at": now,
        "actor": actor,
        "report_id": report_id,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "detail": detail,
    }


def _batches(items: Iterable[Entry], size: int) -> Iterator[list[Entry]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


__all__ = ["Queued", "queue", "find", "set_paused", "close"]
