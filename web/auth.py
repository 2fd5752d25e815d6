"""Who is asking, and whether they may: bearer tokens, session cookies, roles and CSRF.

Roles nest: an analyst queues and views reports; a manager also reads statistics and
exports; an admin also manages users and contacts and reads the audit log. A session is
valid until the ``SESSION_TTL`` it was opened with (see web.pages.login) runs out.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from store import throttle
from store.types import utcnow
from store.users import User, user_for_session, user_for_token
from web.context import in_store, settings_of
from web.exceptions import Forbidden, TooMany, Unauthenticated
from web.sessions import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, csrf_token, same

RANK = {"analyst": 0, "manager": 1, "admin": 2}
# The least role each right needs.
NEEDS = {"reports": "analyst", "stats": "manager", "admin": "admin"}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Form bodies may hold many pasted URLs (up to 8 KB each); Starlette's default is 1 MiB.
MAX_FORM_FIELD = 16 * 1024 * 1024

Endpoint = Callable[[Request], Awaitable[Response]]
_UNKNOWN = object()


@dataclass(frozen=True)
class Principal:
    """A signed-in user. ``session_token`` is set when they came by cookie, not by token."""

    name: str
    role: str
    session_token: str | None = None

    def may(self, right: str) -> bool:
        return RANK[self.role] >= RANK[NEEDS[right]]

    @property
    def csrf(self) -> str | None:
        return csrf_token(self.session_token) if self.session_token else None


async def identify(request: Request) -> Principal | None:
    """The user behind the request's bearer token or session cookie, or None."""
    known = getattr(request.state, "principal", _UNKNOWN)
    if known is not _UNKNOWN:
        return known
    principal = None
    header = request.headers.get("authorization")
    if header is not None:
        # A bad Authorization header is not ignored in favour of the cookie: a script
        # with a revoked token should hear 401, not act as whoever uses the browser.
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            user = await in_store(request, _token_user, token.strip(), _token_key(request))
            principal = _principal(user)
    elif cookie := request.cookies.get(SESSION_COOKIE):
        user = await in_store(request, user_for_session, cookie, now=utcnow())
        principal = _principal(user, cookie)
    request.state.principal = principal
    return principal


def _token_key(request: Request) -> tuple[str, throttle.Policy]:
    from web.pages.login import address_policy, client_address

    key = throttle.key("token-address", client_address(request))
    return key, address_policy(settings_of(request))


def _token_user(session, token: str, throttled: tuple[str, throttle.Policy]) -> User | None:
    """The token's user; failed look-ups from one address are throttled as sign-ins are."""
    key, policy = throttled
    now = utcnow()
    waiting = throttle.wait(session, [key], now)
    if waiting is not None:
        raise TooMany(f"too many unknown tokens from this address; wait {waiting} s", waiting)
    user = user_for_token(session, token)
    if user is None:
        throttle.failed(session, key, policy, now)
    return user


def requires(right: str) -> Callable[[Endpoint], Endpoint]:
    """Endpoint decorator: 401 without a user, 403 without the right or a good CSRF token."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            principal = await identify(request)
            if principal is None:
                raise Unauthenticated("sign in, or send Authorization: Bearer TOKEN")
            if not principal.may(right):
                raise Forbidden(f"the {principal.role} role may not do this")
            if request.method not in SAFE_METHODS and principal.session_token:
                await _check_csrf(request, principal)
            return await endpoint(request)

        return guarded

    return decorate


async def _check_csrf(request: Request, principal: Principal) -> None:
    # Only cookie sessions need this: a browser sends cookies on its own, never a token.
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form(max_part_size=MAX_FORM_FIELD)
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not same(given, principal.csrf):
        raise Forbidden("this form has expired or did not come from this site; reload the page")


def _principal(user: User | None, session_token: str | None = None) -> Principal | None:
    return None if user is None else Principal(user.name, user.role, session_token)
