"""The statistics page's charts, drawn as SVG on the server.

No chart library and no script: each function turns figures into ``Mark``s (an SVG
element, its attributes and text) that one template macro writes out, autoescaped. Colours
and fonts are presentation attributes, not CSS, so the same markup reads the same inline
on the page, in print, and downloaded as a file or a PNG; the Content-Security-Policy
(which governs style sheets and ``style`` attributes) is unchanged.

Every label is placed inside the view box: text widths are estimated on the generous side
for DejaVu Sans (the font the charts ask for first), labels that would overlap are moved
or left to the legend, and the browser tests measure the real boxes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from stats.survival import Survival
from web.formatting import duration

WIDTH = 720
HOUR, DAY = 3600.0, 86400.0
FONT = "DejaVu Sans, Verdana, Liberation Sans, Arial, sans-serif"
SIZE = 11  # px, every label
INK, MUTED, LINE, PAPER = "#1b1f24", "#5b6470", "#d8dde3", "#ffffff"
ACCENT, WARN, ONLINE, REFERENCE = "#1f4e79", "#8a5a00", "#b42318", "#6a3d9a"
WITHIN = (("24 h", 24 * HOUR), ("72 h", 72 * HOUR), ("7 d", 7 * DAY))
_STEPS = (1, 2, 3, 6, 12, 24, 48, 72, 120, 168, 240, 336, 720, 1440, 2160, 4320, 8760)  # h
_LOG_TICKS = (
    (600, "10 min"),
    (HOUR, "1 h"),
    (6 * HOUR, "6 h"),
    (DAY, "1 d"),
    (3 * DAY, "3 d"),
    (7 * DAY, "7 d"),
    (30 * DAY, "30 d"),
    (90 * DAY, "90 d"),
    (365 * DAY, "1 y"),
    (3 * 365 * DAY, "3 y"),
    (10 * 365 * DAY, "10 y"),
)
LOG_FROM = 600.0  # a log axis starts at 10 minutes; earlier removals sit on its left edge
SPANS = ("30d", "p95", "all")


class Mark(NamedTuple):
    """One SVG element: its tag, attributes, text content and tooltip."""

    tag: str
    attrs: tuple[tuple[str, object], ...]
    text: str | None = None
    title: str | None = None


@dataclass
class Chart:
    """An SVG's name, text alternative, size and marks, in drawing order."""

    name: str
    title: str
    description: str
    height: int
    width: int = WIDTH
    marks: list[Mark] = field(default_factory=list)

    def add(self, tag: str, text: str | None = None, title: str | None = None, **attrs) -> None:
        names = {"class_": "class"}
        pairs = tuple(
            (names.get(k, k).replace("_", "-"), _number(v))
            for k, v in attrs.items()
            if v is not None
        )
        self.marks.append(Mark(tag, pairs, text, title))

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        anchor: str = "start",
        colour: str = MUTED,
        title: str | None = None,
        weight: str | None = None,
        class_: str = "label",
    ) -> None:
        self.add(
            "text",
            text,
            title,
            x=x,
            y=y,
            text_anchor=anchor,
            fill=colour,
            font_size=SIZE,
            font_weight=weight,
            class_=class_,
        )


class Bar(NamedTuple):
    """One bar of a ranking: a median, or why there is none."""

    label: str
    value: float | None  # median seconds
    bound: float  # longest follow-up: the median is beyond it when value is None
    notified: int
    few: bool  # too few notified reports for an estimate
    others: bool = False  # the folded rest, always drawn last


class Month(NamedTuple):
    label: str  # YYYY-MM
    median: float | None
    within_72h: float | None  # share removed within 72 h
    notified: int
    why_median: str | None  # why median is None
    why_within: str | None


def width_of(text: str, size: float = SIZE) -> float:
    """A generous estimate of ``text``'s width in DejaVu Sans (wide for a sans) at ``size``."""
    wide, narrow = set("MWmw@%"), set(" .,:;'|!iIjlft()[]")
    em = sum(0.95 if c in wide else 0.36 if c in narrow else 0.66 for c in text)
    return em * size


# --- the survival curve ---------------------------------------------------------------


class Axis(NamedTuple):
    """A time axis: seconds to x, its ticks, and its name for the legend."""

    x: Callable[[float], float]
    ticks: list[tuple[float, str]]
    end: float
    log: bool


