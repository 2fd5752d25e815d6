"""Signing in and out of the dashboard. Reads ``SESSION_TTL``.

The login form is the only page without a session; it carries a double-submit nonce
instead of the session's CSRF token (see web.sessions).
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from store import throttle
from store.models import Event
from store.types import utcnow
from store.users import authenticate, end_session, start_session
from web.auth import identify, requires
from web.context import in_store, settings_of
from web.routing import route
from web.sessions import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    clear_session_cookie,
    login_nonce,
    same,
    set_login_cookie,
    set_session_cookie,
)
from web.templating import render

HOME = "/reports"


def account_policy(settings) -> throttle.Policy:
    return throttle.Policy(
        settings.login_failures, settings.login_backoff, settings.login_backoff_max
    )


def address_policy(settings) -> throttle.Policy:
    return throttle.Policy(
        settings.login_address_failures, settings.login_backoff, settings.login_backoff_max
    )


def client_address(request: Request) -> str:
    """The client's address as uvicorn saw it (the proxy's X-Forwarded-For, where
    uvicorn is told to trust the proxy)."""
    return request.client.host if request.client else "unknown"


_UNSAFE = re.compile(r"[\s\\\x00-\x1f\x7f]")


def login_page(
    request: Request, *, next_path: str = HOME, status: int = 200, error: str | None = None
) -> Response:
    nonce = login_nonce(request)
    response = render(
        request,
        "login.html",
        status=status,
        nonce=nonce,
        next_path=safe_next(next_path),
        error=error,
    )
    set_login_cookie(response, request, nonce)
    return response


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site."""
    # Browsers drop tabs and newlines from URLs and read a backslash as a slash, so
    # "/\t/evil.example" would become "//evil.example", another site.
    if not path or not path.startswith("/") or _UNSAFE.search(path) or path.startswith("//"):
        return HOME
    return path


async def show_login(request: Request) -> Response:
    if await identify(request):
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return login_page(request, next_path=request.query_params.get("next") or HOME)


async def sign_in(request: Request) -> Response:
    form = await request.form()
    name, password = str(form.get("name") or ""), str(form.get("password") or "")
    next_path = safe_next(str(form.get("next") or ""))
    if not same(str(form.get(CSRF_FIELD) or ""), request.cookies.get(LOGIN_COOKIE) or "\0"):
        return login_page(
            request,
            next_path=next_path,
            status=403,
            error="The form expired; please sign in again.",
        )
    settings = settings_of(request)
    ttl = settings.session_ttl
    account = throttle.key("account", name)
    keys = {account: account_policy(settings)}
    keys[throttle.key("address", client_address(request))] = address_policy(settings)

    def open_session(session):
        now = utcnow()
        # Refused before the password is looked at: a guesser gets no argon2 check.
        waiting = throttle.wait(session, list(keys), now)
        if waiting is not None:
            return None, waiting
        user = authenticate(session, name, password)
        if user is None:
            for key, policy in keys.items():
                throttle.failed(session, key, policy, now)
            return None, None
        # The account's count only: the address's stays, or one account of one's own
        # would reset it between guesses at everyone else's.
        throttle.cleared(session, [account])
        session.add(Event(at=now, actor=user.name, action="logged_in"))
        return start_session(session, user, now=now, ttl=ttl), None

    token, waiting = await in_store(request, open_session)
    if waiting is not None:
        response = login_page(
            request,
            next_path=next_path,
            status=429,
            error=f"Too many failed sign-ins: try again in {waiting} s.",
        )
        response.headers["Retry-After"] = str(waiting)
        return response
    if token is None:
        return login_page(
            request,
            next_path=next_path,
            status=401,
            error="Wrong name or password, or the account is disabled.",
        )
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, request, token, ttl)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@requires("reports")
async def sign_out(request: Request) -> Response:
    if token := request.cookies.get(SESSION_COOKIE):
        await in_store(request, end_session, token)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    return response


routes = [route("/login", GET=show_login, POST=sign_in), route("/logout", POST=sign_out)]
