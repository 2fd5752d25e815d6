"""What an inbound message says about itself: a pure function of its bytes.

``parse()`` never fails on a message, however broken: Python's parser in its most lenient
mode (compat32) reads it, every header is decoded defensively (RFC 2047 words, raw 8-bit
bytes as UTF-8, anything else replaced), and defects are counted rather than raised.

Attachments are never kept: only their count and declared types. The text kept is the
first inline text/plain part (else the first inline text/html, with its tags dropped),
never a part of an enclosed message: a bounce encloses our own notice, and a reply may
enclose the very material we report.
"""

from __future__ import annotations

import codecs
import contextlib
import email
import email.header
import email.parser
import email.utils
import logging
import re
from dataclasses import dataclass, field, replace
from email.message import Message
from html.parser import HTMLParser

from inbound.bounces import Failures, failures

# Our own notices' Message-IDs have this shape (notifier.tokens); found anywhere in a
# message, in a header or quoted in a text, each is checked against what we sent.
OUR_MESSAGE_ID = re.compile(rb"<ntd-\d{1,18}\.[a-z2-7]{16}@[^<>\s]{1,255}>", re.IGNORECASE)
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,998}>")
_FOLD = re.compile(r"[ \t]*\r?\n[ \t]*")
_SUBJECT_TAG = re.compile(r"\[NTD-(\d{1,18})\]", re.IGNORECASE)
_BRACKETED = re.compile(r"\[([^\[\]]{2,80})\]")
_TICKET_WORDS = re.compile(r"ticket|case|incident|request|abuse|ref|#", re.IGNORECASE)
_TICKET_LOOSE = re.compile(
    r"\b(?:ticket|case|incident|request)\s*(?:#|no\.?|id:?|number)?\s*[:#]?\s*([A-Z0-9][A-Z0-9-]{2,40})",
    re.IGNORECASE,
)
_DAEMONS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon", "mail.daemon"}
_AUTO_PRECEDENCE = {"auto_reply", "bulk", "junk", "list"}
_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ _-]?(reply|response|answer)|auto:|out of (the )?office|"
    r"abwesenheitsnotiz|automatische antwort|r[ée]ponse automatique|absence|"
    r"risposta automatica|respuesta autom[áa]tica|automatisch antwoord|afwezig|"
    r"resposta autom[áa]tica|autosvar|automaattinen vastaus)",
    re.IGNORECASE,
)
_RECIPIENT_HEADERS = ("delivered-to", "x-original-to", "envelope-to", "x-envelope-to", "to", "cc")
# A mail system's own records in a report: read by the bounce detectors, never kept.
_RECORDS = ("message/delivery-status", "text/rfc822-headers", "message/disposition-notification")
_MOST_IDS = 64
_MOST_TYPES = 32

# flufl.bounce logs a traceback when one of its detectors fails on a broken message; a
# traceback may quote the message's bytes, and nothing of a message goes into our logs.
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL + 1)


@dataclass(frozen=True)
class Parsed:
    """One message, read. Text fields are clean Unicode (no NUL, no lone surrogate)."""

    from_address: str | None
    subject: str | None
    message_id: str | None
    in_reply_to: tuple[str, ...]  # In-Reply-To, then References
    our_ids: tuple[str, ...]  # our notices' Message-IDs found anywhere in it
    subject_notice: int | None  # the n of a [NTD-n] in the subject
    ticket: str | None
    header_recipients: tuple[str, ...]
    return_path: str | None  # "" for the null sender of bounces
    auto_reply: str | None  # why it is one (RFC 3834 header, subject), or None
    machine: str | None  # why it comes from a mail system (DSN, MAILER-DAEMON, <>), or None
    failures: Failures = field(default_factory=Failures)
    text: str | None = None
    text_cut: bool = False
    attachments: int | None = 0  # None: the body was not read
    attachment_types: tuple[str, ...] = ()
    body_read: bool = True  # False: too large, or too broken to read past the headers
    defects: int = 0


def parse(raw: bytes, *, text_max: int, headers_only: bool = False) -> Parsed:
    """Read ``raw``; with ``headers_only`` (a message over INBOUND_MAX_BYTES) only its
    header block, which ``raw`` must then begin with.

    A message built to break a parser (a thousand nested parts, a header of nested
    comments: Python's email package recurses on both) is read by its headers only, and
    failing that, as nothing but the Message-IDs of ours it quotes. ``body_read`` says
    which."""
    with contextlib.suppress(Exception):  # RecursionError included
        return _parse(raw, text_max, headers_only)
    if not headers_only:
        with contextlib.suppress(Exception):
            return replace(_parse(raw, text_max, True), body_read=False, defects=1)
    return Parsed(
        from_address=None,
        subject=None,
        message_id=None,
        in_reply_to=(),
        our_ids=_our_ids(raw),
        subject_notice=None,
        ticket=None,
        header_recipients=(),
        return_path=None,
        auto_reply=None,
        machine=None,
        attachments=None,
        body_read=False,
        defects=1,
    )


