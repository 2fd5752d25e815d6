"""The `ntd stats` figures: overall, and by provider, hosting country, month and category.

Input is either records (``Record`` or plain tuples in its field order) or ``Columns``,
one array per field, which is what a columnar query hands over and what makes a million
reports take a fraction of a second: every step below is a whole-array numpy operation,
plus one small Kaplan–Meier fit per group.

Who counts:
- ``total`` and the state counts cover every report except ``rejected`` and ``closed``;
  so do ``never_seen_online`` (a fraction of ``total``) and ``reappearances`` (a sum).
- Time to removal covers the ``notified`` ones among them: a first notice is the clock's
  start. A report is removed (the event) when its state is ``removed`` with a
  ``removed_at``; any other is censored at ``now``, including one back online after a
  reappearance. A closed report is left out even if notified: staff withdrew it, so it will
  never be seen removed, and the records carry no closing time to censor it at.
- Durations are float seconds, floored at 0 (clock skew must not yield negative times).
  ``..._after_report_s`` uses the same reports but measures from ``created_at``.
- Groups are built over the counted reports; ``by_month`` is the UTC ``YYYY-MM`` of the
  first notice, so it covers only notified reports. A group with fewer than ``min_group``
  notified reports has null time-to-removal figures (its counts stay: they are facts, not
  estimates). ``notified`` and ``min_group`` are in every group so a reader can see why.
- Time to first response runs from the first notice to the provider's first trusted answer
  (a reply matched by token or Message-ID, or an answer on the provider page), the
  unanswered censored at ``now``, with the same ``min_group`` rule. ``notices_bounced``
  and ``notices_answered`` count notices, each once, in the group of the lowest-numbered
  report it covers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from stats.columns import STATES, Columns
from stats.survival import Survival, kaplan_meier

WITHIN = {"24h": 24 * 3600, "72h": 72 * 3600, "7d": 7 * 24 * 3600}
_ONLINE, _UNREACHABLE, _REMOVED = (STATES.index(s) for s in ("online", "unreachable", "removed"))
_REJECTED, _CLOSED = STATES.index("rejected"), STATES.index("closed")
_COUNTS = (
    "online",
    "removed",
    "unreachable",
    "notified",
    "never_seen_online",
    "reappearances",
    "notices_bounced",
    "notices_answered",
)
_NO_FITS = {"notice": None, "report": None, "response": None}
BREAKDOWNS = {
    "provider": "by_provider",
    "country": "by_country",
    "month": "by_month",
    "category": "by_category",
}


class _Sample(NamedTuple):
    """The counted reports, with each one's follow-up worked out once."""

    columns: Columns  # restricted to the counted reports
    notified: np.ndarray  # bool
    removed: np.ndarray  # bool: the event of time to removal
    # origin -> follow-up seconds: "notice" and "report" to removal, "response" from the
    # first notice to the provider's first answer
    since: dict[str, np.ndarray]
    events: dict[str, np.ndarray]  # origin -> bool: the event happened (else censored)
    # origin -> (notified reports' rows, their follow-up, event flags), by follow-up
    ordered: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    now: float  # what the still-online are censored at


def prepare(data: Columns | list, now: float) -> _Sample:
    """The sample ``compute``, ``fit`` and ``ranking`` all start from, worked out once:
    pass it to each of them instead of the columns when a page needs several."""
    return _sample(data, now)


def _sample(data: Columns | list | _Sample, now: float) -> _Sample:
    if isinstance(data, _Sample):
        if data.now != now:
            raise ValueError(f"the sample was prepared for {data.now}, not {now}")
        return data
    columns = data if isinstance(data, Columns) else Columns.from_records(data)
    counted = (columns.state != _REJECTED) & (columns.state != _CLOSED)
    columns = columns.take(np.flatnonzero(counted))
    notified = ~np.isnan(columns.first_notice_at)
    removed = (columns.state == _REMOVED) & ~np.isnan(columns.removed_at)
    end = np.where(removed, columns.removed_at, now)
    responded = ~np.isnan(columns.first_response_at)
    answered = np.where(responded, columns.first_response_at, now)
    since, events, ordered = {}, {}, {}
    for origin, start, stop, event in (
        ("notice", columns.first_notice_at, end, removed),
        ("report", columns.created_at, end, removed),
        ("response", columns.first_notice_at, answered, responded),
    ):
        since[origin], events[origin] = np.maximum(stop - start, 0.0), event
        # The one float sort per origin; every group's fit reuses this order. It need not be
        # stable (ties are fitted together), so numpy may use its faster SIMD sort.
        rows = np.flatnonzero(notified)
        rows = rows[np.argsort(since[origin][rows])]
        ordered[origin] = (rows, since[origin][rows], event[rows])
    return _Sample(columns, notified, removed, since, events, ordered, now)


