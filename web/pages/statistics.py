"""The statistics page and its CSV export (managers and admins). Reads ``MIN_GROUP``.

The page reads the store once: the same columns give the figures and the Kaplan–Meier
curves, so the chart and the numbers beside it always describe the same moment.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from stats import compute, curve, to_csv
from stats.query import figures, load_columns
from web import charts
from web.auth import requires
from web.context import in_thread, settings_of, store_of
from web.routing import route
from web.templating import render

CURVES = {"from first notice": "notice", "from report": "report"}


@requires("stats")
async def statistics(request: Request) -> Response:
    min_group = settings_of(request).min_group
    store = store_of(request)

    def read():
        columns, now = load_columns(store), time.time()
        result = compute(columns, now=now, min_group=min_group)
        curves = {name: curve(columns, now, origin=origin) for name, origin in CURVES.items()}
        return result, curves

    result, curves = await in_thread(read)
    providers = [
        (_provider(entry), entry["median_time_to_removal_s"]) for entry in result["by_provider"]
    ]
    months = [(entry["month"], entry["median_time_to_removal_s"]) for entry in result["by_month"]]
    return render(
        request,
        "stats.html",
        s=result,
        survival=charts.survival(curves),
        providers=charts.bars(providers),
        months=charts.columns(months),
    )


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


def _provider(entry: dict) -> str:
    asn = f"AS{entry['asn']}" if entry.get("asn") is not None else "AS?"
    return f"{asn} {entry.get('org') or 'unknown'}"


routes = [route("/stats", GET=statistics), route("/stats.csv", GET=export)]
