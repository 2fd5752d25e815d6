"""A submission: one input line to be queued, with what came with it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake.categories import CATEGORIES
from intake.exceptions import RejectedInput

MAX_REF_LENGTH = 200
_CONTROL = re.compile("[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Submission:
    """One URL as given by staff, with its optional reference, fingerprints and category."""

    url: str
    ref: str | None = None
    sha256: tuple[str, ...] = ()
    category: str | None = None
    # Where it came from, for error messages: a CSV line number, an argument position.
    line: int | None = None


def check_ref(ref: str | None) -> str | None:
    if ref is None:
        return None
    ref = ref.strip()
    if not ref:
        return None
    if len(ref) > MAX_REF_LENGTH:
        raise RejectedInput(f"reference longer than {MAX_REF_LENGTH} characters")
    if _CONTROL.search(ref):
        raise RejectedInput("reference contains control characters")
    return ref


def encodable(text: str) -> bool:
    """False for text with lone surrogates ("\\ud800"), which JSON can carry and no
    database column can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_category(category: str | None) -> str | None:
    if category is None or not category.strip():
        return None
    category = category.strip()
    if category not in CATEGORIES:
        raise RejectedInput(f"category {category!r} is not one of {', '.join(CATEGORIES)}")
    return category


@dataclass(frozen=True)
class Entry:
    """A submission that passed validation, ready for the store."""

    url: str
    canonical_url: str
    url_key: str
    ref: str | None
    sha256: tuple[str, ...]
    category: str | None


def validate(submission: Submission) -> Entry:
    """Check every part of a submission; raise ``RejectedInput`` on the first bad one."""
    from intake.canonical import canonicalise, url_key
    from intake.fingerprints import sha256_list

    if "\x00" in submission.url:
        # The URL is kept as submitted too, and PostgreSQL text cannot hold NUL.
        raise RejectedInput("the URL contains a NUL character")
    canonical = canonicalise(submission.url)
    return Entry(
        url=submission.url.strip(),
        canonical_url=canonical,
        url_key=url_key(canonical),
        ref=check_ref(submission.ref),
        sha256=sha256_list(submission.sha256),
        category=check_category(submission.category),
    )
