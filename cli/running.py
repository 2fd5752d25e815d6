"""``ntd run``: the long-running scheduler, the same as ``python scheduler.py``."""

from __future__ import annotations

from cli import loading_modules, main
from cli.context import Context


@main.command()
def run():
    """Check, resolve hosting and notify on their intervals, until stopped.

    CHECK_EVERY and NOTIFY_EVERY set the intervals. Several schedulers may share one
    PostgreSQL database: one leads, the others stand by and take over within
    LEADER_TIMEOUT. SIGTERM finishes the work in hand and exits.
    """
    with loading_modules():
        import scheduler
        from service.logs import configure as configure_logging
        from service.process import run as run_service

    settings = Context().settings
    configure_logging(settings)
    run_service(settings, scheduler.wire)
