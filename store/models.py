"""The tables of the store.

The store grows with changes, not with checks: a report row carries its latest check
(the ``last_*`` columns), and a ``checks`` row is written only for the first check and
for each check whose outcome differs from the stored one before it. ``check_count``
counts every fetch. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
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
    # When the first notice covering the report went: the clock of time to removal.
    first_notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The provider's first answer about it: a reply matched by a token or a Message-ID we
    # sent, or an answer on the provider page. Never set by a subject tag alone.
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by a purge (store.retention): the URL, its host, addresses and fingerprints are
    # gone; what the statistics need stays.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The fingerprint and type of the first online check: the soft-404 and
    # "replaced" rules compare against them.
    first_sha256: Mapped[str | None] = mapped_column(String(64))
    first_content_type: Mapped[str | None] = mapped_column(Text)
    # Police first (store.police): notices wait from police_hold_at until law enforcement
    # clears it (police_cleared_at) or POLICE_CLEARANCE_TIMEOUT passes. Checks go on.
    police_hold_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    police_cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    police_cleared_by: Mapped[str | None] = mapped_column(String(64))

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
    # The seal (store.audit): place in the chain, SHA-256 of detail, hash of the chain.
    seq: Mapped[int | None] = mapped_column(Integer)
    detail_digest: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_events_report", "report_id", "id"),
        Index("ix_events_seq", "seq", unique=True),
    )


class AuditHead(Base):
    """The last seal of the audit chain: one row, locked while a transaction seals."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class LoginThrottle(Base):
    """Failed sign-ins (or token look-ups) per account or client address, and until when
    the next try waits (web.throttle); shared by every `ntd serve` through the store."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # account:NAME, address:IP…
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Hosting(Base):
    """Who hosts a report, for the address the crawler last connected to.

    ``sources`` names the look-up that gave each field, e.g. {"asn": "cymru",
    "abuse_email": "rdap:entity ABUSE-RIPE"}. ``details`` keeps the rest of the
    resolution: the CNAME chain, name servers, escalation contacts, a second opinion
    on the country.
    """

    __tablename__ = "hosting"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    ip: Mapped[str | None] = mapped_column(String(45))
    asn: Mapped[int | None] = mapped_column(BigInteger)  # 32-bit unsigned
    network: Mapped[str | None] = mapped_column(String(64))
    org: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(String(2))
    abuse_email: Mapped[str | None] = mapped_column(Text)
    registered_domain: Mapped[str | None] = mapped_column(Text)
    registrar: Mapped[str | None] = mapped_column(Text)
    cdn: Mapped[str | None] = mapped_column(Text)
    sources: Mapped[dict | None] = mapped_column(JSON)
    details: Mapped[dict | None] = mapped_column(JSON)
    resolved_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_hosting_asn", "asn"),
        Index("ix_hosting_country", "country"),
    )


class NetworkCache(Base):
    """An RDAP answer, kept per BGP prefix for RDAP_CACHE_TTL: cost grows with networks."""

    __tablename__ = "network_cache"

    # A BGP prefix, "ip:<address>" or "domain:<registered domain>" (up to 253 characters).
    prefix: Mapped[str] = mapped_column(String(300), primary_key=True)
    asn: Mapped[int | None] = mapped_column(BigInteger)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict] = mapped_column(JSON)


class LookupLease(Base):
    """A worker asking RDAP about one network or domain now: the others wait for its
    answer in ``network_cache`` instead of asking too, until ``until``."""

    __tablename__ = "lookup_leases"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)  # network_cache's
    worker: Mapped[str] = mapped_column(String(200))
    until: Mapped[datetime] = mapped_column(UTCDateTime)


class Contact(Base):
    """Staff's own abuse contact for a network, an ASN or a domain: wins over look-ups."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # network, asn or domain
    key: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    added_by: Mapped[str] = mapped_column(String(64))
    bouncing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ux_contacts_kind_key", "kind", "key", unique=True),)


class Notice(Base):
    """One email to one recipient, of one kind, covering one or more reports.

    Recorded as pending (``sent_at`` NULL) in the transaction that picks its reports,
    then sent, then marked sent: a crash in between re-sends it with the same
    ``message_id``, which receivers de-duplicate on.
    """

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # notice, reminder, escalation, partner
    to: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # given up: bounced
    reason: Mapped[str | None] = mapped_column(Text)  # why it went, for --dry-run and show
    # For the text: when the previous notice went, to whom an escalation refers, the
    # partner hotline's name.
    context: Mapped[dict | None] = mapped_column(JSON)
    # The first trusted answer to it (see Report.first_response_at).
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_notices_pending", "sent_at", "next_attempt_at"),)


class NoticeReport(Base):
    """Which reports a notice covers."""

    __tablename__ = "notice_reports"

    notice_id: Mapped[int] = mapped_column(
        ForeignKey("notices.id", ondelete="CASCADE"), primary_key=True
    )
    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_notice_reports_report", "report_id"),)