def time_axis(end: float, left: float, right: float, *, log: bool) -> Axis:
    if log:
        end = max(end, 2 * LOG_FROM)
        span = math.log(end) - math.log(LOG_FROM)

        def x(t: float) -> float:
            return left + (math.log(min(max(t, LOG_FROM), end)) - math.log(LOG_FROM)) / span * (
                right - left
            )

        ticks = [(x(t), label) for t, label in _LOG_TICKS if t <= end * 1.0001]
        return Axis(x, ticks, end, True)
    step = _time_step(end)
    end = max(step, math.ceil(end / step - 1e-9) * step)

    def x(t: float) -> float:
        return left + min(max(t, 0.0), end) / end * (right - left)

    return Axis(x, [(x(t), _time_label(t, step)) for t in _range(0, end, step)], end, False)


def window(fits: Iterable[Survival], span: str) -> float:
    """How much time the survival chart shows, in seconds, by the reader's choice ``span``:
    the first 30 days (or less if nobody was followed that long), as far as 95% of the
    removals observed, or all of it."""
    fits = [fit for fit in fits if fit.count]
    horizon = max((fit.horizon for fit in fits), default=DAY)
    if span == "all":
        return max(horizon, HOUR)
    if span == "p95":
        reach = [fit.removal_percentile(0.95) for fit in fits[:1]]
        return max(reach[0] if reach and reach[0] else horizon, HOUR)
    return max(min(30 * DAY, horizon), HOUR)


