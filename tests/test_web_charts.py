"""Chart geometry (web.charts): steps that only go down, ticks that cover the data."""

from __future__ import annotations

import re

from web import charts

HOUR, DAY = 3600.0, 86400.0


def test_the_survival_curve_is_a_falling_staircase_inside_the_plot():
    points = [(0.0, 1.0), (2 * HOUR, 0.75), (30 * HOUR, 0.5), (80 * HOUR, 0.5)]
    chart = charts.survival({"from first notice": points, "from report": []})
    [series] = chart.series
    assert series["path"].startswith(f"M{chart.left:.1f},{chart.top:.1f}")
    ys = [float(y) for y in re.findall(r"V([\d.]+)", series["path"])]
    assert ys == sorted(ys) and len(ys) == 2  # two drops; the flat tail adds none
    xs = [float(x) for x in re.findall(r"H([\d.]+)", series["path"])]
    assert xs == sorted(xs) and chart.left < xs[-1] <= chart.right
    labels = [label for _x, label in chart.x_ticks]
    assert labels == [f"{h} h" for h in range(0, 96, 12)]  # 80 hours: a tick every 12
    assert charts.survival({"a": [(0.0, 1.0), (20 * DAY, 0.4)]}).x_ticks[1][1] == "3 d"
    assert [label for _y, label in chart.y_ticks] == ["0%", "25%", "50%", "75%", "100%"]


def test_no_data_no_chart():
    assert charts.survival({"a": [], "b": []}) is None
    assert charts.bars([("AS1 x", None)]) is None
    assert charts.columns([("2025-01", None)]) is None


def test_bars_scale_to_the_longest_and_skip_groups_without_a_figure():
    chart = charts.bars([("AS1 a", 2 * HOUR), ("AS2 b", None), ("AS3 c", 4 * HOUR)])
    assert [bar["label"] for bar in chart.bars] == ["AS1 a", "AS3 c"]
    assert chart.bars[1]["w"] == 2 * chart.bars[0]["w"]
    assert chart.bars[1]["value"] == "4.0 h"


def test_month_columns_label_at_most_a_dozen_months():
    months = [(f"20{20 + n // 12}-{n % 12 + 1:02d}", float(n + 1) * DAY) for n in range(36)]
    chart = charts.columns(months)
    assert len(chart.bars) == 36 and len(chart.x_ticks) == 12
    assert all(
        bar["y"] >= chart.top and bar["y"] + bar["h"] <= chart.bottom + 1e-9 for bar in chart.bars
    )
