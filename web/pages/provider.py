"""The provider page, ``/p/{token}``: a notice's recipient answers without an account.

The token in the link is the only credential; it is compared by its hash, expires after
PROVIDER_LINK_TTL, and opens that one notice's reports and nothing else. URLs are shown
as text, never as links. The page carries the dashboard's security headers; its form
carries a CSRF token derived from the link's token, which a page elsewhere cannot know.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from store import provider
from store.types import utcnow
from web.context import in_store, settings_of
from web.exceptions import BadRequest, Forbidden, Gone, Missing, TooMany
from web.routing import route
from web.sessions import CSRF_FIELD, csrf_token, same
from web.templating import render

DONE = {
    "removed": "Thank you. The URL will be checked again shortly; it counts as removed once "
    "a check finds it gone.",
    "not_our_customer": "Thank you. The hotline will look for the right provider.",
    "question": "Thank you. The hotline's staff will answer by email.",
}
MAX_FORM_BYTES = 64 * 1024


async def show(request: Request) -> Response:
    return await _page(request, request.path_params["token"])


async def submit(request: Request) -> Response:
    token = request.path_params["token"]
    form = await request.form(max_fields=8, max_part_size=MAX_FORM_BYTES)
    if not same(_text(form, CSRF_FIELD), csrf_token(token)):
        raise Forbidden("this form has expired or did not come from this page; reload it")
    try:
        report_id = int(_text(form, "report") or "")
    except ValueError:
        raise BadRequest("the form names no report") from None
    if not 0 < report_id <= 2**31 - 1:  # an integer column on PostgreSQL
        raise BadRequest("the form names no report")
    action = _text(form, "action") or ""
    per_hour = settings_of(request).provider_answers_per_hour

    def record(session) -> None:
        provider.answer(
            session, token, report_id, action, _text(form, "text"), per_hour=per_hour, now=utcnow()
        )

    try:
        await in_store(request, record)
    except provider.BadAnswer as error:
        return await _page(request, token, error=f"Report {report_id}: {error}.", status=400)
    except provider.TooManyAnswers as error:
        raise TooMany(str(error), error.retry_after) from None
    except provider.LinkUnknown as error:
        raise Missing(str(error)) from None
    except provider.LinkExpired as error:
        raise Gone(f"{error}; please reply to the notice by email instead") from None
    return RedirectResponse(f"/p/{token}?done={action}", status_code=303)


async def _page(request: Request, token: str, *, error: str | None = None, status: int = 200):
    try:
        shown = await in_store(request, provider.page, token, utcnow())
    except provider.LinkUnknown as error_:
        raise Missing(str(error_)) from None
    except provider.LinkExpired as error_:
        raise Gone(f"{error_}; please reply to the notice by email instead") from None
    return render(
        request,
        "provider.html",
        status=status,
        page=shown,
        token=token,
        form_token=csrf_token(token),
        done=DONE.get(request.query_params.get("done", "")),
        error=error,
        question_max=provider.QUESTION_MAX,
    )


def _text(form, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


routes = [route("/p/{token:str}", GET=show, POST=submit)]