def survival(
    fits: dict[str, Survival],
    *,
    span: str = "30d",
    log: bool = False,
    references: tuple[tuple[str, float, float], ...] = (),
) -> Chart | None:
    """Kaplan–Meier step curves of the share still online against time, the first with its
    95% Greenwood band, its median and its 24 h / 72 h / 7 d marks; ``references`` are
    published (name, share removed, within seconds) figures drawn as points to compare."""
    drawn = {name: fit for name, fit in fits.items() if fit.count}
    if not drawn:
        return None
    left, right, top, bottom = 48, WIDTH - 16, 34, 294
    axis = time_axis(window(drawn.values(), span), left, right, log=log)
    chart = Chart(
        "survival",
        "Share of notified reports still online, against time",
        f"Kaplan–Meier estimate, {'log' if log else 'linear'} time axis to {duration(axis.end)}.",
        height=0,
    )
    y = _scale(0, 1, bottom, top)
    placed = _Placer(left, top, right, bottom)  # annotations stay inside the plot
    chart.text(4, 14, "still online", colour=INK, weight="bold")
    for t, _label in axis.ticks:
        chart.add("line", x1=t, y1=top, x2=t, y2=bottom, stroke=LINE, class_="grid")
    for s in (0, 0.25, 0.5, 0.75, 1):
        chart.add("line", x1=left, y1=y(s), x2=right, y2=y(s), stroke=LINE, class_="grid")
        chart.text(left - 6, y(s) + 4, f"{s:.0%}", anchor="end", class_="tick")
    _axis_labels(chart, axis.ticks, bottom)
    chart.add("line", x1=left, y1=bottom, x2=right, y2=bottom, stroke=MUTED, class_="frame")
    chart.add("line", x1=left, y1=top, x2=left, y2=bottom, stroke=MUTED, class_="frame")
    chart.add(
        "line",
        x1=left,
        y1=y(0.5),
        x2=right,
        y2=y(0.5),
        stroke=ONLINE,
        stroke_dasharray="2 3",
        class_="half",
    )

    (headline, first), *rest = drawn.items()
    chart.add(
        "path",
        d=_band_path(first.band(), axis, y),
        fill=ACCENT,
        fill_opacity=0.14,
        stroke="none",
        class_="band",
    )
    styles = [(ACCENT, None), (WARN, "6 3")]
    for number, (name, fit) in enumerate(drawn.items()):
        colour, dashes = styles[number % len(styles)]
        placed.avoid_steps(fit.points(), axis, y)
        chart.add(
            "path",
            d=_step_path(fit.points(), axis, y),
            fill="none",
            stroke=colour,
            stroke_width=2.5,
            stroke_dasharray=dashes,
            class_=f"curve series{number}",
            data_series=name,
        )

    median = first.quantile(0.5)
    if median is not None and median <= axis.end:
        mx = axis.x(median)
        chart.add(
            "line",
            x1=mx,
            y1=y(0.5),
            x2=mx,
            y2=bottom,
            stroke=ONLINE,
            stroke_dasharray="4 3",
            class_="median",
            data_seconds=f"{median:.3f}",
        )
        chart.add("circle", cx=mx, cy=y(0.5), r=3.5, fill=ONLINE)
        placed.avoid((mx - 1, y(0.5), mx + 1, bottom))
        placed.around(
            chart,
            f"median {duration(median)}",
            mx,
            y(0.5),
            colour=ONLINE,
        )
    elif median is not None:
        text = f"median {duration(median)}, beyond this window"
        chart.text(right - 4, y(0.5) - 6, text, anchor="end", colour=ONLINE)
    marks = []
    for label, seconds in WITHIN:
        s = first.at(seconds)
        if s is None or seconds > axis.end or (log and seconds < LOG_FROM):
            continue
        marks.append(f"{1 - s:.0%} within {label}")
        cx, cy = axis.x(seconds), y(s)
        chart.add(
            "circle",
            cx=cx,
            cy=cy,
            r=3.5,
            fill=PAPER,
            stroke=ACCENT,
            stroke_width=2,
            class_="within",
            data_within=label,
        )
        placed.avoid((cx - 5, cy - 5, cx + 5, cy + 5))
        placed.around(
            chart,
            f"{1 - s:.0%} in {label}",
            cx,
            cy,
            colour=ACCENT,
        )
    for name, share, seconds in references:
        if seconds > axis.end:
            continue
        rx, ry = axis.x(seconds), y(1 - share)
        chart.add(
            "line",
            x1=left,
            y1=ry,
            x2=rx,
            y2=ry,
            stroke=REFERENCE,
            stroke_dasharray="1 3",
            class_="reference",
        )
        chart.add(
            "path",
            d=f"M{rx:.1f},{ry - 5:.1f}l5,5l-5,5l-5,-5z",
            fill=REFERENCE,
            class_="reference",
            data_reference=name,
        )
        placed.avoid((left, ry - 1, rx + 6, ry + 1))
        placed.around(
            chart,
            f"{name}: {share:.0%} within {plain(seconds)}",
            rx,
            ry,
            colour=REFERENCE,
        )

    title = f"time since first notice{', log scale' if log else ''}"
    chart.text((left + right) / 2, bottom + 32, title, anchor="middle", colour=INK)
    legend = _Legend(chart, top=bottom + 44)
    legend.line(headline, ACCENT)
    legend.swatch("95% band", ACCENT, 0.14)
    for number, (name, _fit) in enumerate(rest, start=1):
        colour, dashes = styles[number % len(styles)]
        legend.line(name, colour, dashes)
    legend.line(
        f"median: {duration(median)}" if median is not None else "median (50%)", ONLINE, "2 3"
    )
    if marks:
        legend.dot("removed " + ", ".join(marks), ACCENT)
    for name, share, seconds in references:
        legend.diamond(f"{name}: {share:.0%} removed within {plain(seconds)}", REFERENCE)
    chart.height = legend.bottom + 8
    return chart


def _step_path(points: list[tuple[float, float]], axis: Axis, y) -> str:
    """A post-step line: S holds its value until the next removal, then drops. Cut at the
    axis end, where a curve that goes on runs into the edge."""
    path = [f"M{axis.x(points[0][0]):.1f},{y(points[0][1]):.1f}"]
    for (_t0, s0), (t1, s1) in zip(points, points[1:], strict=False):
        if t1 > axis.end:
            path.append(f"H{axis.x(axis.end):.1f}")
            break
        path.append(f"H{axis.x(t1):.1f}V{y(s1):.1f}" if s1 != s0 else f"H{axis.x(t1):.1f}")
    return "".join(path)


def _band_path(band: list[tuple[float, float, float]], axis: Axis, y) -> str:
    """The band between the step curves of its lower and upper bounds, as one shape."""
    steps = []  # (x from, x to, low, high)
    for (t0, low, high), (t1, *_next) in zip(band, band[1:] + [(axis.end, 0, 0)], strict=True):
        if t0 >= axis.end:
            break
        steps.append((axis.x(t0), axis.x(min(t1, axis.end)), low, high))
    upper = [f"{a:.1f},{y(high):.1f} {b:.1f},{y(high):.1f}" for a, b, _low, high in steps]
    lower = [f"{b:.1f},{y(low):.1f} {a:.1f},{y(low):.1f}" for a, b, low, _high in reversed(steps)]
    return "M" + " L".join(upper + lower) + "Z"


