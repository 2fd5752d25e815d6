"""The statistics page as a manager shows it to a board, in Chromium at 1400 and 800 px.

What is measured is what a reader sees: every label of every chart inside its picture,
the curve crossing 50% where the page says the median is (read off the chart's own tick
labels, as a reader would), bars in order, the page in print, and the downloads.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_dashboard import sign_in
from tests.test_web_support import seed_board

pytestmark = pytest.mark.browser

CHARTS = ("survival", "providers", "countries", "trend")

# Every <text> of an SVG whose box, in the SVG's own units, leaves the view box.
OUTSIDE = """svg => {
  const box = svg.viewBox.baseVal, out = [];
  for (const t of svg.querySelectorAll("text")) {
    const b = t.getBBox();
    if (b.x < box.x - 0.5 || b.y < box.y - 0.5 || b.x + b.width > box.x + box.width + 0.5
        || b.y + b.height > box.y + box.height + 0.5)
      out.push(`${t.textContent.trim()} at ${b.x.toFixed(1)},${b.y.toFixed(1)}`
               + ` ${b.width.toFixed(1)}x${b.height.toFixed(1)}`);
  }
  return out;
}"""

# Where the first curve first reaches the 50% line, walking along it: [x in SVG units,
# CSS pixels per SVG unit].
CROSSING = """svg => {
  const curve = svg.querySelector("path.series0"), half = svg.querySelector("line.half");
  const y50 = half.y1.baseVal.value, length = curve.getTotalLength();
  for (let at = 0; at <= length; at += 0.25) {
    const p = curve.getPointAtLength(at);
    if (p.y >= y50 - 1e-6) return [p.x, svg.getScreenCTM().a];
  }
  return null;
}"""

TICKS = """svg => [...svg.querySelectorAll("text.tick")].map(t => [t.textContent.trim(),
  t.x.baseVal[0].value])"""

# The words a <text> shows, without its tooltip (<title>).
SHOWN = """texts => texts.map(t => [...t.childNodes].filter(n => n.nodeType === 3)
  .map(n => n.data).join("").trim())"""

UNITS = {"min": 60, "h": 3600, "d": 86400, "y": 365 * 86400}


def seconds_of(label: str) -> float | None:
    match = re.fullmatch(r"(\d+) (min|h|d|y)", label)
    return None if match is None else int(match[1]) * UNITS[match[2]]


def x_of(svg, seconds: float, *, log: bool) -> float:
    """Where ``seconds`` lies on the time axis, from two of the chart's own tick labels."""
    ticks = [(seconds_of(label), x) for label, x in svg.evaluate(TICKS)]
    ticks = [(t, x) for t, x in ticks if t is not None and (t > 0 or not log)]
    (t0, x0), (t1, x1) = ticks[0], ticks[-1]
    f = math.log if log else float
    return x0 + (f(seconds) - f(t0)) / (f(t1) - f(t0)) * (x1 - x0)


@pytest.fixture
def board(page, served):
    web, server = served
    seed_board(web.store, count=600)
    web.user("mia", "manager")
    sign_in(page, server, "mia")
    return web, server


@pytest.mark.parametrize("width", [1400, 800])
def test_every_label_of_every_chart_lies_inside_its_picture(page, board, width):
    _web, server = board
    page.set_viewport_size({"width": width, "height": 1000})
    for query in ("", "?scale=log", "?span=all&order=fast", "?span=p95&refs=off"):
        page.goto(f"{server.url}/stats{query}")
        for name in CHARTS:
            svg = page.locator(f"svg#{name}")
            assert svg.count() == 1, f"{name} missing at {query or 'the defaults'}"
            assert svg.evaluate(OUTSIDE) == [], f"{name} at {width} px, {query or 'defaults'}"
            box = svg.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width  # no sideways scroll
    page.goto(f"{server.url}/stats")
    screenshot(page, f"statistics-board-{width}")


@pytest.mark.parametrize("scale", ["linear", "log"])
def test_the_curve_crosses_half_where_the_median_is_stated(page, board, scale):
    web, server = board
    page.set_viewport_size({"width": 1400, "height": 1000})
    median = web.api("manager").get("/api/stats").json()["median_time_to_removal_s"]
    assert median is not None
    page.goto(f"{server.url}/stats?scale={scale}")
    svg = page.locator("svg#survival")
    crossing, pixels = svg.evaluate(CROSSING)
    expected = x_of(svg, median, log=scale == "log")
    assert abs(crossing - expected) * pixels <= 2.0, (crossing, expected)
    marker = float(svg.locator("line.median").get_attribute("x1"))
    assert abs(marker - expected) * pixels <= 2.0
    # The page's own figure, rounded for reading, names the same time.
    stated = page.locator("#median").inner_text()
    assert f"median: {stated}" in svg.locator("text").evaluate_all(SHOWN)


def test_providers_rank_slowest_first_at_most_fifteen_and_others_last(page, board):
    _web, server = board
    page.goto(f"{server.url}/stats")
    labels = page.locator("svg#providers text.row").evaluate_all(SHOWN)
    assert 2 < len(labels) <= 16 and labels[-1].startswith("others (")

    def medians() -> list[float]:
        values = page.locator("svg#providers rect.bar:not(.open) > title").all_text_contents()
        return [_seconds(v.split(": ", 1)[1].split(" (")[0]) for v in values if "others" not in v]

    slow = medians()
    assert slow == sorted(slow, reverse=True) and len(slow) >= 3
    page.click("text=fastest first")
    fast = medians()
    assert fast == sorted(fast) and sorted(fast) == sorted(slow)
    screenshot(page, "statistics-fastest-first")


def test_every_dash_says_why(page, served):
    web, server = served
    seed_board(web.store, count=12)  # too few for most groups, some months without a figure
    web.user("mia", "manager")
    sign_in(page, server, "mia")
    page.goto(f"{server.url}/stats")
    for dash in page.locator("main abbr").all():
        assert dash.inner_text() == "—" and len(dash.get_attribute("title")) > 10
        mark = dash.locator("xpath=following-sibling::sup[1]").inner_text()
        assert page.locator(".footnotes span", has_text=mark).count() >= 1
    for missing in page.locator("svg text.missing").all():
        assert missing.evaluate(f"t => ({SHOWN})([t])[0]") == "—"
        assert len(missing.locator("title").text_content()) > 10


def test_the_page_prints_without_its_controls(page, board):
    _web, server = board
    page.goto(f"{server.url}/stats")
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert not page.locator(".downloads").first.is_visible()
    assert page.locator("svg#survival").is_visible()
    screenshot(page, "statistics-print")
    assert page.pdf()[:5] == b"%PDF-"


def test_each_chart_downloads_as_svg_and_png(page, board):
    _web, server = board
    page.goto(f"{server.url}/stats?scale=log")
    for name in CHARTS:
        section = page.locator(f"svg#{name}").locator("xpath=..")
        with page.expect_download() as svg_download:
            section.locator(".downloads a", has_text="SVG").click()
        text = Path(svg_download.value.path()).read_text(encoding="utf-8")
        assert text.startswith("<?xml") and f'<svg id="{name}"' in text
        assert name != "survival" or "log scale" in text
        with page.expect_download() as png_download:
            section.locator(".downloads a", has_text="PNG").click()
        assert Path(png_download.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png_download.value.suggested_filename.startswith(f"ntd-{name}-")


def _seconds(text: str) -> float:
    number, unit = text.split()
    return float(number) * {"s": 1, "min": 60, "h": 3600, "d": 86400}[unit]