def _parse(raw: bytes, text_max: int, headers_only: bool) -> Parsed:
    if headers_only:
        message = email.parser.BytesHeaderParser().parsebytes(_header_block(raw))
    else:
        message = email.message_from_bytes(raw)
    header = _Headers(message)
    subject = header.text("subject")
    from_address = header.address("from")
    return_path = header.address("return-path", empty_ok=True)
    machine = _machine(message, from_address, return_path)
    body = _Body(text_max) if not headers_only else None
    if body is not None:
        body.read(message)
    # Read whatever it is: a bounce delivered to a notice's bounce address may come from
    # a mail system that marks itself in no way at all. Whether it counts is ingest's call.
    found = failures(message) if not headers_only else Failures()
    return Parsed(
        from_address=from_address,
        subject=subject,
        message_id=next(iter(header.ids("message-id")), None),
        in_reply_to=tuple(dict.fromkeys(header.ids("in-reply-to") + header.ids("references")))[
            :_MOST_IDS
        ],
        our_ids=_our_ids(raw),
        subject_notice=_subject_notice(subject),
        ticket=ticket_of(subject),
        header_recipients=tuple(
            dict.fromkeys(a for name in _RECIPIENT_HEADERS for a in header.addresses(name))
        ),
        return_path=return_path,
        auto_reply=_auto_reply(header, subject),
        machine=machine,
        failures=found,
        text=body.text if body else None,
        text_cut=body.cut if body else False,
        attachments=body.attachments if body else None,
        attachment_types=tuple(body.types[:_MOST_TYPES]) if body else (),
        body_read=not headers_only,
        defects=len(message.defects) + (body.defects if body else 0),
    )


def clean(text: str | None) -> str | None:
    """Text the databases can store: no NUL, no lone surrogate."""
    if text is None:
        return None
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def ticket_of(subject: str | None) -> str | None:
    """The provider's own ticket tag in a subject: ``[Ticket#123]``, ``Case 4711``…"""
    if not subject:
        return None
    for tag in _BRACKETED.findall(subject):
        tag = tag.strip()
        if _SUBJECT_TAG.fullmatch(f"[{tag}]") or not any(c.isdigit() for c in tag):
            continue
        if _TICKET_WORDS.search(tag) or re.fullmatch(r"[A-Z]{2,10}-\d{2,}", tag):
            return tag
    loose = _TICKET_LOOSE.search(_SUBJECT_TAG.sub("", subject))
    if loose and any(c.isdigit() for c in loose.group(1)):
        return loose.group(0).strip()
    return None


def _subject_notice(subject: str | None) -> int | None:
    match = _SUBJECT_TAG.search(subject or "")
    return int(match.group(1)) if match else None


def _our_ids(raw: bytes) -> tuple[str, ...]:
    found = (m.group(0).decode("ascii", "replace").lower() for m in OUR_MESSAGE_ID.finditer(raw))
    return tuple(dict.fromkeys(found))[:_MOST_IDS]


def _header_block(raw: bytes) -> bytes:
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = raw.find(separator)
        if end >= 0:
            return raw[: end + len(separator)]
    return raw


def _machine(message: Message, from_address: str | None, return_path: str | None) -> str | None:
    if message.get_content_type() == "multipart/report":
        return "a delivery report (multipart/report)"
    if return_path == "":
        return "the null sender <> of bounces"
    local = (from_address or "").partition("@")[0]
    if local in _DAEMONS:
        return f"sent by {from_address}"
    return None


def _auto_reply(header: _Headers, subject: str | None) -> str | None:
    submitted = (header.text("auto-submitted") or "").lower()
    if submitted and not submitted.startswith("no"):
        return f"Auto-Submitted: {submitted}"
    for name in ("x-autoreply", "x-autorespond", "x-autoresponse", "x-auto-response-suppress"):
        if header.text(name) is not None:
            return f"{name.title()} header"
    precedence = (header.text("precedence") or "").strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    if subject and _AUTO_SUBJECT.match(subject):
        return "its subject says it is automatic"
    return None