# --- bars: providers and countries ------------------------------------------------------


def bars(name: str, title: str, entries: list[Bar], *, fastest_first: bool = False) -> Chart | None:
    """Horizontal bars of median time to removal, slowest first (or fastest), every label
    inside: a group still under half removed is drawn open to its longest follow-up, as a
    lower bound, and counts as slower than any median; the folded rest comes last."""
    if not entries:
        return None
    groups = [entry for entry in entries if not entry.others]
    known = sorted(
        (e for e in groups if e.value is not None), key=lambda e: e.value, reverse=not fastest_first
    )
    beyond = sorted((e for e in groups if e.value is None and not e.few), key=lambda e: -e.bound)
    few = [e for e in groups if e.few]
    ordered = (beyond + known if not fastest_first else known + beyond) + few
    ordered += [e for e in entries if e.others]

    row, top = 24, 28
    labels = [_fit_text(entry.label, 220) for entry in ordered]
    left = max(width_of(label) for label in labels) + 14
    values = [_bar_value(entry) for entry in ordered]
    right = WIDTH - 12 - max(width_of(value) for value in values) - 6
    bottom = top + row * len(ordered)
    chart = Chart(
        name,
        title,
        f"{title}, {'fastest' if fastest_first else 'slowest'} first.",
        height=bottom + 52,
    )
    reach = max(
        [e.value for e in ordered if e.value is not None] + [e.bound for e in beyond] + [HOUR]
    )
    step = _time_step(reach)
    end = max(step, math.ceil(reach / step - 1e-9) * step)
    x = _scale(0, end, left, right)
    chart.text(4, 14, title, colour=INK, weight="bold")
    ticks = [(x(t), _time_label(t, step)) for t in _range(0, end, step)]
    for tx, _label in ticks:
        chart.add("line", x1=tx, y1=top, x2=tx, y2=bottom, stroke=LINE, class_="grid")
    _axis_labels(chart, ticks, bottom)
    chart.add("line", x1=left, y1=bottom, x2=right, y2=bottom, stroke=MUTED, class_="frame")
    for index, (entry, label, value) in enumerate(zip(ordered, labels, values, strict=True)):
        y0 = top + index * row
        tip = f"{entry.label}: {value} ({entry.notified} notified)"
        chart.text(
            left - 6,
            y0 + row / 2 + 4,
            label,
            anchor="end",
            colour=INK,
            class_="row",
            title=entry.label if label != entry.label else None,
        )
        if entry.few:
            chart.text(left + 4, y0 + row / 2 + 4, value, class_="value")
            continue
        length = entry.value if entry.value is not None else entry.bound
        w = max(x(length) - left, 1)
        # An open bar (fewer than half removed: a lower bound) or a solid one (a median).
        look = (
            {"fill": PAPER, "stroke": ACCENT, "stroke_dasharray": "3 2", "class_": "bar open"}
            if entry.value is None
            else {"fill": MUTED if entry.others else ACCENT, "class_": "bar"}
        )
        chart.add("rect", None, tip, x=left, y=y0 + 4, width=w, height=row - 8, **look)
        chart.text(left + w + 6, y0 + row / 2 + 4, value, class_="value")
    chart.text(
        (left + right) / 2,
        bottom + 32,
        "median time to removal from first notice",
        anchor="middle",
        colour=INK,
    )
    return chart


def _bar_value(entry: Bar) -> str:
    if entry.few:
        return f"too few to estimate ({entry.notified} notified)"
    if entry.value is None:
        return f"over {duration(entry.bound)}: under half removed yet"
    return duration(entry.value)


# --- the monthly trend ------------------------------------------------------------------


