"""The statistics page, its charts as files, and its CSV export (managers and admins).

Reads ``MIN_GROUP`` and ``STATS_REFERENCES``. The page reads the store once: the same
columns give the figures, the Kaplan–Meier fits and the rankings, so every chart and the
numbers beside it describe the same moment. The reader's choices are query parameters
(links, no script), and a chart downloaded as SVG or PNG is drawn with the same choices:

- ``span``: ``30d`` (the first 30 days, the default), ``p95`` (as far as 95% of the
  removals seen) or ``all``;
- ``scale``: ``linear`` or ``log`` time;
- ``order``: ``slow`` (slowest provider and country first, the default) or ``fast``;
- ``refs``: ``on`` or ``off``, the published references drawn for comparison.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from stats import compute, fit, prepare, ranking, to_csv
from stats.query import figures, load_columns
from stats.reasons import why
from stats.submissions import figures as submission_figures
from web import charts
from web.auth import requires
from web.context import in_thread, settings_of, store_of
from web.exceptions import BadRequest, Missing, Unavailable
from web.routing import route
from web.templating import render, templates

FITS = {"from first notice": "notice", "from report": "report"}
OPTIONS = {
    "span": charts.SPANS,
    "scale": ("linear", "log"),
    "order": ("slow", "fast"),
    "refs": ("on", "off"),
}
MOST = 15  # bars per ranking; the rest fold into "others"
CHARTS = ("survival", "providers", "countries", "trend")
OVERALL = (
    "median_time_to_removal_s",
    "p90_time_to_removal_s",
    "removed_within.24h",
    "removed_within.72h",
    "removed_within.7d",
    "median_time_to_removal_after_report_s",
    "never_seen_online",
    "median_time_to_first_response_s",
)


def options(request: Request) -> dict[str, str]:
    """The reader's choices, each checked against what it may be."""
    chosen = {}
    for name, allowed in OPTIONS.items():
        value = request.query_params.get(name, allowed[0])
        if value not in allowed:
            raise BadRequest(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        chosen[name] = value
    return chosen


async def _read(request: Request) -> tuple[dict, dict[str, charts.Chart | None], dict[str, str]]:
    chosen = options(request)
    settings = settings_of(request)
    store, min_group = store_of(request), settings.min_group
    references = settings.stats_references if chosen["refs"] == "on" else ()

    def read():
        now = time.time()
        sample = prepare(load_columns(store), now)  # one sample for every figure and chart
        result = compute(sample, now=now, min_group=min_group)
        with store.session() as session:
            result["submissions"] = submission_figures(session, datetime.fromtimestamp(now, UTC))
        fits = {name: fit(sample, now, origin=origin) for name, origin in FITS.items()}
        ranks = {
            by: ranking(sample, now, by, most=MOST, min_group=min_group)
            for by in ("provider", "country")
        }
        return result, fits, ranks

    result, fits, ranks = await in_thread(read)
    fastest = chosen["order"] == "fast"
    drawn = {
        "survival": charts.survival(
            fits, span=chosen["span"], log=chosen["scale"] == "log", references=references
        ),
        "providers": charts.bars(
            "providers",
            "Median time to removal by provider",
            [_bar(entry, _provider, ("provider", "providers")) for entry in ranks["provider"]],
            fastest_first=fastest,
        ),
        "countries": charts.bars(
            "countries",
            "Median time to removal by hosting country",
            [_bar(entry, _country, ("country", "countries")) for entry in ranks["country"]],
            fastest_first=fastest,
        ),
        "trend": charts.trend(
            [_month(entry) for entry in result["by_month"]], references=references
        ),
    }
    return result, drawn, chosen


@requires("stats")
async def statistics(request: Request) -> Response:
    result, drawn, chosen = await _read(request)
    reasons = {key: why(result, key, overall=True) for key in OVERALL}
    return render(
        request, "stats.html", s=result, drawn=drawn, chosen=chosen, reasons=reasons, most=MOST
    )


@requires("stats")
async def chart_file(request: Request) -> Response:
    """One chart as a file: ``/stats/NAME.svg`` or ``/stats/NAME.png``, for a slide or print."""
    name, kind = request.path_params["name"], request.url.path.rsplit(".", 1)[1]
    if name not in CHARTS:
        raise Missing(f"there is no chart {name!r}; the charts are {', '.join(CHARTS)}")
    _result, drawn, _chosen = await _read(request)
    chart = drawn[name]
    if chart is None:
        raise Missing(f"the {name} chart has nothing to draw yet")
    svg = templates.env.get_template("chart.svg").render(c=chart)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    filename = f"ntd-{name}-{day}.{kind}"
    if kind == "svg":
        body, media = svg.encode(), "image/svg+xml"
    else:
        body, media = await in_thread(_png, svg), "image/png"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _png(svg: str) -> bytes:
    try:
        import cairosvg
    except OSError as error:  # cairosvg is installed, the C library it binds is not
        raise Unavailable(
            "PNG charts need the cairo library (Debian package libcairo2); "
            f"the SVG download works without it ({error})"
        ) from None
    return cairosvg.svg2png(bytestring=svg.encode(), scale=2)


@requires("stats")
async def export(request: Request) -> Response:
    store, min_group = store_of(request), settings_of(request).min_group
    text = await in_thread(lambda: to_csv(figures(store, min_group)))
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="ntd-stats-{day}.csv"'},
    )


def _bar(entry, name, kind: tuple[str, str]) -> charts.Bar:
    groups = f"{entry.groups} {kind[0] if entry.groups == 1 else kind[1]}"
    label = f"others ({groups})" if entry.label is None else name(entry.label)
    return charts.Bar(
        label, entry.median, entry.followed, entry.notified, entry.few, entry.label is None
    )


def _provider(label: tuple) -> str:
    asn, org = label
    return f"{'AS' + str(asn) if asn is not None else 'AS?'} {org or 'unknown'}"


def _country(label: str | None) -> str:
    return label or "unknown"


def _month(entry: dict) -> charts.Month:
    reasons = [why(entry, key) for key in ("median_time_to_removal_s", "removed_within.72h")]
    return charts.Month(
        entry["month"],
        entry["median_time_to_removal_s"],
        entry["removed_within"]["72h"],
        entry["notified"],
        *(reason.text if reason else None for reason in reasons),
    )


routes = [
    route("/stats", GET=statistics),
    route("/stats.csv", GET=export),
    route("/stats/{name}.svg", GET=chart_file),
    route("/stats/{name}.png", GET=chart_file),
]
