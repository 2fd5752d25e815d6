"""The JSON API: ``/api/reports``, ``/api/stats``, and its description at ``/openapi.json``.

Callers send ``Authorization: Bearer TOKEN`` (or come with a dashboard session and an
``X-CSRF-Token`` header on writes). Errors are ``{"error": "..."}`` with the status that
fits, from web.errors.
"""

from web.api import openapi, reports, stats

routes = [*reports.routes, *stats.routes, *openapi.routes]
