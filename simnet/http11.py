"""Just enough HTTP/1.1 wire format for the simulated web hosts.

A hand-written codec (rather than an HTTP framework) is what lets the web
server misbehave on purpose: reset a connection mid-request, never answer,
or omit Content-Length.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal

Framing = Literal["length", "chunked", "close"]
"""How a response body is delimited: Content-Length, chunked, or end of connection."""

CHUNK_SIZE = 8192
_NO_BODY_STATUSES = frozenset({204, 304})


class BadRequest(Exception):
    """The client sent something this server does not parse."""


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed request head; header names are lower-cased."""

    method: str
    target: str
    version: str
    headers: dict[str, str]

    @property
    def host(self) -> str:
        """The Host header without port or trailing dot, lower-cased."""
        host = self.headers.get("host", "").strip().lower()
        # An IPv6 literal's own colons are not a port separator.
        host = host[1 : host.find("]")] if host.startswith("[") else host.partition(":")[0]
        return host.rstrip(".")

    @property
    def path(self) -> str:
        """The target without its query string; absolute-form targets are reduced."""
        target = self.target
        if "://" in target:
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        return target.partition("?")[0]

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.1":
            return "close" not in connection
        return "keep-alive" in connection


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Read one request, discarding any body; ``None`` on a clean end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise BadRequest("connection closed inside a request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest("request head too large") from None
    request_line, *header_lines = head[:-4].decode("latin-1").lstrip("\r\n").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"malformed request line {request_line!r}")
    headers = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise BadRequest(f"malformed header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    if "transfer-encoding" in headers:
        raise BadRequest("chunked request bodies are not supported")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise BadRequest("malformed Content-Length") from None
    if length:
        await reader.readexactly(length)
    return Request(parts[0], parts[1], parts[2], headers)


def encode_response(
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    framing: Framing = "length",
    keep_alive: bool = True,
    head_only: bool = False,
) -> bytes:
    """Serialize a complete response.

    ``body`` is sent as given (already content-encoded).  For HEAD requests
    (``head_only``) the framing headers still describe the body that a GET
    would have received, as RFC 9110 asks.
    """
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    keep_alive = keep_alive and framing != "close"
    lines = [f"HTTP/1.1 {status} {reason}", "Server: simnet"]
    lines += [f"{name}: {value}" for name, value in headers]
    if status in _NO_BODY_STATUSES or 100 <= status < 200:
        body = b""
    elif framing == "length":
        lines.append(f"Content-Length: {len(body)}")
    elif framing == "chunked":
        lines.append("Transfer-Encoding: chunked")
        body = _chunked(body)
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body


def _chunked(body: bytes) -> bytes:
    chunks = [body[i : i + CHUNK_SIZE] for i in range(0, len(body), CHUNK_SIZE)]
    return b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"
