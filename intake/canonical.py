"""The canonical form of a reported URL: WHATWG's ``href`` without the fragment.

ada-url does the parsing; it passes the WHATWG test suite. On top of it we refuse what a
hotline cannot track: schemes other than http(s), inputs over 8 KB, and host labels in
punycode that do not decode to a valid label (ada leaves those to the caller, while the
URL Standard's domain-to-ASCII step fails them).
"""

from __future__ import annotations

import hashlib

import ada_url
import idna

from intake.exceptions import RejectedInput

MAX_URL_BYTES = 8 * 1024
# What the URL Standard strips from both ends of an input: C0 controls and space.
_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))


def canonicalise(raw: str) -> str:
    """Return the canonical form of ``raw``, or raise ``RejectedInput`` saying why."""
    if not isinstance(raw, str):
        raise RejectedInput("not text")
    stripped = raw.strip(_C0_AND_SPACE)
    if not stripped:
        raise RejectedInput("empty")
    if len(stripped.encode("utf-8", "surrogatepass")) > MAX_URL_BYTES:
        raise RejectedInput(f"longer than {MAX_URL_BYTES // 1024} KB")
    try:
        url = ada_url.URL(stripped)
    except ValueError:
        raise RejectedInput("not a valid URL") from None
    if url.protocol not in ("http:", "https:"):
        raise RejectedInput(f"scheme {url.protocol[:-1]!r} is not http or https")
    _check_punycode(url.hostname)
    canonical = url.href.partition("#")[0]
    if len(canonical.encode()) > MAX_URL_BYTES:
        raise RejectedInput(f"longer than {MAX_URL_BYTES // 1024} KB once canonical")
    return canonical


def url_key(canonical: str) -> str:
    """The store's unique key of a canonical URL."""
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_punycode(hostname: str) -> None:
    for label in hostname.split("."):
        if not label.startswith("xn--"):
            continue
        try:
            decoded = label[4:].encode("ascii").decode("punycode")
        except UnicodeError:
            decoded = ""
        # A valid A-label decodes to a non-ASCII label that UTS #46 maps to itself.
        if (
            not decoded
            or decoded.isascii()
            or idna.uts46_remap(decoded, std3_rules=False, transitional=False) != decoded
        ):
            raise RejectedInput(f"host label {label!r} is not valid punycode")
