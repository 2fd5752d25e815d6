"""One route per path, whatever its methods.

Starlette answers 405 from the first route whose path matches; with one route per method
its ``Allow`` header would name only that route's method. Here each path is one route
that hands the request to the handler of its method.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]


def route(path: str, **handlers: Endpoint) -> Route:
    """``route("/queue", GET=form, POST=submit)``; HEAD goes where GET does."""

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return Route(path, dispatch, methods=list(handlers))
