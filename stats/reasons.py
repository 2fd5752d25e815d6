"""Why a figure is missing: every dash on a page or chart says which of these it is.

A figure is ``None`` for one of a few reasons, all of them readable off the group itself
(``notified`` and ``min_group`` are in every group): no notified report at all, too few
for an estimate, or an estimate that has not got there yet (fewer than half removed so
far, or nobody followed for that long). These are facts about the data, not errors.
"""

from __future__ import annotations

from typing import NamedTuple

from stats.figures import WITHIN


class Reason(NamedTuple):
    mark: str  # the footnote mark a table cell carries
    text: str


_HALF = {
    "median_time_to_removal_s": "fewer than half removed yet",
    "median_time_to_removal_after_report_s": "fewer than half removed yet",
    "p90_time_to_removal_s": "fewer than 90% removed yet",
    "p90_time_to_removal_after_report_s": "fewer than 90% removed yet",
    "median_time_to_first_response_s": "fewer than half of the notices answered yet",
}
_MARKS = {"none": "*", "few": "†", "half": "‡", "ninety": "§", "answered": "¶", "follow": "#"}


def value(group: dict, key: str):
    """``group[key]``, where ``removed_within.24h`` reads the nested share."""
    if key.startswith("removed_within."):
        return group["removed_within"][key.split(".", 1)[1]]
    return group[key]


def why(group: dict, key: str, *, overall: bool = False) -> Reason | None:
    """Why ``group``'s figure ``key`` is missing; None when it is there.

    ``overall``: the whole store's figures, which need one notified report, not
    ``min_group``.
    """
    if value(group, key) is not None:
        return None
    if key == "never_seen_online":
        return Reason(_MARKS["none"], "no reports yet")
    notified = group["notified"]
    if notified == 0:
        return Reason(_MARKS["none"], "no notified reports yet")
    least = 1 if overall else group["min_group"]
    if notified < least:
        return Reason(_MARKS["few"], f"fewer than {least} notified reports: too few to estimate")
    if key.startswith("removed_within."):
        seconds = WITHIN[key.split(".", 1)[1]]
        span = (
            f"{seconds // 86400} days"
            if seconds % 86400 == 0 and seconds > 3 * 86400
            else f"{seconds // 3600} hours"
        )
        return Reason(_MARKS["follow"], f"no report followed for {span} yet")
    text = _HALF[key]
    kind = "ninety" if "p90" in key else "answered" if "response" in key else "half"
    return Reason(_MARKS[kind], text)


def footnotes(groups: list[dict], keys: list[str]) -> list[Reason]:
    """The distinct reasons behind the dashes of a table's rows, in mark order."""
    found = {why(group, key) for group in groups for key in keys} - {None}
    order = list(_MARKS.values())
    return sorted(found, key=lambda reason: (order.index(reason.mark), reason.text))
