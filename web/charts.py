"""Chart geometry for the statistics page, drawn as SVG on the server.

No chart library and no script: each function turns figures into coordinates and labels
that a template writes out as SVG elements, styled by the stylesheet. The policy allows
no inline script, and the page stays readable with scripts off and in print.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from web.formatting import duration

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 12, 40
HOUR, DAY = 3600.0, 86400.0
_STEPS = (1, 2, 3, 6, 12, 24, 48, 72, 168, 336, 720, 1440, 2160, 4320, 8760)  # hours


@dataclass
class Chart:
    """An SVG's view box, plot area, axes and marks; ``series`` and ``bars`` are the marks."""

    width: int = WIDTH
    height: int = HEIGHT
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    series: list[dict] = field(default_factory=list)  # name, css class, SVG path
    bars: list[dict] = field(default_factory=list)  # x, y, w, h, label, value
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def survival(curves: dict[str, list[tuple[float, float]]]) -> Chart | None:
    """Kaplan–Meier step curves: the share still online against time since the origin.

    ``curves`` maps a series name to ``stats.curve`` points. None when all are empty.
    """
    horizon = max((points[-1][0] for points in curves.values() if points), default=None)
    if horizon is None:
        return None
    chart = Chart()
    step = _time_step(horizon)
    end = max(step, math.ceil(horizon / step) * step)
    x = _scale(0, end, chart.left, chart.right)
    y = _scale(0, 1, chart.bottom, chart.top)
    chart.x_ticks = [(x(t), _time_label(t, step)) for t in _range(0, end, step)]
    chart.y_ticks = [(y(s), f"{s:.0%}") for s in (0, 0.25, 0.5, 0.75, 1)]
    for number, (name, points) in enumerate(curves.items()):
        if not points:
            continue
        # A post-step line: S holds its value until the next removal, then drops.
        path = [f"M{x(points[0][0]):.1f},{y(points[0][1]):.1f}"]
        for (_t0, s0), (t1, s1) in zip(points, points[1:], strict=False):
            path.append(f"H{x(t1):.1f}V{y(s1):.1f}" if s1 != s0 else f"H{x(t1):.1f}")
        chart.series.append({"name": name, "class": f"series{number}", "path": "".join(path)})
    return chart


def bars(items: list[tuple[str, float | None]], *, most: int = 12) -> Chart | None:
    """Horizontal bars of durations, one per labelled item with a figure, longest scale."""
    items = [(label, value) for label, value in items if value is not None][:most]
    if not items:
        return None
    row = 24
    chart = Chart(height=TOP + row * len(items) + BOTTOM, left=220)
    chart.bottom = chart.height - BOTTOM
    top_value = max(value for _label, value in items) or 1.0
    step = _time_step(top_value)
    end = max(step, math.ceil(top_value / step) * step)
    x = _scale(0, end, chart.left, chart.right)
    chart.x_ticks = [(x(t), _time_label(t, step)) for t in _range(0, end, step)]
    for index, (label, value) in enumerate(items):
        chart.bars.append(
            {
                "x": chart.left,
                "y": chart.top + index * row + 4,
                "w": max(x(value) - chart.left, 1),
                "h": row - 8,
                "label": label,
                "value": duration(value),
            }
        )
    return chart


def columns(items: list[tuple[str, float | None]]) -> Chart | None:
    """Vertical bars, one per month: the median time to removal of reports notified then."""
    if not any(value is not None for _label, value in items):
        return None
    chart = Chart()
    top_value = max(value for _label, value in items if value is not None) or 1.0
    step = _time_step(top_value)
    end = max(step, math.ceil(top_value / step) * step)
    y = _scale(0, end, chart.bottom, chart.top)
    chart.y_ticks = [(y(t), _time_label(t, step)) for t in _range(0, end, step)]
    slot = (chart.right - chart.left) / len(items)
    every = math.ceil(len(items) / 12)  # at most a dozen month labels fit under the axis
    for index, (label, value) in enumerate(items):
        x = chart.left + index * slot
        if index % every == 0:
            chart.x_ticks.append((x + slot / 2, label))
        if value is not None:
            chart.bars.append(
                {
                    "x": x + slot * 0.15,
                    "y": y(value),
                    "w": slot * 0.7,
                    "h": chart.bottom - y(value),
                    "label": label,
                    "value": duration(value),
                }
            )
    return chart


def _time_step(span: float) -> float:
    """A tick step in whole hours giving at most about eight ticks over ``span`` seconds."""
    for hours in _STEPS:
        if span / (hours * HOUR) <= 8:
            return hours * HOUR
    return math.ceil(span / 8 / (365 * DAY)) * 365 * DAY


def _time_label(seconds: float, step: float) -> str:
    return f"{seconds / HOUR:.0f} h" if step < DAY else f"{seconds / DAY:.0f} d"


def _range(start: float, end: float, step: float) -> list[float]:
    return [start + i * step for i in range(int(round((end - start) / step)) + 1)]


def _scale(low: float, high: float, to_low: float, to_high: float):
    span = (high - low) or 1.0
    return lambda value: to_low + (value - low) / span * (to_high - to_low)
