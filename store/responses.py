"""A provider's first answer: what time to first response is measured to.

Only answers that can be trusted count: a reply matched by a bounce-address token or by a
Message-ID we sent, and an answer on the provider page (whose link only the recipient
had). Each sets the notice's ``answered_at`` and its reports' ``first_response_at``, the
earliest one winning.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from store.models import Notice, NoticeReport, Report


def record_response(
    session: Session, notice_id: int, at: datetime, report_ids: Iterable[int] | None = None
) -> None:
    """An answer to ``notice_id`` at ``at``, about ``report_ids`` (default: all it covers)."""
    session.execute(
        update(Notice)
        .where(Notice.id == notice_id, or_(Notice.answered_at.is_(None), Notice.answered_at > at))
        .values(answered_at=at),
        execution_options={"synchronize_session": False},
    )
    about = (
        select(NoticeReport.report_id).where(NoticeReport.notice_id == notice_id)
        if report_ids is None
        else list(report_ids)
    )
    session.execute(
        update(Report)
        .where(
            Report.id.in_(about),
            or_(Report.first_response_at.is_(None), Report.first_response_at > at),
        )
        .values(first_response_at=at),
        execution_options={"synchronize_session": False},
    )
