"""The submission side of `ntd stats --json`: public reports, from received to noticed.

- ``received``: submissions (one per URL of a public report); ``already_tracked`` of them
  were linked at once to a report being tracked; ``pending`` wait for an analyst.
- ``actionable_share``: of the submissions assessed, the share found illegal (baseline or
  national); null before any is assessed.
- ``median_time_to_assessment_s``: Kaplan–Meier, from receipt to the verdict taking
  effect, the pending censored now (an analyst's backlog counts, not only what was done).
- ``median_time_from_assessment_to_first_notice_s``: for the submissions found illegal,
  from the verdict to the report's first notice, the not-yet-notified censored now (a
  police hold counts here: the notice waits for it). A report noticed before the verdict
  (it was tracked meanwhile) counts as 0.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from stats.survival import kaplan_meier
from store.models import ACTIONABLE, ASSESSED, DUPLICATE, PENDING, Report, Submission


def figures(session: Session, now: datetime) -> dict:
    rows = session.execute(
        select(
            Submission.state,
            Submission.verdict,
            Submission.received_at,
            Submission.assessed_at,
            Report.first_notice_at,
        ).outerjoin(Report, Report.id == Submission.report_id)
    ).all()
    assessed = [row for row in rows if row.state == ASSESSED]
    actionable = [row for row in assessed if row.verdict in ACTIONABLE]
    waited = [row for row in rows if row.state in (PENDING, ASSESSED)]
    to_verdict = kaplan_meier(
        [_seconds(row.received_at, row.assessed_at or now) for row in waited],
        [row.state == ASSESSED for row in waited],
    )
    to_notice = kaplan_meier(
        [_seconds(row.assessed_at, row.first_notice_at or now) for row in actionable],
        [row.first_notice_at is not None for row in actionable],
    )
    return {
        "received": len(rows),
        "already_tracked": sum(1 for row in rows if row.state == DUPLICATE),
        "pending": sum(1 for row in rows if row.state == PENDING),
        "assessed": len(assessed),
        "actionable": len(actionable),
        "actionable_share": len(actionable) / len(assessed) if assessed else None,
        "median_time_to_assessment_s": to_verdict.quantile(0.5) if to_verdict.count else None,
        "median_time_from_assessment_to_first_notice_s": (
            to_notice.quantile(0.5) if to_notice.count else None
        ),
    }


def _seconds(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds(), 0.0)
