"""The ``ntd run`` process: one asyncio reactor, forever, with the scheduler on its loop.

Crawls need Scrapy's reactor, which cannot be restarted; so the process installs it once
and every pass is a new crawl on it (``crawler.passes.run_pass``). APScheduler's
AsyncIOScheduler runs on the same loop. Leadership is looked at every third of
LEADER_TIMEOUT: a standby takes over within it, a leader that lost its lock pauses.
SIGTERM or SIGINT: no new job starts, a running pass finishes the batch in hand, then
the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from scrapy.utils.reactor import install_reactor

from service.jobs import Service
from service.leader import Leadership
from settings import Settings
from store.db import open_store_for

logger = logging.getLogger("ntd.run")
REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def run(settings: Settings, wire: Callable) -> None:
    """Run until a signal. ``wire(scheduler, service)`` adds the jobs."""
    install_reactor(REACTOR)
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from twisted.internet import reactor

    loop = reactor._asyncioEventloop
    asyncio.set_event_loop(loop)
    store = open_store_for(settings)
    service = Service(settings, store)
    scheduler = AsyncIOScheduler(event_loop=loop)
    wire(scheduler, service)
    leadership = Leadership(store)

    async def lead() -> None:
        while not service.stopping.is_set():
            leading = leadership.try_lead()
            if leading and scheduler.state == 2:  # paused
                scheduler.resume()
            elif not leading and scheduler.state == 1:  # running
                scheduler.pause()
            await _sleep_or_stop(service, settings.leader_timeout.total_seconds() / 3)

    async def stop() -> None:
        logger.warning("stopping: finishing the work in hand")
        service.stopping.set()
        scheduler.shutdown(wait=False)
        if service.running:
            await asyncio.gather(*service.running, return_exceptions=True)
        leadership.release()
        store.close()
        reactor.stop()

    def on_signal() -> None:
        if not service.stopping.is_set():
            asyncio.ensure_future(stop())

    def started() -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal)
        scheduler.start(paused=True)
        asyncio.ensure_future(lead())
        logger.warning("scheduler started: standing by for the lead")

    reactor.callWhenRunning(started)
    reactor.run(installSignalHandlers=False)


async def _sleep_or_stop(service: Service, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(service.stopping.wait(), timeout=seconds)
