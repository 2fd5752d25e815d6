"""Reading bounces: RFC 3464 delivery reports and the common non-standard ones.

flufl.bounce (GNU Mailman's detectors, maintained) does the reading: it finds the
recipients a bounce reports as failing for good, and those only delayed. We add the
mail system's own words for the failure (``Status`` and ``Diagnostic-Code`` of an RFC 3464
report), kept short, so that staff see why a mailbox bounced.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from flufl.bounce import all_failures

_MOST_ADDRESSES = 20
_MOST_DIAGNOSTIC = 300


@dataclass(frozen=True)
class Failures:
    """What a bounce reports: ``permanent`` and ``temporary`` failing recipients."""

    permanent: tuple[str, ...] = ()
    temporary: tuple[str, ...] = ()
    diagnostic: str | None = None
    unreadable: str | None = None  # why the detectors could not read it, if they failed


def failures(message: Message) -> Failures:
    try:
        temporary, permanent = all_failures(message)
    except Exception as error:  # a detector tripped over a broken message
        return Failures(unreadable=f"the bounce detectors failed ({type(error).__name__})")
    return Failures(
        permanent=_addresses(permanent),
        temporary=_addresses(temporary - permanent),
        diagnostic=_diagnostic(message) if permanent or temporary else None,
    )


def _addresses(found: frozenset[bytes]) -> tuple[str, ...]:
    return tuple(sorted(a.decode("ascii", "replace").lower() for a in found))[:_MOST_ADDRESSES]


def _diagnostic(message: Message) -> str | None:
    """ "5.1.1 (550 5.1.1 <x@y>: Recipient address rejected)" from the first failing block."""
    try:
        for part in message.walk():
            if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
                continue
            for block in part.get_payload():
                action = str(block.get("action", "")).lower()
                if not action.startswith(("fail", "delayed", "error")):
                    continue
                status = str(block.get("status", "")).strip()
                code = " ".join(str(block.get("diagnostic-code", "")).split())
                code = code.split(";", 1)[1].strip() if ";" in code else code
                words = " ".join(w for w in (status, f"({code})" if code else "") if w)
                return words[:_MOST_DIAGNOSTIC] or None
    except Exception:
        return None
    return None
