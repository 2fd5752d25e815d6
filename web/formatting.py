"""How values read on the pages: times, durations, shares, and reported URLs.

``shown`` is the one way a reported URL (or anything else from outside) becomes page
text. Autoescaping already makes it inert; this also makes invisible characters visible,
so that a right-to-left override or a zero-width space cannot make one address look like
another to the analyst reading it.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from stats.units import duration, share

# Controls, format characters (bidi overrides, zero-width joiners), line and paragraph
# separators, and unpaired surrogates from undecodable input.
_INVISIBLE = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def shown(text: object) -> str:
    if text is None:
        return ""
    return "".join(
        f"\\u{{{ord(c):04x}}}" if unicodedata.category(c) in _INVISIBLE else c for c in str(text)
    )


def when(moment: str | datetime | None) -> str:
    """``2025-06-01 12:00:05 UTC`` from an ISO 8601 UTC time or an aware datetime."""
    if moment is None:
        return "—"
    if isinstance(moment, datetime):
        moment = moment.isoformat(timespec="seconds")
    return moment.replace("T", " ").replace("+00:00", "").removesuffix("Z") + " UTC"


FILTERS = {"shown": shown, "when": when, "duration": duration, "share": share}
