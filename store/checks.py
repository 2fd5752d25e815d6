"""Recording a check: the latest on the report, a row only when the outcome changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from store.models import Check, Report


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
    report.check_count += 1
    report.last_checked_at = check.at
    report.last_outcome = check.outcome
    report.last_http_status = check.http_status
    report.last_final_url = check.final_url
    report.last_content_type = check.content_type
    report.last_bytes = check.bytes
    report.last_truncated = check.truncated
    report.last_sha256 = check.sha256
    report.last_ip = check.ip
    report.last_elapsed_ms = check.elapsed_ms
    report.last_detail = check.detail
    report.last_redirects = list(check.redirects) or None
    if changed:
        session.add(
            Check(
                report_id=report.id,
                at=check.at,
                outcome=check.outcome,
                http_status=check.http_status,
                final_url=check.final_url,
                content_type=check.content_type,
                bytes=check.bytes,
                truncated=check.truncated,
                sha256=check.sha256,
                ip=check.ip,
                elapsed_ms=check.elapsed_ms,
                detail=check.detail,
                redirects=list(check.redirects) or None,
            )
        )
    return changed
