"""A public report's fields, checked one by one: what a member of the public may send.

Every field is checked, and every bad one named, before anything is stored: a form with
one bad field is refused whole, with a message per field, so nothing is half-stored and
the reporter can fix everything at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake.categories import CATEGORIES
from intake.exceptions import RejectedInput
from intake.submissions import Entry, Submission, encodable, validate
from settings.parse import EMAIL
from store.models import NOT_SURE

MAX_URLS = 20
MAX_TEXT = 2000
MAX_EMAIL = 254
SEEN = (*CATEGORIES, NOT_SURE)
# What each choice means, in words for the public (the X-ARF classification, and ICCAM's
# A/B: prepubescent or pubescent; 1: sexual activity, 2: posed or sexualised).
SEEN_LABELS = {
    "baseline": "A child being sexually abused (illegal in every country)",
    "A1": "A young child (before puberty) in sexual activity",
    "A2": "A young child (before puberty) posed or sexualised",
    "B1": "An older child (puberty) in sexual activity",
    "B2": "An older child (puberty) posed or sexualised",
    NOT_SURE: "Not sure",
}
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class FieldErrors(ValueError):
    """Each bad field, by name, with what was wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {why}" for name, why in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class PublicReport:
    entries: tuple[Entry, ...]  # distinct URLs, in the order given
    seen: str
    text: str | None
    email: str | None


def check(urls: object, seen: object, text: object, email: object) -> PublicReport:
    """The fields as a form or JSON gives them (``urls``: lines of text, or a list)."""
    errors: dict[str, str] = {}
    entries = _urls(urls, errors)
    if not isinstance(seen, str) or not seen.strip():
        errors["seen"] = "choose what you saw, or 'not sure'"
    elif seen.strip() not in SEEN:
        errors["seen"] = f"{seen.strip()[:40]!r} is not one of {', '.join(SEEN)}"
    words = _text(text, errors)
    address = _email(email, errors)
    if errors:
        raise FieldErrors(errors)
    return PublicReport(tuple(entries), seen.strip(), words, address)


def _urls(urls: object, errors: dict[str, str]) -> list[Entry]:
    if isinstance(urls, str):
        lines = urls.splitlines()
    elif isinstance(urls, list) and all(isinstance(u, str) for u in urls):
        lines = urls
    else:
        errors["urls"] = "give the addresses as text, one per line (or a list of strings)"
        return []
    lines = [line.strip() for line in lines]
    given = [(number, line) for number, line in enumerate(lines, start=1) if line]
    if not given:
        errors["urls"] = "give the address (URL) of what you saw"
        return []
    if len(given) > MAX_URLS:
        errors["urls"] = f"at most {MAX_URLS} addresses in one report ({len(given)} given)"
        return []
    entries, problems, keys = [], [], set()
    for number, line in given:
        try:
            entry = validate(Submission(line))
        except RejectedInput as error:
            problems.append(f"line {number}: {error}")
            continue
        if entry.url_key not in keys:
            keys.add(entry.url_key)
            entries.append(entry)
    if problems:
        errors["urls"] = "; ".join(problems)
    return entries


def _text(text: object, errors: dict[str, str]) -> str | None:
    if text is None:
        return None
    if not isinstance(text, str):
        errors["text"] = "must be text"
        return None
    text = text.replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT:
        errors["text"] = f"at most {MAX_TEXT} characters ({len(text)} given)"
    elif _CONTROL.search(text):
        errors["text"] = "contains control characters"
    elif not encodable(text):
        errors["text"] = "is not valid Unicode text"
    return text or None


def _email(email: object, errors: dict[str, str]) -> str | None:
    if email is None:
        return None
    if not isinstance(email, str):
        errors["email"] = "must be text"
        return None
    email = email.strip()
    if not email:
        return None
    if (
        len(email) > MAX_EMAIL
        or not email.isascii()
        or not EMAIL.match(email)
        or _CONTROL.search(email)
    ):
        errors["email"] = "is not an email address (leave it empty to stay anonymous)"
        return None
    return email