def _groups(sample: _Sample, by: str | None) -> tuple[np.ndarray, list]:
    """Each report's group code (-1: in no group) and the group labels."""
    columns = sample.columns
    if by is None:  # overall: everyone in one group
        return np.zeros(len(sample.notified), dtype=np.int64), [None]
    if by == "provider":
        (asn, asns), (org, orgs) = columns.asn, columns.org
        width = max(len(orgs), 1)
        pair = asn * width + org
        if len(asns) * width <= 4 * len(pair) + 4096:  # the usual case: a dense table, no sort
            present = np.bincount(pair, minlength=len(asns) * width) > 0
            pairs, codes = np.flatnonzero(present), (np.cumsum(present) - 1)[pair]
        else:
            pairs, codes = np.unique(pair, return_inverse=True)
        return codes, [(asns[p // width], orgs[p % width]) for p in pairs.tolist()]
    if by == "month":
        seconds = np.floor(np.where(sample.notified, columns.first_notice_at, 0.0))
        months = seconds.astype("int64").astype("datetime64[s]").astype("datetime64[M]")
        months = months.astype(np.int64)  # months since 1970-01; empty ones get no entry
        first = int(months[sample.notified].min(initial=0))
        labels = np.arange(first, months.max(initial=first) + 1).astype("datetime64[M]")
        return np.where(sample.notified, months - first, -1), [str(m) for m in labels]
    return getattr(columns, by)


def _fits(sample: _Sample, codes: np.ndarray, size: int, min_group: int) -> list[dict]:
    """Per group and origin, the Kaplan–Meier fit, or None below ``min_group`` notified."""
    fits = [{} for _ in range(size)]
    small = np.int16 if size < 2**15 else np.int32  # numpy radix-sorts 16-bit keys
    for origin, (rows, since, removed) in sample.ordered.items():
        group_of = codes[rows]
        if size > 1 or group_of.min(initial=0) < 0:
            # A stable sort by group keeps each group's reports in follow-up order, so every
            # group is one contiguous, already sorted slice. Out-of-group (-1) sorts first.
            order = np.argsort(group_of.astype(small), kind="stable")
            group_of, since, removed = group_of[order], since[order], removed[order]
        bounds = np.searchsorted(group_of, np.arange(size + 1))
        for code in range(size):
            start, stop = bounds[code], bounds[code + 1]
            fits[code][origin] = (
                kaplan_meier(since[start:stop], removed[start:stop], presorted=True)
                if stop - start >= min_group
                else None
            )
    return fits


def _table(sample: _Sample, by: str | None, min_group: int) -> list[tuple[object, dict]]:
    """``(label, figures)`` for every non-empty group of a breakdown (or overall)."""
    codes, labels = _groups(sample, by)
    size, columns = len(labels), sample.columns

    spare = codes % (size + 1)  # out-of-group reports (-1) land in a last bin, dropped

    def per_group(where: np.ndarray | None = None, weights: np.ndarray | None = None) -> list:
        sums = np.bincount(spare if where is None else spare[where], weights, size + 1)[:size]
        return sums.astype(np.int64).tolist()

    # One pass over (group, state) pairs counts every state of every group at once.
    by_state = np.bincount(spare * len(STATES) + columns.state, minlength=(size + 1) * len(STATES))
    by_state = by_state.reshape(size + 1, len(STATES))
    total = by_state[:size].sum(axis=1).tolist()
    counts = {
        "online": by_state[:size, _ONLINE].tolist(),
        "removed": by_state[:size, _REMOVED].tolist(),
        "unreachable": by_state[:size, _UNREACHABLE].tolist(),
        "notified": per_group(sample.notified),
        "never_seen_online": per_group(~columns.seen_online),
        "reappearances": per_group(weights=columns.reappearances),
        "notices_bounced": per_group(weights=columns.notices_bounced),
        "notices_answered": per_group(weights=columns.notices_answered),
    }
    fits = _fits(sample, codes, size, min_group)
    return [
        (label, _figures(total[code], {k: v[code] for k, v in counts.items()}, fits[code]))
        for code, label in enumerate(labels)
        if total[code]
    ]


def _figures(total: int, counts: dict[str, int], fits: dict[str, Survival | None]) -> dict:
    """The figure set of one group, in the `ntd stats --json` order."""

    def quantile(origin: str, level: float) -> float | None:
        return None if fits[origin] is None else fits[origin].quantile(level)

    def within(seconds: int) -> float | None:
        s = None if fits["notice"] is None else fits["notice"].at(seconds)
        return None if s is None else 1.0 - s

    return {
        "total": total,
        "online": counts["online"],
        "removed": counts["removed"],
        "unreachable": counts["unreachable"],
        "notified": counts["notified"],
        "median_time_to_removal_s": quantile("notice", 0.5),
        "p90_time_to_removal_s": quantile("notice", 0.1),
        "removed_within": {name: within(seconds) for name, seconds in WITHIN.items()},
        "median_time_to_removal_after_report_s": quantile("report", 0.5),
        "p90_time_to_removal_after_report_s": quantile("report", 0.1),
        "never_seen_online": counts["never_seen_online"] / total if total else None,
        "reappearances": counts["reappearances"],
        "notices_bounced": counts["notices_bounced"],
        "notices_answered": counts["notices_answered"],
        "median_time_to_first_response_s": quantile("response", 0.5),
    }


def _sort_key(by: str, keys: tuple[str, ...]):
    """Months in order; otherwise biggest groups first, then by label, unknown (None) last."""
    if by == "month":
        return lambda entry: entry["month"]
    return lambda entry: (
        -entry["total"],
        *((True, 0) if entry[k] is None else (False, entry[k]) for k in keys),
    )


def compute(data: Columns | list | _Sample, now: float, min_group: int) -> dict:
    """The `ntd stats --json` figures for ``data`` as measured at ``now`` (epoch seconds).

    ``min_group`` applies to the breakdowns only; overall figures need one notified report.
    """
    sample = _sample(data, now)
    overall = _table(sample, None, 1)
    figures = overall[0][1] if overall else _figures(0, dict.fromkeys(_COUNTS, 0), _NO_FITS)
    figures["min_group"] = min_group
    for by, name in BREAKDOWNS.items():
        keys = ("asn", "org") if by == "provider" else (by,)
        entries = [
            {
                **dict(zip(keys, label if by == "provider" else (label,), strict=True)),
                **group,
                "min_group": min_group,
            }
            for label, group in _table(sample, by, min_group)
        ]
        figures[name] = sorted(entries, key=_sort_key(by, keys))
    return figures


def fit(
    data: Columns | list | _Sample,
    now: float,
    *,
    origin: str = "notice",
    group: tuple[str, object] | None = None,
) -> Survival:
    """The Kaplan–Meier fit of the notified reports, overall or of one group.

    ``group`` is e.g. ``("country", "NL")``, ``("month", "2024-05")`` or
    ``("provider", (64500, "Example Hosting"))``; an unknown one gives an empty fit.
    """
    sample = _sample(data, now)
    chosen = sample.notified.copy()
    if group is not None:
        codes, labels = _groups(sample, group[0])
        chosen &= codes == (labels.index(group[1]) if group[1] in labels else -2)
    return kaplan_meier(sample.since[origin][chosen], sample.events[origin][chosen])


def curve(
    data: Columns | list | _Sample,
    now: float,
    *,
    origin: str = "notice",
    group: tuple[str, object] | None = None,
    min_group: int = 1,
) -> list[tuple[float, float]]:
    """Kaplan–Meier step points ``(t_seconds, S)`` for a chart, overall or for one group.

    Too small a group (fewer than ``min_group`` notified) gives ``[]``.
    """
    survival = fit(data, now, origin=origin, group=group)
    return survival.points() if survival.count >= min_group else []


class Ranked(NamedTuple):
    """One bar of a ranking: a group, or ``others`` (label None) folding the rest."""

    label: object  # the breakdown's label; None for the folded rest
    notified: int
    groups: int  # groups in this bar: 1, or how many ``others`` folds
    median: float | None  # time to removal from the first notice
    followed: float  # the longest follow-up in the bar: the median exceeds it when None
    few: bool  # fewer than min_group notified: no estimate at all


def ranking(
    data: Columns | list | _Sample, now: float, by: str, *, most: int, min_group: int
) -> list[Ranked]:
    """The ``most`` groups of a breakdown with the most notified reports, then the rest.

    Groups too small for an estimate are always folded: their reports are pooled with the
    rest into one ``others`` fit, so a long tail of small providers still shows, as one.
    """
    sample = _sample(data, now)
    codes, labels = _groups(sample, by)
    rows, since, removed = sample.ordered["notice"]  # in follow-up order
    group_of = codes[rows]
    notified = np.bincount(group_of[group_of >= 0], minlength=len(labels))
    big = [code for code in np.argsort(-notified, kind="stable") if notified[code] >= min_group]
    kept = big[:most]
    out = np.ones(len(group_of), dtype=bool)

    def ranked(label, chosen: np.ndarray, groups: int) -> Ranked:
        n = int(np.count_nonzero(chosen))
        survival = kaplan_meier(since[chosen], removed[chosen], presorted=True)
        median = survival.quantile(0.5) if n >= min_group else None
        followed = float(since[chosen].max(initial=0.0))
        return Ranked(label, n, groups, median, followed, n < min_group)

    entries = []
    for code in kept:
        chosen = group_of == code
        out &= ~chosen
        entries.append(ranked(labels[code], chosen, 1))
    rest = int(np.count_nonzero(notified[[c for c in range(len(labels)) if c not in kept]] > 0))
    if rest:
        entries.append(ranked(None, out & (group_of >= 0), rest))
    return entries
