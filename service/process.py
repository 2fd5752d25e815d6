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
import os
import signal
import socket
import threading
from collections.abc import Callable

from scrapy.utils.reactor import install_reactor

from crawler.passes import settle_heap
from service.jobs import Service, wakeups_now
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
            if leading:
                await asyncio.to_thread(beat, store)
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

    async def watch() -> None:
        """Work queued between passes is checked at once, not at CHECK_EVERY: a look
        every WAKE_EVERY, and on PostgreSQL a NOTIFY from whoever queued it."""
        woken = asyncio.Event()
        service.look_for_work = woken.set  # at the end of every check pass
        listener = Listener(store, loop, woken.set) if store.dialect == "postgresql" else None
        try:
            while not service.stopping.is_set():
                woken.clear()  # first: a wake-up that comes while it looks is not lost
                if scheduler.state == 1 and "check" not in service.busy:
                    count = await asyncio.to_thread(wakeups_now, store)
                    if count is not None and count != service.wakeups_seen:
                        service.check_now()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), settings.wake_every.total_seconds())
        finally:
            if listener is not None:
                listener.stop()

    def started() -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal)
        scheduler.start(paused=True)
        asyncio.ensure_future(lead())
        if settings.wake_every.total_seconds() > 0:  # 0s: only the intervals, as before
            asyncio.ensure_future(watch())
        logger.warning("scheduler started: standing by for the lead")

    reactor.callWhenRunning(started)
    settle_heap()
    reactor.run(installSignalHandlers=False)


class Listener:
    """LISTEN on PostgreSQL, on a thread and a connection of its own: each NOTIFY of
    store.queue.wake() calls ``wake`` on the loop."""

    def __init__(self, store, loop: asyncio.AbstractEventLoop, wake) -> None:
        self.store, self.loop, self.wake = store, loop, wake
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._listen, name="ntd-listen", daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        from store.queue import WAKE_CHANNEL

        while not self.stopping.is_set():
            try:
                raw = self.store.engine.raw_connection()
                try:
                    connection = raw.driver_connection
                    connection.autocommit = True
                    connection.execute(f"LISTEN {WAKE_CHANNEL}")
                    while not self.stopping.is_set():
                        for _ in connection.notifies(timeout=1.0, stop_after=1):
                            self.loop.call_soon_threadsafe(self.wake)
                finally:
                    raw.invalidate()  # never back to the pool in LISTEN mode
            except Exception as error:  # the store went away: the looks every
                logger.debug("listening for new work: %s", error)  # WAKE_EVERY go on
                self.stopping.wait(5)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)


def beat(store) -> None:
    """Say in the store that this process leads now: /healthz and /metrics read it."""
    from store.models import Heartbeat
    from store.types import utcnow
    from store.writes import upsert

    holder = f"{socket.gethostname()}:{os.getpid()}"
    try:
        with store.session() as session:
            upsert(session, Heartbeat, [{"name": "scheduler", "holder": holder, "at": utcnow()}])
    except Exception as error:  # leading goes on; /healthz will say the store failed
        logger.warning("heartbeat not written: %s", error)


async def _sleep_or_stop(service: Service, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(service.stopping.wait(), timeout=seconds)
