"""``/api/reports``: queue URLs, list reports, and read one as `ntd show --json` does.

Queueing goes through intake.queueing, like ``ntd add``: the answer names every accepted
URL with its report, and every rejected one with why. Reads ``DEFAULT_CATEGORY``.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from intake.queueing import queue_submissions
from intake.submissions import Submission, encodable
from store.views import report_view
from web.auth import requires
from web.context import in_store, in_thread, settings_of, store_of
from web.exceptions import BadRequest
from web.queries import FILTERS, Filters, find_report, list_reports, page_bounds
from web.routing import route

MAX_URLS = 10_000  # per request; a larger batch is a CSV import
LIST_PARAMETERS = (*FILTERS, "limit", "offset")


@requires("reports")
async def add(request: Request) -> Response:
    body = _json(await request.body())
    urls, ref = _field(body, "urls", list), _field(body, "ref", str)
    category, sha256 = _field(body, "category", str), _field(body, "sha256", list) or []
    if not urls or not all(isinstance(url, str) for url in urls):
        raise BadRequest("urls must be a non-empty list of strings")
    if len(urls) > MAX_URLS:
        raise BadRequest(f"at most {MAX_URLS} URLs per request; import a CSV for more")
    if not all(isinstance(item, str) for item in sha256):
        raise BadRequest("sha256 must be a list of strings")
    for text in (*urls, *sha256, ref or "", category or ""):
        if not encodable(text):
            raise BadRequest("the body holds text that is not valid Unicode")
    submissions = [
        Submission(url=url, ref=ref, sha256=tuple(sha256), category=category, line=number)
        for number, url in enumerate(urls, 1)
    ]
    accepted, rejected = await in_thread(
        queue_submissions,
        store_of(request),
        submissions,
        actor=request.state.principal.name,
        default_category=settings_of(request).default_category,
    )
    answer = {
        "accepted": [{"id": q.id, "canonical_url": q.canonical_url} for q in accepted],
        "rejected": [{"input": row.input, "reason": row.reason} for row in rejected],
    }
    return JSONResponse(answer, status_code=201 if accepted else 400)


@requires("reports")
async def show(request: Request) -> Response:
    report_id = request.path_params["id"]
    view = await in_store(
        request,
        lambda session: report_view(
            session,
            find_report(session, report_id),
            police_timeout=settings_of(request).police_clearance_timeout,
        ),
    )
    return JSONResponse(view)


@requires("reports")
async def index(request: Request) -> Response:
    # A script's misspelt filter (?sate=online) must not quietly list every report.
    unknown = sorted(set(request.query_params) - set(LIST_PARAMETERS))
    if unknown:
        known = ", ".join(LIST_PARAMETERS)
        raise BadRequest(f"unknown parameter {unknown[0]!r}; the list takes {known}")
    filters = Filters.parse(request.query_params)
    limit, offset = page_bounds(request.query_params, default=100, most=1000)
    rows, total = await in_store(request, list_reports, filters, limit=limit, offset=offset)
    return JSONResponse({"reports": rows, "total": total, "limit": limit, "offset": offset})


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise BadRequest(f"the body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object, e.g. {"urls": ["https://…"]}')
    return body


def _field(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if value is not None and not isinstance(value, kind):
        noun = {list: "a list", str: "a string"}[kind]
        raise BadRequest(f"{name} must be {noun} or null")
    return value


routes = [route("/api/reports", GET=index, POST=add), route("/api/reports/{id:int}", GET=show)]
