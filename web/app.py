"""The Starlette application: routes, middleware and error handlers, wired once.

``create_app(settings, store)`` is what ``ntd serve`` runs and what the tests drive.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from settings import Settings
from store.db import Store
from web import api
from web.errors import HANDLERS
from web.headers import SecurityHeaders
from web.pages import (
    admin,
    assess,
    audit,
    health,
    inbox,
    intake,
    login,
    provider,
    public,
    reports,
    statistics,
)
from web.templating import HERE

# A CSV of 100,000 reports is about 10 MB; anything much larger is a mistake or an attack.
MAX_REQUEST_BYTES = 64 * 1024 * 1024


def create_app(settings: Settings, store: Store) -> Starlette:
    """The dashboard and the JSON API on ``store``.

    The handlers read SESSION_TTL, MIN_GROUP and DEFAULT_CATEGORY from ``settings``,
    kept on ``app.state`` with the store.
    """
    routes = [
        *login.routes,
        *reports.routes,
        *intake.routes,
        *statistics.routes,
        *admin.routes,
        *audit.routes,
        *inbox.routes,
        *provider.routes,
        *public.routes,
        *assess.routes,
        *health.routes,
        *api.routes,
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        # Outermost, so that even errors and 404s carry the security headers.
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers=HANDLERS,
        max_body_size=MAX_REQUEST_BYTES,
    )
    app.state.settings, app.state.store = settings, store
    return app
