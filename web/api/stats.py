"""``GET /api/stats``: the `ntd stats --json` figures (managers and admins). Reads MIN_GROUP."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from stats.query import figures
from web.auth import requires
from web.context import in_thread, settings_of, store_of
from web.routing import route


@requires("stats")
async def stats(request: Request) -> Response:
    result = await in_thread(figures, store_of(request), settings_of(request).min_group)
    return JSONResponse(result)


routes = [route("/api/stats", GET=stats)]
