"""The web dashboard and JSON API of ``ntd serve``.

Server-rendered pages (Starlette and Jinja2, no build step, no script) and a JSON API with
per-user tokens, over the same store and intake as the command line. Nothing is loaded
from anywhere but this server, and a reported URL is only ever shown as text.

    app = web.create_app(settings.load(), store.db.open_store(url))
"""

from web.app import create_app

__all__ = ["create_app"]
