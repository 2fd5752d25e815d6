"""Chart geometry (web.charts): the axis a reader can use, steps that only go down, bars
in order with the rest folded, and labels kept inside. The browser tests measure the
drawn result; these check the choices behind it."""

from __future__ import annotations

import re

import pytest

from stats.survival import kaplan_meier
from web import charts

HOUR, DAY = 3600.0, 86400.0


def fit(durations, removed=None):
    return kaplan_meier(durations, [True] * len(durations) if removed is None else removed)


def path_of(chart, css: str) -> str:
    [mark] = [m for m in chart.marks if dict(m.attrs).get("class", "").startswith(css)]
    return dict(mark.attrs)["d"]


def test_the_survival_curve_is_a_falling_staircase_inside_the_plot():
    curve = fit([2 * HOUR, 30 * HOUR, 80 * HOUR, 80 * HOUR], [True, True, False, False])
    chart = charts.survival({"from first notice": curve, "from report": fit([])})
    path = path_of(chart, "curve series0")
    ys = [float(y) for y in re.findall(r"V([\d.]+)", path)]
    assert ys == sorted(ys) and len(ys) == 2  # two drops; the censored tail adds none
    xs = [float(x) for x in re.findall(r"H([\d.]+)", path)]
    assert xs == sorted(xs) and xs[-1] <= charts.WIDTH - 16
    ticks = [m.text for m in chart.marks if dict(m.attrs).get("class") == "tick"]
    assert [t for t in ticks if t.endswith(" h")] == [f"{h} h" for h in range(0, 96, 12)]
    assert [t for t in ticks if t.endswith("%")] == ["0%", "25%", "50%", "75%", "100%"]


def test_the_window_is_thirty_days_unless_asked_or_shorter():
    long_tail = fit([HOUR * (n + 1) for n in range(95)] + [1260 * DAY] * 5)
    assert charts.window([long_tail], "30d") == 30 * DAY
    assert charts.window([long_tail], "all") == 1260 * DAY
    assert charts.window([long_tail], "p95") == 95 * HOUR  # where 95% of the removals fall
    assert charts.window([fit([HOUR, 5 * HOUR])], "30d") == 5 * HOUR  # nobody watched longer
    chart = charts.survival({"a": long_tail})
    assert "to 30.0 d" in chart.description


def test_a_log_axis_spreads_minutes_and_years_and_a_curve_runs_into_the_window_edge():
    curve = fit([20 * 60, HOUR, DAY, 400 * DAY], [True, True, True, False])
    chart = charts.survival({"a": curve}, span="all", log=True)
    ticks = [
        m.text
        for m in chart.marks
        if dict(m.attrs).get("class") == "tick" and not m.text.endswith("%")
    ]
    assert ticks[:4] == ["10 min", "1 h", "6 h", "1 d"] and "1 y" in ticks
    axis = charts.time_axis(400 * DAY, 0, 100, log=True)
    assert axis.x(HOUR) - axis.x(600) == pytest.approx(axis.x(6 * HOUR) - axis.x(HOUR), rel=0.2)
    cut = charts.survival({"a": curve}, span="30d")
    assert path_of(cut, "curve").endswith(f"H{charts.WIDTH - 16:.1f}")


def test_median_mark_band_and_reference_are_drawn_where_the_figures_say():
    curve = fit([h * HOUR for h in range(1, 101)])  # median 50 h
    chart = charts.survival({"a": curve}, references=(("INHOPE", 0.74, 3 * DAY),))
    [median] = [m for m in chart.marks if dict(m.attrs).get("class") == "median"]
    assert float(dict(median.attrs)["data-seconds"]) == 50 * HOUR
    texts = [m.text for m in chart.marks if m.tag == "text"]
    assert "median: 2.1 d" in texts and "INHOPE: 74% removed within 3 d" in texts
    assert any(t == "INHOPE: 74% within 3 d" for t in texts)  # beside its point, room permitting
    assert path_of(chart, "band").endswith("Z")
    assert charts.survival({"a": fit([])}) is None


def test_bars_slowest_first_unfinished_before_all_few_and_others_last():
    entries = [
        charts.Bar("AS1 fast", 2 * HOUR, 9 * DAY, 40, False),
        charts.Bar("AS2 slow", 4 * DAY, 9 * DAY, 30, False),
        charts.Bar("AS3 stuck", None, 12 * DAY, 20, False),
        charts.Bar("AS4 tiny", None, DAY, 2, True),
        charts.Bar("others (7 providers)", 3 * DAY, 20 * DAY, 15, False, others=True),
    ]
    order = [
        _rows(charts.bars("p", "t", entries)),
        _rows(charts.bars("p", "t", entries, fastest_first=True)),
    ]
    assert order[0] == ["AS3 stuck", "AS2 slow", "AS1 fast", "AS4 tiny", "others (7 providers)"]
    assert order[1] == ["AS1 fast", "AS2 slow", "AS3 stuck", "AS4 tiny", "others (7 providers)"]
    texts = [m.text for m in charts.bars("p", "t", entries).marks if m.tag == "text"]
    assert (
        "over 12.0 d: under half removed yet" in texts
        and "too few to estimate (2 notified)" in texts
    )


def test_bar_labels_and_values_fit_the_view_box_by_estimate():
    name = "A Very Long Provider Name Incorporated Worldwide Holdings Ltd"
    chart = charts.bars("p", "t", [charts.Bar(name, 400 * DAY, 400 * DAY, 9, False)])
    for mark in chart.marks:
        attrs = dict(mark.attrs)
        if mark.tag == "text":
            width = charts.width_of(mark.text)
            start = float(attrs["x"]) - (
                width
                if attrs["text-anchor"] == "end"
                else width / 2
                if attrs["text-anchor"] == "middle"
                else 0
            )
            assert start >= 0 and start + width <= chart.width, mark.text
    assert any(m.text.endswith("…") and m.title == name for m in chart.marks if m.tag == "text")


def test_the_trend_shows_a_dash_with_its_reason_for_a_month_without_a_figure():
    months = [
        charts.Month("2026-10", 2 * DAY, 0.6, 30, None, None),
        charts.Month(
            "2026-11", None, None, 2, "fewer than 5 notified reports: too few to estimate", "same"
        ),
        charts.Month("2026-12", None, 0.3, 20, "fewer than half removed yet", None),
    ]
    chart = charts.trend(months, references=(("INHOPE", 0.74, 3 * DAY),))
    dashes = [m for m in chart.marks if m.text == "—"]
    assert len(dashes) == 3 and dashes[-1].title == "2026-12: fewer than half removed yet"
    assert sum(1 for m in chart.marks if dict(m.attrs).get("class") == "reference") == 1
    assert charts.trend([charts.Month("2026-12", None, None, 1, "x", "x")]) is None


def _rows(chart) -> list[str]:
    return [m.title or m.text for m in chart.marks if dict(m.attrs).get("class") == "row"]
