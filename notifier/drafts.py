"""What a notice is built from: plain frozen values, with no store or network behind them.

The notifier's planner fills these from the store; ``notifier.message`` and ``notifier.xarf``
turn them into an email and X-ARF documents. Building is pure, so tests build drafts by hand.

Every field is keyword-only: the classes have many fields of the same type, and a call that
mixed up two positional strings would still build a plausible, wrong notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

KINDS = ("notice", "reminder", "escalation", "partner")


def _aware(name: str, value: datetime | None) -> None:
    # The store hands out aware UTC datetimes; a naive one here is a caller's bug, and
    # guessing its zone would put a wrong time in a legal notice.
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


@dataclass(frozen=True, kw_only=True)
class Hotline:
    """Who sends: the settings HOTLINE_NAME (``name``), MAIL_FROM (``mail_from``) and
    HOTLINE_COUNTRY (``country``), plus the hotline's own ``legal_basis`` text (shown in
    every notice), an optional ``reply_to`` address and ``website``."""

    name: str
    mail_from: str
    country: str | None
    legal_basis: str
    reply_to: str | None = None
    website: str | None = None

    def __post_init__(self) -> None:
        for field in ("name", "mail_from", "legal_basis"):
            if not getattr(self, field):
                raise ValueError(f"Hotline.{field} is required to build a notice")
        if "@" not in self.mail_from:
            raise ValueError(f"Hotline.mail_from {self.mail_from!r} is not an email address")

    @property
    def mail_domain(self) -> str:
        """The domain of MAIL_FROM, in ASCII (punycode for an IDN): used in Message-IDs,
        which must be ASCII, and as the X-ARF contact domain."""
        domain = self.mail_from.rpartition("@")[2].lower()
        try:
            return domain.encode("idna").decode("ascii")
        except UnicodeError:  # not a valid IDN: keep it as given rather than fail a notice
            return domain


@dataclass(frozen=True, kw_only=True)
class NoticeReport:
    """One reported URL as a notice shows it.

    ``url`` is the URL as submitted, ``canonical_url`` its WHATWG form (punycode host).
    ``host`` is the canonical URL's host name (an IP literal for IP hosts); ``ip``, ``asn``,
    ``org`` and ``country`` are the hosting look-up's. ``expected_sha256`` are the analyst's
    fingerprints; ``observed_sha256`` is the SHA-256 of the last ``online`` check's body, and
    must be None when that body was cut short at MAX_BODY_BYTES (a partial hash names no file).
    ``reappeared`` is true when the content was seen again after removal.
    """

    report_id: int
    url: str
    canonical_url: str
    category: str
    first_seen_online: datetime
    last_seen_online: datetime
    expected_sha256: tuple[str, ...] = ()
    observed_sha256: str | None = None
    ip: str | None = None
    host: str | None = None
    asn: int | None = None
    org: str | None = None
    country: str | None = None
    ref: str | None = None
    reappeared: bool = False

    def __post_init__(self) -> None:
        _aware("first_seen_online", self.first_seen_online)
        _aware("last_seen_online", self.last_seen_online)
        # A list given by a caller would make the frozen value unhashable and mutable.
        object.__setattr__(self, "expected_sha256", tuple(self.expected_sha256))


@dataclass(frozen=True, kw_only=True)
class Draft:
    """One email to build: ``kind`` (one of KINDS) to ``to``, covering ``reports``.

    ``message_id`` is the notice's own (``notifier.tokens``), ``envelope_from`` its bounce
    address (None: the From address), ``provider_link`` the provider page's address for it,
    valid until ``provider_link_expires`` (None without PUBLIC_URL).

    ``reason`` says why it goes (shown by ``ntd notify --dry-run``). ``previous_notice_at`` is,
    for a reminder, when the previous notice went; for an escalation, when the unresponsive
    ``original_recipient`` was first notified. ``cdn`` names the CDN hiding the origin, when
    the host is one. ``partner_name`` is the partner hotline's name for ``partner`` notices.
    """

    notice_id: int
    message_id: str
    kind: str
    to: str
    reports: tuple[NoticeReport, ...]
    created_at: datetime
    reason: str
    envelope_from: str | None = None
    provider_link: str | None = None
    provider_link_expires: datetime | None = None
    previous_notice_at: datetime | None = None
    original_recipient: str | None = None
    cdn: str | None = None
    partner_name: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        object.__setattr__(self, "reports", tuple(self.reports))
        if not self.reports:
            raise ValueError("a notice covers at least one report")
        _aware("created_at", self.created_at)
        _aware("previous_notice_at", self.previous_notice_at)
        _aware("provider_link_expires", self.provider_link_expires)
        if not (self.message_id.startswith("<") and self.message_id.endswith(">")):
            raise ValueError(f"message_id {self.message_id!r} is not <id@domain>")
