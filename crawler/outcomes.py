"""The outcome of a check, from what came back: the rules of PRODUCT.md, as pure functions.

A false removal, content still up but marked removed, is the worst error this product
can make. Every rule here leans the other way: what cannot be told apart is `error`,
which removes only after confirmation, or `online`.
"""

from __future__ import annotations

from dataclasses import dataclass

from store.lifecycle import (
    BLOCKED,
    CHANGED,
    DENIED,
    ERROR,
    GONE,
    NXDOMAIN,
    OUTCOME_ONLINE,
    REPLACED,
)

GONE_STATUSES = (404, 410, 451)
DENIED_STATUSES = (401, 403, 429)


@dataclass(frozen=True)
class Known:
    """What the store knows of a report that the rules compare against."""

    fingerprints: frozenset[str] = frozenset()
    first_sha256: str | None = None
    first_content_type: str | None = None


@dataclass(frozen=True)
class Probe:
    """The host's answer to a path that cannot exist, fetched once per host per pass."""

    status: int | None
    sha256: str | None


@dataclass(frozen=True)
class Body:
    """What a response was, without what it said."""

    status: int
    content_type: str | None
    sha256: str
    truncated: bool


def needs_probe(body: Body, known: Known) -> bool:
    """Whether telling live content from a soft-404 needs the host's probe answer."""
    return (
        200 <= body.status < 300
        and not known.fingerprints
        and not body.truncated
        and body.sha256 != known.first_sha256
    )


def outcome_of(body: Body, known: Known, probe: Probe | None = None) -> tuple[str, str | None]:
    """The outcome of a response, and a short reason where it is not plain."""
    status = body.status
    if status in GONE_STATUSES:
        return GONE, f"HTTP {status}"
    if status in DENIED_STATUSES:
        return DENIED, f"HTTP {status}: the host refuses us"
    if not 200 <= status < 300:
        return ERROR, f"HTTP {status}"
    if body.truncated:
        return OUTCOME_ONLINE, "body cut short at MAX_BODY_BYTES: not compared"
    if known.fingerprints:
        if body.sha256 in known.fingerprints:
            return OUTCOME_ONLINE, "fingerprint matches"
        return CHANGED, "no expected fingerprint matches"
    if body.sha256 == known.first_sha256:
        return OUTCOME_ONLINE, None
    if (
        probe is not None
        and probe.status
        and 200 <= probe.status < 300
        and probe.sha256 == body.sha256
    ):
        if known.first_sha256:
            return GONE, "soft-404: the same page as a path that cannot exist"
        return ERROR, "the host answers every path with this page: cannot tell"
    if _is_media(known.first_content_type) and _is_page(body.content_type):
        return REPLACED, f"first seen as {known.first_content_type}, now {body.content_type}"
    return OUTCOME_ONLINE, None


def _is_media(content_type: str | None) -> bool:
    return bool(content_type) and content_type.split("/")[0] in ("image", "video")


def _is_page(content_type: str | None) -> bool:
    return bool(content_type) and content_type.split(";")[0].strip() in (
        "text/html",
        "application/xhtml+xml",
    )


__all__ = [
    "BLOCKED",
    "DENIED",
    "ERROR",
    "GONE",
    "NXDOMAIN",
    "Body",
    "Known",
    "Probe",
    "needs_probe",
    "outcome_of",
]
