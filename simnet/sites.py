"""What simulated web hosts serve: pages, scripted faults, and the sites themselves.

Sites are plain thread-safe data.  Tests mutate them from their own thread
while the server reads them on the event loop; every change applies from
the next request on.
"""

from __future__ import annotations

import collections
import enum
import functools
import gzip as gzip_codec
import mimetypes
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import TYPE_CHECKING

from simnet.content import html_body, image_body
from simnet.http11 import Framing

if TYPE_CHECKING:
    from simnet.requestlog import RequestRecord
    from simnet.web import WebServer

HTML = "text/html; charset=utf-8"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class Fault(enum.Enum):
    """A way for a request to fail below the HTTP level."""

    RESET = "reset"
    """Abort the connection with a TCP RST once the request has arrived."""
    HANG = "hang"
    """Read the request and never answer, until the server stops."""


@dataclass(frozen=True)
class Page:
    """The response one URL gets.

    ``framing`` chooses how the body is delimited; ``"chunked"`` and
    ``"close"`` both omit Content-Length.  ``gzip`` sends the body with
    ``Content-Encoding: gzip`` whatever the client's Accept-Encoding says.
    ``delay`` is slept before the response head, after the host's latency.
    """

    status: int = 200
    body: bytes = b""
    content_type: str = HTML
    headers: tuple[tuple[str, str], ...] = ()
    gzip: bool = False
    framing: Framing = "length"
    delay: float = 0.0

    @functools.cached_property
    def wire_body(self) -> bytes:
        """The body as sent, compressed once rather than per request."""
        return gzip_codec.compress(self.body, mtime=0) if self.gzip else self.body

    @property
    def wire_headers(self) -> list[tuple[str, str]]:
        headers = [("Content-Type", self.content_type), *self.headers]
        if self.gzip:
            headers.append(("Content-Encoding", "gzip"))
        return headers


def status_page(status: int, *, headers: Mapping[str, str] | None = None, text: str = "") -> Page:
    """A page answering ``status`` with a short HTML explanation."""
    try:
        title = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        title = str(status)
    return Page(status, html_body(title, text), headers=tuple((headers or {}).items()))


class Site:
    """One simulated web host: a name, a loopback address and its pages.

    Paths without a page get the catch-all page if one is set (see
    :meth:`catch_all`), else a 404.  ``latency`` (seconds) delays every
    response head of this host; assign it at any time.
    """

    def __init__(self, name: str, address: str, server: WebServer, *, latency: float = 0.0) -> None:
        self.name = name
        self.address = address
        self.latency = latency
        self._server = server
        self._lock = threading.Lock()
        self._pages: dict[str, Page] = {}
        self._fallback = status_page(404, text=f"{name} has no such page")
        self._faults: dict[str | None, collections.deque[Page | Fault]] = {}
        self._replacements = 0

    def __repr__(self) -> str:
        return f"<Site {self.name} at {self.address}>"

    def url(self, path: str = "/", scheme: str = "http") -> str:
        """The URL of ``path`` on this site, e.g. ``http://shop.test:PORT/a.jpg``."""
        return self._server.url(self.name, path, scheme)

    def page(
        self,
        path: str,
        body: bytes | None = None,
        *,
        status: int = 200,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        gzip: bool = False,
        framing: Framing = "length",
        delay: float = 0.0,
    ) -> None:
        """Serve ``path``.

        Without ``body`` the page gets a marked default body: a fake JPEG when
        the path looks like an image, else HTML naming the site and path.
        ``content_type`` defaults to a guess from the path's extension.
        """
        guessed = mimetypes.guess_type(path.partition("?")[0])[0]
        if body is None:
            is_image = bool(guessed and guessed.startswith("image/"))
            body = image_body() if is_image else html_body(f"{self.name}{path}")
            content_type = content_type or (guessed if is_image else HTML)
        page = Page(
            status,
            body,
            content_type or guessed or HTML,
            tuple((headers or {}).items()),
            gzip,
            framing,
            delay,
        )
        with self._lock:
            self._pages[path] = page

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        """Make ``path`` redirect to ``location`` (absolute URL or path).

        Chains and loops are built from several calls.
        """
        if status not in REDIRECT_STATUSES:
            raise ValueError(f"{status} is not a redirect status")
        page = status_page(status, headers={"Location": location}, text=f"moved to {location}")
        with self._lock:
            self._pages[path] = page

    def take_down(self, path: str, status: int = 404) -> None:
        """Replace ``path`` by an error page, typically 404, 410 or 451."""
        with self._lock:
            self._pages[path] = status_page(status, text="this content has been removed")

    def replace(
        self, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> None:
        """Serve new content at an existing ``path`` with status 200.

        Delivery options (gzip, framing, delay) are kept.  Without ``body``
        a new marked HTML body is used, different from any served before.
        """
        with self._lock:
            self._replacements += 1
            if body is None:
                body = html_body(f"{self.name}{path}", f"replacement {self._replacements}")
                content_type = content_type or HTML
            old = self._pages.get(path)
            if old is None:
                raise KeyError(f"{self.name} has no page {path!r} to replace")
            self._pages[path] = replace(
                old,
                status=200,
                body=body,
                content_type=content_type or old.content_type,
                headers=(),
            )

    def catch_all(
        self, body: bytes | None = None, *, status: int = 200, content_type: str = HTML
    ) -> None:
        """Answer every path without a page of its own with the same page.

        With the default status 200 this is a soft-404 host.
        """
        body = html_body(f"Welcome to {self.name}", "catch-all page") if body is None else body
        with self._lock:
            self._fallback = Page(status, body, content_type)

    def fail_next(self, path: str | None, count: int = 1, mode: str | int = "reset") -> None:
        """Make the next ``count`` requests for ``path`` fail, then behave normally.

        ``path=None`` targets any path of this site (checked after
        path-specific failures).  ``mode`` is ``"reset"``, ``"hang"`` or an
        HTTP status such as ``503`` or ``"503"``.  Repeated calls queue up, so
        ``fail_next(p, 2, "reset"); fail_next(p, 1, 503)`` scripts three failures.
        """
        if mode in ("reset", "hang"):
            failure: Page | Fault = Fault(mode)
        else:
            failure = status_page(int(mode), text="scripted failure")
        with self._lock:
            self._faults.setdefault(path, collections.deque()).extend([failure] * count)

    def respond(self, target: str, path: str) -> Page | Fault:
        """What to answer a request for ``target``, consuming a scripted failure if due.

        A page registered with a query string matches that exact target first.
        """
        with self._lock:
            for key in (path, None):
                queue = self._faults.get(key)
                if queue:
                    return queue.popleft()
            return self._pages.get(target) or self._pages.get(path) or self._fallback

    @property
    def requests(self) -> list[RequestRecord]:
        """The requests routed to this site, oldest first."""
        return self._server.log.records(site=self.name)

    @property
    def request_count(self) -> int:
        return len(self.requests)
