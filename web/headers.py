"""Security headers on every response: pages, the API, static files and errors alike.

Reported URLs are addresses of abuse material. The policy below makes sure a page can
never make the browser fetch one: nothing loads from anywhere but this server, no script
runs but our own files (we ship none today), no Referer leaves, nothing is prefetched,
and pages holding URLs are not kept in the browser's cache.
"""

from __future__ import annotations

import logging
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "x-dns-prefetch-control": "off",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
STATIC_PREFIX = "/static/"


class SecurityHeaders:
    """ASGI middleware: adds ``HEADERS``, and ``Cache-Control: no-store`` but on static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = dict(HEADERS)
        if not scope["path"].startswith(STATIC_PREFIX):
            extra["cache-control"] = "no-store"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.decode("latin-1").lower() not in extra
                ]
                headers += [(k.encode(), v.encode()) for k, v in extra.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SecretPaths(logging.Filter):
    """Keeps provider-page tokens (``/p/TOKEN``) out of uvicorn's access log: a token
    in a log line would open that notice's page to whoever reads the logs."""

    _TOKEN = re.compile(r"(/p/)[^/?\s]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._TOKEN.sub(r"\1…", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True