def trend(
    months: list[Month], *, references: tuple[tuple[str, float, float], ...] = ()
) -> Chart | None:
    """Two panels over the months of first notice: the median time to removal, and the
    share removed within 72 h (with any reference given for 72 h); a month without a
    figure shows a dash, its reason on hover."""
    if not any(m.median is not None or m.within_72h is not None for m in months):
        return None
    left, right = 56, WIDTH - 16
    upper_top, upper_bottom = 30, 170
    lower_top, lower_bottom = 204, 314
    chart = Chart(
        "trend",
        "Monthly trend by month of first notice",
        "Median time to removal, and share removed within 72 h, by month of first notice.",
        height=lower_bottom + 70,
    )
    slot = (right - left) / len(months)
    reach = max([m.median for m in months if m.median is not None] + [HOUR])
    step = _time_step(reach)
    end = max(step, math.ceil(reach / step - 1e-9) * step)
    y_time = _scale(0, end, upper_bottom, upper_top)
    y_share = _scale(0, 1, lower_bottom, lower_top)
    chart.text(4, 14, "median time to removal", colour=INK, weight="bold")
    chart.text(4, lower_top - 12, "removed within 72 h", colour=INK, weight="bold")
    for t in _range(0, end, step):
        chart.add("line", x1=left, y1=y_time(t), x2=right, y2=y_time(t), stroke=LINE, class_="grid")
        chart.text(left - 6, y_time(t) + 4, _time_label(t, step), anchor="end", class_="tick")
    for s in (0, 0.5, 1):
        chart.add(
            "line", x1=left, y1=y_share(s), x2=right, y2=y_share(s), stroke=LINE, class_="grid"
        )
        chart.text(left - 6, y_share(s) + 4, f"{s:.0%}", anchor="end", class_="tick")
    for panel_bottom in (upper_bottom, lower_bottom):
        chart.add(
            "line",
            x1=left,
            y1=panel_bottom,
            x2=right,
            y2=panel_bottom,
            stroke=MUTED,
            class_="frame",
        )
    every = max(1, math.ceil(len(months) / math.floor((right - left) / (width_of("2026-12") + 8))))
    for index, month in enumerate(months):
        x0 = left + index * slot
        centre, width = x0 + slot / 2, max(slot * 0.7, 1)
        if index % every == 0:
            chart.text(centre, lower_bottom + 16, month.label, anchor="middle", class_="tick")
        for value, y, bottom, why, kind in (
            (month.median, y_time, upper_bottom, month.why_median, "median"),
            (month.within_72h, y_share, lower_bottom, month.why_within, "within"),
        ):
            if value is None:
                chart.text(
                    centre,
                    bottom - 4,
                    "—",
                    anchor="middle",
                    title=f"{month.label}: {why}",
                    class_="missing",
                )
                continue
            shown = duration(value) if kind == "median" else f"{value:.0%}"
            chart.add(
                "rect",
                None,
                f"{month.label}: {shown} ({month.notified} notified)",
                x=x0 + (slot - width) / 2,
                y=y(value),
                width=width,
                height=max(bottom - y(value), 0.5),
                fill=ACCENT if kind == "median" else "#3b7d4f",
                class_=f"bar {kind}",
            )
    for _name, share, seconds in references:
        if abs(seconds - 72 * HOUR) < 1:
            chart.add(
                "line",
                x1=left,
                y1=y_share(share),
                x2=right,
                y2=y_share(share),
                stroke=REFERENCE,
                stroke_dasharray="4 3",
                class_="reference",
            )
    legend = _Legend(chart, top=lower_bottom + 30)
    legend.swatch("median time to removal", ACCENT, 1)
    legend.swatch("share removed within 72 h", "#3b7d4f", 1)
    for name, share, seconds in references:
        if abs(seconds - 72 * HOUR) < 1:
            legend.line(f"{name}: {share:.0%} within 72 h", REFERENCE, "4 3")
    legend.text("— no figure yet (hover for why)")
    chart.height = legend.bottom + 8
    return chart


# --- layout helpers ---------------------------------------------------------------------


