"""The tables of the store.

The store grows with changes, not with checks: a report row carries its latest check
(the ``last_*`` columns), and a ``checks`` row is written only for the first check and
for each check whose outcome differs from the stored one before it. ``check_count``
counts every fetch. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.types import UTCDateTime

# Report states, as PRODUCT.md defines them.
QUEUED, ONLINE, UNREACHABLE, REMOVED, REJECTED, CLOSED = (
    "queued",
    "online",
    "unreachable",
    "removed",
    "rejected",
    "closed",
)
STATES = (QUEUED, ONLINE, UNREACHABLE, REMOVED, REJECTED, CLOSED)
# States a report can still be checked in; the others have no next check.
CHECKABLE = (QUEUED, ONLINE, UNREACHABLE, REMOVED)


class Base(DeclarativeBase):
    pass


class Report(Base):
    """One reported URL being tracked."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str] = mapped_column(Text)
    # SHA-256 of canonical_url: a unique index on the URL itself would break on
    # PostgreSQL for URLs longer than a btree entry (about 2.7 KB); ours go to 8 KB.
    url_key: Mapped[str] = mapped_column(String(64), unique=True)
    ref: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=QUEUED)
    reason: Mapped[str | None] = mapped_column(Text)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    seen_online: Mapped[bool] = mapped_column(Boolean, default=False)
    reappearances: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    first_online_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_online_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The fingerprint and type of the first online check: the soft-404 and
    # "replaced" rules compare against them.
    first_sha256: Mapped[str | None] = mapped_column(String(64))
    first_content_type: Mapped[str | None] = mapped_column(Text)

    # The latest check, kept here rather than as a row per fetch.
    check_count: Mapped[int] = mapped_column(Integer, default=0)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    last_http_status: Mapped[int | None] = mapped_column(Integer)
    last_final_url: Mapped[str | None] = mapped_column(Text)
    last_content_type: Mapped[str | None] = mapped_column(Text)
    last_bytes: Mapped[int | None] = mapped_column(Integer)
    last_truncated: Mapped[bool | None] = mapped_column(Boolean)
    last_sha256: Mapped[str | None] = mapped_column(String(64))
    last_ip: Mapped[str | None] = mapped_column(String(45))
    last_elapsed_ms: Mapped[int | None] = mapped_column(Integer)
    last_detail: Mapped[str | None] = mapped_column(Text)
    last_redirects: Mapped[list[str] | None] = mapped_column(JSON)

    # Ambiguous failures in a row, towards REMOVAL_CONFIRMATIONS.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Scheduling: NULL means never due (rejected, closed).
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_reports_due", "next_due_at"),
        Index("ix_reports_state", "state"),
        Index("ix_reports_ref", "ref"),
    )


class ReportRef(Base):
    """Every case reference a report was submitted under."""

    __tablename__ = "report_refs"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    ref: Mapped[str] = mapped_column(Text, primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    added_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_report_refs_ref", "ref"),)


class Fingerprint(Base):
    """An expected SHA-256: the content the analyst assessed."""

    __tablename__ = "fingerprints"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)


class Check(Base):
    """A stored check: the first of a report, or one whose outcome changed."""

    __tablename__ = "checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None] = mapped_column(Integer)
    final_url: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(Text)
    bytes: Mapped[int | None] = mapped_column(Integer)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    sha256: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
    elapsed_ms: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)
    # The URLs redirected from, in order, before final_url.
    redirects: Mapped[list[str] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_checks_report", "report_id", "id"),)


class Event(Base):
    """Who or what changed a report, and how: the trail the audit log builds on.

    ``actor`` is a user name, or ``crawler``, ``notifier`` or ``scheduler``.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_events_report", "report_id", "id"),)
