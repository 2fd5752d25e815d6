"""Login cookies and the CSRF tokens that go with them.

A session cookie holds a random token; the store keeps its SHA-256 and when it expires
(``SESSION_TTL``). The cookie is HttpOnly and SameSite=Strict, and Secure whenever the
request came over HTTPS (directly, or through a proxy uvicorn trusts).

Every form carries a CSRF token: an HMAC of the session token, so it is per session,
needs no storage, and cannot be computed by a page that cannot read the cookie. The login
form has no session yet; it uses a double-submit nonce cookie instead, so that nobody
can sign a victim's browser into an account of theirs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "ntd_session"
LOGIN_COOKIE = "ntd_login"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


def csrf_token(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"ntd csrf", hashlib.sha256).hexdigest()


def same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def set_session_cookie(response: Response, request: Request, token: str, ttl: timedelta):
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ttl.total_seconds()),
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


def login_nonce(request: Request) -> str:
    """The login form's nonce: the one already in the browser's cookie, or a new one."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)


def set_login_cookie(response: Response, request: Request, nonce: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        path="/login",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
