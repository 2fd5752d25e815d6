"""``python scheduler.py``, the same as ``ntd run``: wires the jobs to their functions.

Each job runs on its interval from settings, never twice at once (``max_instances=1``),
with missed runs folded into one (``coalesce``) and a run that is late by up to one
interval still made (``misfire_grace_time``).
"""

from __future__ import annotations

import logging

import settings as settings_module
from service import jobs
from service.process import run


def wire(scheduler, service: jobs.Service) -> None:
    every = {
        "check": service.settings.check_every.total_seconds(),
        "notify": service.settings.notify_every.total_seconds(),
        "mail": service.settings.imap_every.total_seconds(),
        "purge": service.settings.purge_every.total_seconds(),
    }
    wired = [("check", jobs.check), ("notify", jobs.notify), ("purge", jobs.purge)]
    if service.settings.imap_url:
        wired.append(("mail", jobs.fetch_mail))
    for name, function in wired:
        scheduler.add_job(
            function,
            "interval",
            args=[service],
            id=name,
            name=name,
            seconds=every[name],
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(every[name])),
            next_run_time=_now(),
        )
    # New content online: its first notice should not wait for NOTIFY_EVERY.
    service.notify_soon = lambda: scheduler.modify_job("notify", next_run_time=_now())


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def log_as_a_service() -> None:
    """Timestamped INFO lines on stderr, Scrapy's from WARNING up; replaces what a
    command had set up before (`ntd run` comes through the `ntd` group's logging)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True
    )
    logging.getLogger("scrapy").setLevel(logging.WARNING)


def main() -> None:
    log_as_a_service()
    run(settings_module.load(), wire)


if __name__ == "__main__":
    main()