class Mailbox(Base):
    """A recipient address that refused our mail for good (5xx): notices fall back past it."""

    __tablename__ = "mailboxes"

    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    bouncing_since: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class Secret(Base):
    """A key the store keeps for itself, made on first use: e.g. the HMAC key behind
    Message-IDs, bounce addresses and provider links, unless SECRET_KEY is set."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboundMessage(Base):
    """A message a provider or a mail server sent us: a bounce, an auto-reply, a reply.

    Kept: who sent it, its subject, what it is, the notice it answers and how that was
    known (``matched_by``: token, message_id, subject or none), and its plain text cut at
    INBOUND_TEXT_MAX. Never an attachment: only how many there were and their declared
    types. ``digest`` (SHA-256 of the message as received) makes a second delivery of the
    same message a no-op.
    """

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    via: Mapped[str] = mapped_column(String(8))  # pipe, lmtp or imap
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    from_address: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(Text)  # the message's own
    kind: Mapped[str] = mapped_column(String(16))  # bounce, delay, auto_reply, reply, unmatched
    matched_by: Mapped[str] = mapped_column(String(16))  # token, message_id, subject, none
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id", ondelete="SET NULL"))
    ticket: Mapped[str | None] = mapped_column(Text)  # the provider's own, from the subject
    text: Mapped[str | None] = mapped_column(Text)
    text_cut: Mapped[bool] = mapped_column(Boolean, default=False)
    attachments: Mapped[int | None] = mapped_column(Integer)  # None: not read (too large)
    attachment_types: Mapped[list[str] | None] = mapped_column(JSON)
    # What it did (or why it did nothing): "marked ... bouncing", "matched by subject only".
    outcome: Mapped[str | None] = mapped_column(Text)
    # Shown in the dashboard's inbox until someone reads it.
    needs_reading: Mapped[bool] = mapped_column(Boolean, default=False)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_inbound_notice", "notice_id"),
        Index("ix_inbound_received", "received_at"),
        Index("ix_inbound_inbox", "needs_reading", "read_at"),
    )


class ProviderLink(Base):
    """A notice's link to the provider page: only the SHA-256 of its token is kept."""

    __tablename__ = "provider_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    notice_id: Mapped[int] = mapped_column(
        ForeignKey("notices.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProviderAction(Base):
    """What a provider said about one report on the provider page: ``removed`` (a claim a
    check must confirm), ``not_our_customer`` or ``question`` (with ``text``)."""

    __tablename__ = "provider_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(24))
    text: Mapped[str | None] = mapped_column(Text)
    needs_reading: Mapped[bool] = mapped_column(Boolean, default=False)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_provider_actions_report", "report_id", "id"),
        Index("ix_provider_actions_notice", "notice_id", "at"),
    )


class Counter(Base):
    """A running total for /metrics (store.counters): what `ntd run`, `ntd check` and
    the mail ways in did, counted where every `ntd serve` can read it."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    labels: Mapped[str] = mapped_column(String(200), primary_key=True)  # JSON, keys sorted
    value: Mapped[float] = mapped_column(Float, default=0.0)


class Heartbeat(Base):
    """When the leading scheduler last said it leads (for /healthz and /metrics)."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


# What a member of the public saw, and an analyst's verdicts (store.submissions).
NOT_SURE = "not-sure"
PENDING, ASSESSED, DUPLICATE = "pending", "assessed", "duplicate"
ACTIONABLE = ("baseline", "national")  # illegal: becomes a report
NOT_ACTIONABLE = ("not-illegal", "not-found", "out-of-remit")
VERDICTS = ACTIONABLE + NOT_ACTIONABLE


class Submission(Base):
    """One URL from a public report. The URLs of one form share its ``reference``, the only
    name the reporter is told. The email, description and client digest are personal data,
    erased after REPORTER_RETENTION (``erased_at``)."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    url: Mapped[str | None] = mapped_column(Text)
    canonical_url: Mapped[str | None] = mapped_column(Text)
    url_key: Mapped[str | None] = mapped_column(String(64))
    seen: Mapped[str] = mapped_column(String(16))  # a category, or not-sure
    description: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    # HMAC of the client's address under the store's key: counts a sender's reports an
    # hour without keeping the address.
    client_digest: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    verdict: Mapped[str | None] = mapped_column(String(16))
    assessed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assessed_by: Mapped[str | None] = mapped_column(Text)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="SET NULL"))
    feedback_assessed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feedback_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_submissions_reference", "reference"),
        Index("ix_submissions_url_key", "url_key"),
        Index("ix_submissions_state", "state"),
        Index("ix_submissions_client", "client_digest", "received_at"),
        Index("ix_submissions_report", "report_id"),
    )


class Assessment(Base):
    """One analyst's verdict on a submission; ASSESSMENT_REVIEWS of them must agree."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    analyst: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(16))
    police: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_assessments_submission", "submission_id"),)
