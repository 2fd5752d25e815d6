"""Queueing submissions: validate each, store the valid ones, name the rejected ones.

The one path from a list of submissions to the store, shared by ``ntd add``, ``ntd
import``, the dashboard's queue page and ``POST /api/reports``, so that all of them accept
and reject exactly the same inputs for the same reasons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from intake.csvfile import BadRow
from intake.exceptions import RejectedInput
from intake.submissions import Entry, Submission, validate
from store import reports
from store.db import Store
from store.reports import Queued
from store.types import utcnow


def validate_all(submissions: Iterable[Submission]) -> tuple[list[Entry], list[BadRow]]:
    """The valid entries, in order, and a ``BadRow`` for each rejected submission."""
    entries, rejected = [], []
    for submission in submissions:
        try:
            entries.append(validate(submission))
        except RejectedInput as error:
            rejected.append(BadRow(submission.line or 0, submission.url, str(error)))
    return entries, rejected


def queue_submissions(
    store: Store,
    submissions: Iterable[Submission],
    *,
    actor: str,
    default_category: str,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Queued], list[BadRow]]:
    """Queue the valid submissions in one transaction; returns them and the rejected ones.

    ``actor`` is recorded as who queued each new report (``created_by``). ``progress`` is
    told how many submissions were dealt with, rejected ones included.
    """
    entries, rejected = validate_all(submissions)
    if progress and rejected:
        progress(len(rejected))
    accepted: list[Queued] = []
    if entries:
        with store.session() as session:
            accepted = reports.queue(
                session,
                entries,
                actor=actor,
                now=utcnow(),
                default_category=default_category,
                progress=progress,
            )
    return accepted, rejected
