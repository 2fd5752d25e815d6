"""``python scheduler.py``, the same as ``ntd run``: wires the jobs to their functions.

Each job runs on its interval from settings, never twice at once (``max_instances=1``),
with missed runs folded into one (``coalesce``) and a run that is late by up to one
interval still made (``misfire_grace_time``).
"""

from __future__ import annotations

import settings as settings_module
from service import jobs
from service.logs import configure as configure_logging
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
    window = service.settings.first_notice_window

    def notify_soon() -> None:
        """New content online (or a bounce in): its notice should not wait for
        NOTIFY_EVERY, only FIRST_NOTICE_WINDOW, so that what is found in the same moment
        goes in one email. Brought forward, never put back."""
        if "notify" in service.busy:
            # A run already going would make APScheduler skip this one (max_instances):
            # asked again as soon as it ends (service.jobs.notify).
            service.again.add("notify")
            return
        job = scheduler.get_job("notify")
        at = _now() + window
        if job is not None and (job.next_run_time is None or job.next_run_time > at):
            scheduler.modify_job("notify", next_run_time=at)

    def check_now() -> None:
        """Work queued since the last pass: check it now, not at CHECK_EVERY."""
        if "check" not in service.busy:
            scheduler.modify_job("check", next_run_time=_now())

    service.notify_soon, service.check_now = notify_soon, check_now


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def main() -> None:
    settings = settings_module.load()
    configure_logging(settings)
    run(settings, wire)


if __name__ == "__main__":
    main()
