"""The inbox (analysts): providers' replies, mail matched to no notice, and answers on
the provider page, until someone marks them read."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from store.inbox import KINDS, inbox, mark_read
from store.types import utcnow
from web.auth import requires
from web.context import in_store
from web.exceptions import Missing
from web.routing import route
from web.templating import render


@requires("reports")
async def index(request: Request) -> Response:
    everything = request.query_params.get("show") == "all"
    entries = await in_store(request, inbox, unread_only=not everything)
    return render(request, "inbox.html", entries=entries, everything=everything)


@requires("reports")
async def read(request: Request) -> Response:
    kind, entry_id = request.path_params["kind"], request.path_params["id"]
    if kind not in KINDS:
        raise Missing(f"there is no {kind!r} in the inbox")
    actor = request.state.principal.name
    await in_store(request, mark_read, kind, entry_id, actor=actor, now=utcnow())
    return RedirectResponse("/inbox", status_code=303)


routes = [
    route("/inbox", GET=index),
    route("/inbox/{kind:str}/{id:int}/read", POST=read),
]
