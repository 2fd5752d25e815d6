"""`ntd stats --csv`: the figures as one CSV row per group, safe to open in a spreadsheet.

Provider names come from RDAP and WHOIS, which anyone who registers a network can fill
in. A cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which
some spreadsheets skip before one of those) is read as a formula by Excel, LibreOffice and
Google Sheets: ``=HYPERLINK(...)`` in an org name would become a live link, worse in some
versions. Such cells get a leading single quote, the spreadsheets' own "this is text" mark
(OWASP's advice on CSV injection). Our own numbers are never negative, so no figure is hit.
"""

from __future__ import annotations

import csv
import io

from stats.figures import BREAKDOWNS, WITHIN

KEYS = ("asn", "org", "country", "month", "category")
FIGURES = (
    "total",
    "online",
    "removed",
    "unreachable",
    "notified",
    "min_group",
    "median_time_to_removal_s",
    "p90_time_to_removal_s",
    *(f"removed_within_{name}" for name in WITHIN),
    "median_time_to_removal_after_report_s",
    "p90_time_to_removal_after_report_s",
    "never_seen_online",
    "reappearances",
    "notices_bounced",
    "notices_answered",
    "median_time_to_first_response_s",
)
COLUMNS = ("group", *KEYS, *FIGURES)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: object) -> str:
    """The text of one cell, with a quote before anything a spreadsheet would evaluate."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _row(group: str, entry: dict) -> list[str]:
    flat = {**entry, **{f"removed_within_{k}": v for k, v in entry["removed_within"].items()}}
    # Null (no figure) is an empty cell: a 0 would read as "removed at once".
    return [neutralise(group), *(neutralise(flat.get(column)) for column in COLUMNS[1:])]


def to_csv(figures: dict) -> str:
    """The ``compute`` output as CSV: the overall row first, then each breakdown's rows."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerow(_row("overall", figures))
    for by, name in BREAKDOWNS.items():
        for entry in figures.get(name, []):
            writer.writerow(_row(by, entry))
    return out.getvalue()
