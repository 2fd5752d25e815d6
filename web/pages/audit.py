"""The audit log (admins only): who queued, paused, closed or changed what, and when."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from web.auth import requires
from web.context import in_store
from web.queries import audit_trail, page_bounds, text_param
from web.routing import route
from web.templating import render

PAGE = 100


@requires("admin")
async def audit(request: Request) -> Response:
    actor = text_param(request.query_params, "actor")
    limit, offset = page_bounds(request.query_params, default=PAGE, most=1000)
    entries, total = await in_store(request, audit_trail, actor=actor, limit=limit, offset=offset)

    def page_link(start: int) -> str:
        return "/admin/audit?" + urlencode(
            {**({"actor": actor} if actor else {}), "offset": start, "limit": limit}
        )

    return render(
        request,
        "audit.html",
        entries=entries,
        total=total,
        actor=actor,
        offset=offset,
        limit=limit,
        previous=page_link(max(offset - limit, 0)) if offset else None,
        following=page_link(offset + limit) if offset + limit < total else None,
    )


routes = [route("/admin/audit", GET=audit)]
