"""The Jinja2 templates of the dashboard, with autoescaping on for every one of them.

``render`` gives each page the signed-in user and the CSRF token its forms must carry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from stats.reasons import footnotes, why
from web.charts import FONT
from web.formatting import FILTERS

HERE = Path(__file__).parent


def _page_context(request: Request) -> dict[str, Any]:
    principal = getattr(request.state, "principal", None)
    return {"me": principal, "csrf": (principal.csrf if principal else None) or ""}


templates = Jinja2Templates(directory=HERE / "templates", context_processors=[_page_context])
# Autoescape every template, whatever its name: the charts are .svg templates too.
templates.env.autoescape = True
templates.env.filters.update(FILTERS)
templates.env.globals.update(why=why, footnotes=footnotes, chart_font=FONT)
templates.env.trim_blocks = templates.env.lstrip_blocks = True


def render(request: Request, template: str, /, *, status: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(request, template, context, status_code=status)
