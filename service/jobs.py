"""The scheduled jobs: a verification pass, hosting look-ups, a notification pass.

Each job logs, counts and goes on: an error in one run is logged, never the end of the
service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from settings import Settings
from store.db import Store
from store.types import utcnow

logger = logging.getLogger("ntd.jobs")


@dataclass
class Service:
    """What the jobs share: settings, the store, and the stop signal."""

    settings: Settings
    store: Store
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    runs: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    running: set[asyncio.Task] = field(default_factory=set)
    busy: set[str] = field(default_factory=set)  # the jobs running now, by name
    again: set[str] = field(default_factory=set)  # asked for while running: run again soon
    started: dict[str, datetime] = field(default_factory=dict)  # when each job last began
    # store.queue's wake-ups counted as the latest check pass began: more since is new work.
    wakeups_seen: float | None = None
    # Set by the wiring: bring the next notification pass forward; check now.
    notify_soon: Callable[[], None] = lambda: None
    check_now: Callable[[], None] = lambda: None
    look_for_work: Callable[[], None] = lambda: None  # set by service.process: look now


async def check(service: Service) -> None:
    """A verification pass over every due report, the hosting of what it saw online
    resolved window by window as the pass goes on, then of any other report online still
    missing."""
    from crawler.passes import pass_and_hosting

    async with _counted(service, "check"):
        # Read before the pass claims anything: work queued before it is claimed by this
        # pass, work queued after it counts a wake-up more, and another pass follows.
        service.wakeups_seen = await asyncio.to_thread(wakeups_now, service.store)
        tally, resolved = await pass_and_hosting(
            service.store, service.settings, stop=service.stopping, then_all_missing=True
        )
        if (
            resolved.resolved
            or tally.changes
            or await asyncio.to_thread(_owed_first_notice, service, service.started["check"])
        ):
            # New content online with its abuse desk known, content back or gone, or
            # cleared by the police: its notice need not wait for NOTIFY_EVERY, which is
            # the reminders' pace.
            service.notify_soon()
        logger.info(
            "check: %d checked, %d state changes, %d hostings resolved",
            tally.checks,
            tally.changes,
            resolved.resolved,
        )
    # Work queued while this pass ran has counted a wake-up since: the look runs now,
    # not WAKE_EVERY from now (it must be the look, after this job has ended: APScheduler
    # skips a run asked for while the job's last one still runs).
    service.look_for_work()


def wakeups_now(store: Store) -> float | None:
    """store.queue's wake-ups so far; None when the store cannot say now."""
    from store.queue import wakeups

    try:
        with store.session() as session:
            return wakeups(session)
    except Exception as error:  # the interval pass still comes; the store may be back
        logger.debug("looking for new work: %s", error)
        return None


def _owed_first_notice(service: Service, since: datetime) -> bool:
    """Whether a report the pass found online, never notified, may be notified now: one
    the police cleared, whose hosting was resolved before (no look-up brings it up)."""
    from sqlalchemy import select

    from notifier.ledger import notifiable
    from store.models import Report

    may_go = notifiable(utcnow(), service.settings.police_clearance_timeout)
    with service.store.session() as session:
        found = session.scalar(
            select(Report.id)
            .where(may_go, Report.first_notice_at.is_(None), Report.last_checked_at >= since)
            .limit(1)
        )
    return found is not None


async def notify(service: Service) -> None:
    """Hosting still missing, then the notices, reminders and escalations that are due."""
    from hosting.resolve import resolve_hosting
    from notifier.passes import notify as notify_pass

    async with _counted(service, "notify"):
        await resolve_hosting(service.store, service.settings)
        # smtplib blocks: off the event loop, so crawls and leadership go on meanwhile.
        tally = await asyncio.to_thread(notify_pass, service.store, service.settings)
        logger.info(
            "notify: %d planned, %d sent, %d deferred, %d bounced",
            len(tally.planned),
            len(tally.sent.sent),
            len(tally.sent.deferred),
            len(tally.sent.bounced),
        )
    if "notify" in service.again:  # new content was found while this pass ran
        service.again.discard("notify")
        service.notify_soon()


async def fetch_mail(service: Service) -> None:
    """The unseen messages of IMAP_URL: bounces, auto-replies, providers' replies."""
    from inbound.imap import fetch

    async with _counted(service, "mail"):
        # imaplib and the store block: off the event loop.
        fetched = await asyncio.to_thread(fetch, service.store, service.settings)
        if fetched.total:
            logger.info(
                "mail: %d stored, %d already stored, %d dropped, %d not mail",
                fetched.stored,
                fetched.duplicates,
                fetched.dropped,
                fetched.refused,
            )
        if fetched.stored:
            # A bounce may have sent reports on to their next contact.
            service.notify_soon()


async def purge(service: Service) -> None:
    """Erase what finished reports keep beyond RETENTION (store.retention)."""
    from store.retention import purge_store

    settings = service.settings
    async with _counted(service, "purge"):
        done = await asyncio.to_thread(
            purge_store,
            service.store,
            utcnow(),
            settings.retention,
            settings.reappearance_window,
            actor="scheduler",
            retries=settings.database_retries,
            backoff=settings.database_retry,
            reporter_retention=settings.reporter_retention,
        )
        if done.reports or done.reporters or done.submissions:
            logger.info("purge: %s", done.summary())


class _counted:
    def __init__(self, service: Service, name: str) -> None:
        self.service, self.name = service, name

    async def __aenter__(self) -> None:
        self.service.runs[self.name] = self.service.runs.get(self.name, 0) + 1
        self.service.running.add(asyncio.current_task())
        self.service.busy.add(self.name)
        self.service.started[self.name] = utcnow()

    async def __aexit__(self, kind, error, _traceback) -> bool:
        self.service.running.discard(asyncio.current_task())
        self.service.busy.discard(self.name)
        if error is not None and not isinstance(error, asyncio.CancelledError):
            self.service.failures[self.name] = self.service.failures.get(self.name, 0) + 1
            logger.error("%s failed: %s", self.name, error, exc_info=(kind, error, _traceback))
            return True
        return False
