"""The reports list, one report's page, and the actions on it.

Reported URLs appear only as text, never in a link or any attribute a browser would
fetch: rows link to ``/reports/{id}``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from store import police, reports
from store.models import STATES
from store.types import utcnow
from store.views import report_view
from web.actions import request_recheck
from web.auth import requires
from web.context import in_store, settings_of
from web.exceptions import BadRequest, Missing
from web.queries import Filters, find_report, list_reports, page_bounds, report_events
from web.routing import route
from web.templating import render
from web.timeline import timeline

PAGE = 50
DONE = {
    "paused": "Notices are held.",
    "resumed": "Notices may go out again.",
    "closed": "The report is closed.",
    "recheck": "The report is due: the next pass checks it.",
    "unchanged": "Nothing to change: it already was so.",
    "held": "Notices are held for the police until cleared.",
    "cleared": "Cleared by the police: the report is checked, then notified.",
}
ACTIONS = {
    "pause": "paused",
    "resume": "resumed",
    "close": "closed",
    "recheck": "recheck",
    "police-hold": "held",
    "police-clear": "cleared",
}


@requires("reports")
async def index(request: Request) -> Response:
    return RedirectResponse("/reports", status_code=303)


@requires("reports")
async def report_list(request: Request) -> Response:
    filters = Filters.parse(request.query_params)
    limit, offset = page_bounds(request.query_params, default=PAGE, most=500)
    rows, total = await in_store(request, list_reports, filters, limit=limit, offset=offset)

    def page_link(start: int) -> str:
        return "/reports?" + urlencode({**filters.as_params(), "offset": start, "limit": limit})

    return render(
        request,
        "reports.html",
        rows=rows,
        total=total,
        filters=filters,
        states=STATES,
        offset=offset,
        limit=limit,
        previous=page_link(max(offset - limit, 0)) if offset else None,
        following=page_link(offset + limit) if offset + limit < total else None,
    )


@requires("reports")
async def report_page(request: Request) -> Response:
    return await _show(request, request.path_params["id"])


async def _show(request: Request, report_id: int, *, error: str | None = None) -> Response:
    def read(session):
        report = find_report(session, report_id)
        view = report_view(
            session, report, police_timeout=settings_of(request).police_clearance_timeout
        )
        return view, timeline(view, report_events(session, report.id))

    view, moments = await in_store(request, read)
    done = DONE.get(request.query_params.get("done", ""))
    return render(
        request,
        "report.html",
        status=400 if error else 200,
        r=view,
        moments=moments,
        done=done,
        error=error,
    )


@requires("reports")
async def act(request: Request) -> Response:
    report_id, action = request.path_params["id"], request.path_params["action"]
    if action not in ACTIONS:
        raise Missing(f"there is no action {action!r}")
    form = await request.form()
    reason = str(form.get("reason") or "").strip()
    if action == "close" and not reason:
        return await _show(request, report_id, error="Give a reason to close the report.")
    actor, now = request.state.principal.name, utcnow()

    def change(session) -> bool:
        report = find_report(session, report_id)
        if action in ("pause", "resume"):
            return reports.set_paused(session, report, action == "pause", actor=actor, now=now)
        if action == "close":
            return reports.close(session, report, reason, actor=actor, now=now)
        if action == "police-hold":
            timeout = settings_of(request).police_clearance_timeout
            return police.hold(session, report, actor=actor, now=now, timeout=timeout)
        if action == "police-clear":
            return police.clear(session, report, actor=actor, now=now, note=reason or None)
        if not request_recheck(session, report, actor=actor, now=now):
            raise BadRequest(f"a {report.state} report is never checked again")
        return True

    changed = await in_store(request, change)
    done = ACTIONS[action] if changed else "unchanged"
    return RedirectResponse(f"/reports/{report_id}?done={done}", status_code=303)


routes = [
    route("/", GET=index),
    route("/reports", GET=report_list),
    route("/reports/{id:int}", GET=report_page),
    route("/reports/{id:int}/{action:str}", POST=act),
]
