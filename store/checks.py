"""Recording a check: the latest on the report, a row only when the outcome changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from store.models import Check, Report

# What a check saw, as both the ``checks`` rows and the report's ``last_*`` columns keep it.
CHECK_FIELDS = (
    "outcome",
    "http_status",
    "final_url",
    "content_type",
    "bytes",
    "truncated",
    "sha256",
    "ip",
    "elapsed_ms",
    "detail",
    "redirects",
)


@dataclass(frozen=True)
class CheckResult:
    """What one fetch saw. Never any of the content itself: only its hash and size."""

    at: datetime
    outcome: str
    http_status: int | None = None
    final_url: str | None = None
    content_type: str | None = None
    bytes: int | None = None
    truncated: bool = False
    sha256: str | None = None
    ip: str | None = None
    elapsed_ms: int | None = None
    detail: str | None = None
    redirects: tuple[str, ...] = field(default=())


def record_check(session: Session, report: Report, check: CheckResult) -> bool:
    """Keep ``check`` as the report's latest; store a row if its outcome is new.

    Returns True when a row was stored. The latest check's outcome always equals the last
    stored row's, so comparing with the report's columns needs no extra query.
    """
    changed = report.last_outcome != check.outcome or report.check_count == 0
    seen = {name: getattr(check, name) for name in CHECK_FIELDS}
    seen["redirects"] = list(check.redirects) or None
    report.check_count += 1
    report.last_checked_at = check.at
    for name, value in seen.items():
        setattr(report, f"last_{name}", value)
    if changed:
        session.add(Check(report_id=report.id, at=check.at, **seen))
    return changed
