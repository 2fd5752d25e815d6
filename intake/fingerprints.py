"""Expected fingerprints: the SHA-256 of the content the analyst assessed."""

from __future__ import annotations

import re

from intake.exceptions import RejectedInput

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_SEPARATORS = re.compile(r"[\s,;|]+")


def sha256_list(values: list[str] | tuple[str, ...] | str | None) -> tuple[str, ...]:
    """Lower-cased, de-duplicated SHA-256 values; a text may hold several, separated."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    result: list[str] = []
    for value in values:
        for item in _SEPARATORS.split(value.strip()):
            if not item:
                continue
            if not _SHA256.match(item):
                raise RejectedInput(f"{_clip(item)!r} is not a SHA-256 (64 hexadecimal digits)")
            if item.lower() not in result:
                result.append(item.lower())
    return tuple(result)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
