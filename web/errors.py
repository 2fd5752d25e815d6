"""The one place errors become answers: JSON under ``/api/``, a page everywhere else.

A 401 on a page is the login form itself, so that whoever follows a bookmark signs in
and lands where they meant to go.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from store.exceptions import NotFound, StoreError, StoreUnavailable
from web.exceptions import Unauthenticated, WebError
from web.pages.login import login_page
from web.templating import render

log = logging.getLogger(__name__)


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def on_web_error(request: Request, error: Exception) -> Response:
    if isinstance(error, WebError):
        status, message = error.status, str(error)
    elif isinstance(error, NotFound):
        status, message = 404, str(error)
    elif isinstance(error, StoreUnavailable):
        log.error("store unavailable: %s", error)
        status, message = 503, "the database cannot be reached; try again shortly"
    elif isinstance(error, StoreError):
        status, message = 400, str(error)
    else:  # Starlette's own: no route, a method not allowed (with its Allow header), 413
        status, message = error.status_code, str(error.detail)
    headers = dict(getattr(error, "headers", None) or {})
    if is_api(request):
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    if isinstance(error, Unauthenticated):
        target = request.url.path if request.method == "GET" else "/"
        if request.url.query and request.method == "GET":
            target += "?" + request.url.query
        return login_page(request, next_path=target, status=401)
    response = render(request, "error.html", status=status, code=status, message=message)
    response.headers.update(headers)
    return response


HANDLERS = {WebError: on_web_error, StoreError: on_web_error, HTTPException: on_web_error}
