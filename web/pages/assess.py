"""The assessment queue (analysts): public reports waiting for a verdict, one per URL.

The URL is text, never a link: an analyst opens it in the hotline's own assessment set-up,
not from here. A verdict goes through store.submissions like ``ntd assess``, so it takes
effect when ASSESSMENT_REVIEWS analysts agree, and is in the audit log with its analyst.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from intake.public import SEEN_LABELS
from store import submissions
from store.models import VERDICTS
from store.types import utcnow
from web.auth import requires
from web.context import in_store, settings_of
from web.routing import route
from web.templating import render

VERDICT_LABELS = {
    "baseline": "Illegal: baseline",
    "national": "Illegal: national law",
    "not-illegal": "Not illegal",
    "not-found": "Not found (nothing there)",
    "out-of-remit": "Out of remit",
}


@requires("reports")
async def queue(request: Request) -> Response:
    return await _page(request)


@requires("reports")
async def verdict(request: Request) -> Response:
    submission_id = request.path_params["id"]
    form = await request.form(max_fields=8)
    chosen = str(form.get("verdict") or "")
    category = str(form.get("category") or "") or None
    police_first = form.get("police") == "on"
    analyst, needed = request.state.principal.name, settings_of(request).assessment_reviews

    def record(session):
        return submissions.assess(
            session,
            submission_id,
            chosen,
            analyst=analyst,
            category=category,
            police_first=police_first,
            reviews_needed=needed,
            now=utcnow(),
        )

    if not 0 < submission_id <= 2**31 - 1:  # an integer column on PostgreSQL
        return await _page(request, error=f"There is no submission {submission_id}.", status=404)
    try:
        done = await in_store(request, record)
    except (submissions.BadAssessment, submissions.UnknownSubmission) as error:
        return await _page(request, error=f"Submission {submission_id}: {error}.", status=400)
    if not done.done:
        query = f"waiting={submission_id}&agree={done.agreeing}&need={done.needed}"
    elif done.report_id is not None:
        query = f"report={done.report_id}" + ("&held=1" if police_first else "")
    else:
        query = f"closed={submission_id}"
    return RedirectResponse(f"/assess?{query}", status_code=303)


async def _page(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    entries = await in_store(request, submissions.pending)
    return render(
        request,
        "assess.html",
        status=status,
        entries=entries,
        error=error,
        done=_done(request.query_params),
        verdicts=[(v, VERDICT_LABELS[v]) for v in VERDICTS],
        seen_labels=SEEN_LABELS,
        categories=submissions.NATIONAL_CATEGORIES,
        reviews=settings_of(request).assessment_reviews,
    )


def _done(params) -> dict | None:
    def number(name: str) -> int | None:
        value = params.get(name, "")
        return int(value) if value.isdigit() and len(value) < 10 else None

    if number("report") is not None:
        return {"report": number("report"), "held": params.get("held") == "1"}
    if number("closed") is not None:
        return {"closed": number("closed")}
    if number("waiting") is not None:
        return {"waiting": number("waiting"), "agree": number("agree"), "need": number("need")}
    return None


routes = [route("/assess", GET=queue), route("/assess/{id:int}", POST=verdict)]