class _Headers:
    """Header values decoded whatever they hold; a header that cannot be read is None."""

    def __init__(self, message: Message) -> None:
        self.message = message

    def _raw(self, name: str) -> list[str]:
        # The values as parsed, raw 8-bit bytes kept as surrogates: get_all() would turn a
        # value holding such bytes into a Header whose str() has already replaced them.
        wanted = name.lower()
        try:
            return [str(v) for k, v in self.message.raw_items() if k.lower() == wanted]
        except Exception:  # a header the parser could not even split
            return []

    def text(self, name: str) -> str | None:
        values = self._raw(name)
        if not values:
            return None
        # Unfolded (RFC 5322 2.2.3): a long subject comes in several lines.
        return _FOLD.sub(" ", _decode(values[0]) or "").strip()

    def ids(self, name: str) -> list[str]:
        return [m.lower() for v in self._raw(name) for m in _MESSAGE_ID.findall(_decode(v))]

    def address(self, name: str, *, empty_ok: bool = False) -> str | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            address = email.utils.parseaddr(value)[1].strip().lower()
        except Exception:  # RecursionError on nested comments
            return None
        if not address:
            return "" if empty_ok and value.strip() in ("<>", "") else None
        return clean(address)

    def addresses(self, name: str) -> list[str]:
        values = [_decode(v) for v in self._raw(name)]
        try:
            pairs = email.utils.getaddresses(values)
        except Exception:  # RecursionError on nested comments
            return []
        return [clean(a.lower()) for _, a in pairs if "@" in a]


def _decode(value: str) -> str:
    """A header value as text: RFC 2047 words decoded, raw 8-bit bytes read as UTF-8."""
    try:
        # compat32 keeps raw 8-bit bytes as surrogates; give them back as bytes first.
        raw = value.encode("ascii", "surrogateescape")
        if any(b > 127 for b in raw):
            return clean(raw.decode("utf-8", "replace"))
        parts = email.header.decode_header(value)
        return clean(
            "".join(
                part.decode(_charset(charset), "replace") if isinstance(part, bytes) else part
                for part, charset in parts
            )
        )
    except Exception:  # an encoded word no decoder takes: keep what can be kept
        return clean(value.encode("utf-8", "replace").decode("utf-8", "replace"))


def _charset(name: str | None) -> str:
    try:
        return codecs.lookup(name or "utf-8").name
    except Exception:  # unknown, or not even a name (a NUL in it)
        return "utf-8"


class _Body:
    """Walks the parts once: the text to keep, and what the attachments were."""

    def __init__(self, text_max: int) -> None:
        self.text_max = text_max
        self.plain: str | None = None
        self.html: str | None = None
        self.attachments = 0
        self.types: list[str] = []
        self.defects = 0

    @property
    def text(self) -> str | None:
        text = self.plain if self.plain is not None else self.html
        return None if text is None else text[: self.text_max]

    @property
    def cut(self) -> bool:
        text = self.plain if self.plain is not None else self.html
        return text is not None and len(text) > self.text_max

    def read(self, part: Message, depth: int = 0) -> None:
        self.defects += len(getattr(part, "defects", ()))
        kind = part.get_content_type()
        if kind in _RECORDS:
            return
        if kind.startswith("message/") or self._is_attachment(part, kind):
            self.attachments += 1
            self.types.append(clean(kind))
            return
        if part.is_multipart():
            if depth > 20:  # a bomb of nested parts: what lies below is not read
                self.defects += 1
                return
            payload = part.get_payload()
            for sub in payload if isinstance(payload, list) else ():
                if isinstance(sub, Message):
                    self.read(sub, depth + 1)
            return
        if kind == "text/plain" and self.plain is None:
            self.plain = _decoded_text(part)
        elif kind == "text/html" and self.html is None:
            self.html = _html_text(_decoded_text(part))
        elif kind not in ("text/plain", "text/html"):
            self.attachments += 1
            self.types.append(clean(kind))

    @staticmethod
    def _is_attachment(part: Message, kind: str) -> bool:
        try:
            disposition = part.get_content_disposition()
            named = part.get_filename() is not None
        except Exception:
            return True  # unreadable: treated as what it most likely is, and not read
        if disposition == "attachment" or (named and kind.startswith("text/")):
            return True
        return not kind.startswith(("text/", "multipart/"))


def _decoded_text(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True) or b""
    except Exception:
        payload = b""
    if not isinstance(payload, bytes):
        payload = str(payload).encode("utf-8", "replace")
    return clean(payload.decode(_charset(part.get_content_charset()), "replace"))


def _html_text(html: str) -> str:
    reader = _TextOfHtml()
    try:
        reader.feed(html)
        reader.close()
    except Exception:
        return ""
    return re.sub(r"\n{3,}", "\n\n", "".join(reader.chunks)).strip()


class _TextOfHtml(HTMLParser):
    """The words of an HTML part, without its tags, scripts or styles (never rendered)."""

    _SKIP = {"script", "style", "head", "title"}
    _BREAK = {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAK:
            self.chunks.append("\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data):
        if not self._skipping:
            self.chunks.append(data)