class _Placer:
    """Puts labels where they overlap no other label, line or mark, inside a box."""

    def __init__(self, *box: float) -> None:
        self.box, self.taken = box, []

    def avoid(self, rect: tuple[float, float, float, float]) -> None:
        self.taken.append(rect)

    def avoid_steps(self, points, axis: Axis, y) -> None:
        """Every horizontal and vertical run of a step curve, with a little room around."""
        for (t0, s0), (t1, s1) in zip(points, points[1:], strict=False):
            if t0 > axis.end:
                break
            x0, x1 = axis.x(t0), axis.x(min(t1, axis.end))
            self.taken.append((x0 - 2, y(s0) - 2, x1 + 2, y(s0) + 2))
            self.taken.append((x1 - 2, y(s0) - 2, x1 + 2, y(s1) + 2))

    def around(self, chart: Chart, text: str, x: float, y: float, *, colour: str) -> bool:
        """``text`` near the point (x, y): beside it first, then further up or down."""
        w = width_of(text)
        spots = [
            (x + dx, y + dy) for dy in (-8, 16, -22, 30, -36, 44, -50, 58) for dx in (8, -8 - w)
        ]
        return self.put(chart, text, spots, colour=colour)

    def put(self, chart: Chart, text: str, spots, *, colour: str) -> bool:
        x0, y0, x1, y1 = self.box
        w = width_of(text)
        for x, y in spots:
            rect = (x, y - SIZE, x + w, y + 2)
            inside = x0 <= rect[0] and rect[2] <= x1 and y0 <= rect[1] and rect[3] <= y1
            if inside and not any(_overlap(rect, other) for other in self.taken):
                self.taken.append(rect)
                chart.text(x, y, text, colour=colour)
                return True
        return False  # the legend carries it


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _axis_labels(chart: Chart, ticks, bottom: float) -> None:
    """Tick labels under the axis, skipping any that would collide with the one before."""
    last = -math.inf
    for x, label in ticks:
        w = width_of(label)
        start = min(max(x - w / 2, 2), WIDTH - 2 - w)
        if start < last + 4:
            continue
        chart.text(start + w / 2, bottom + 16, label, anchor="middle", class_="tick")
        last = start + w


class _Legend:
    """Legend entries in rows under a chart, wrapping at its width."""

    def __init__(self, chart: Chart, top: float) -> None:
        self.chart, self.x, self.y = chart, 8.0, top + 10
        self.bottom = top + 16

    def _room(self, width: float) -> float:
        if self.x + width > WIDTH - 8 and self.x > 8:
            self.x, self.y = 8.0, self.y + 18
        x, self.x = self.x, self.x + width + 18
        self.bottom = self.y + 6
        return x

    def line(self, text: str, colour: str, dashes: str | None = None) -> None:
        x = self._room(26 + width_of(text))
        self.chart.add(
            "line",
            x1=x,
            y1=self.y - 4,
            x2=x + 20,
            y2=self.y - 4,
            stroke=colour,
            stroke_width=2.5,
            stroke_dasharray=dashes,
        )
        self.chart.text(x + 26, self.y, text)

    def swatch(self, text: str, colour: str, opacity: float) -> None:
        x = self._room(26 + width_of(text))
        self.chart.add(
            "rect", x=x, y=self.y - 10, width=20, height=10, fill=colour, fill_opacity=opacity
        )
        self.chart.text(x + 26, self.y, text)

    def dot(self, text: str, colour: str) -> None:
        x = self._room(26 + width_of(text))
        self.chart.add(
            "circle", cx=x + 10, cy=self.y - 4, r=3.5, fill=PAPER, stroke=colour, stroke_width=2
        )
        self.chart.text(x + 26, self.y, text)

    def diamond(self, text: str, colour: str) -> None:
        x = self._room(26 + width_of(text))
        self.chart.add("path", d=f"M{x + 10:.1f},{self.y - 9:.1f}l5,5l-5,5l-5,-5z", fill=colour)
        self.chart.text(x + 26, self.y, text)

    def text(self, text: str) -> None:
        x = self._room(width_of(text))
        self.chart.text(x, self.y, text)


def _fit_text(text: str, room: float) -> str:
    """``text``, cut with an ellipsis to fit ``room`` pixels."""
    if width_of(text) <= room:
        return text
    while text and width_of(text + "…") > room:
        text = text[:-1]
    return text.rstrip() + "…"


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


def _number(value: object) -> object:
    return f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else value


def plain(seconds: float) -> str:
    """A reference time as people write it: ``3 d``, ``72 h``; else as ``duration``."""
    if seconds % DAY == 0:
        return f"{seconds / DAY:.0f} d"
    if seconds % HOUR == 0:
        return f"{seconds / HOUR:.0f} h"
    return duration(seconds)
