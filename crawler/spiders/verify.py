"""The spider that verifies reported URLs: is the content still there?

It claims due reports from the store in leased batches, fetches each URL once, hashes
the body as it streams in and drops it, and hands what it saw to the recorder. It never
yields items and never follows links. `ntd check` and `scrapy crawl verify` run it.

Its store work (claims, windows of checks, released leases) runs on the store thread,
one piece at a time and in order, so that fetches go on while the database works: on the
reactor's loop, a window's write paused every fetch in flight for up to 157 ms, a claim
for 16. Every write is tried again on a fresh connection when the database connection
drops. When one still fails, the pass stops:
it claims and records nothing more, and `failure` says why; what it claimed and did
not record comes back once LEASE_TTL runs out.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.exceptions import CloseSpider, StopDownload
from sqlalchemy import select

import settings as settings_module
from crawler.failures import outcome_of_failure
from crawler.fingerprint import Fingerprint
from crawler.outcomes import Body, Known, Probe, needs_probe, outcome_of
from crawler.recorder import Recorder
from crawler.resolver import SafeResolver
from crawler.scrapy_settings import NTD_SETTINGS_KEY, scrapy_settings
from hosting.dns import resolver_is_failing
from hosting.domains import registered_domain
from hosting.resolve import fresh_hosting
from store.checks import CheckResult
from store.db import open_store_for
from store.exceptions import StoreUnavailable
from store.lifecycle import OUTCOME_ONLINE
from store.models import Fingerprint as ExpectedFingerprint
from store.models import Report
from store.queue import claim_due, claim_named, release, worker_name
from store.types import utcnow

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# The process's one store thread, shared by its passes (`ntd run` makes one at a time).
STORE_THREAD = ThreadPoolExecutor(1, thread_name_prefix="ntd-store")


class _NoRefererIsOurPolicy(logging.Filter):
    """Scrapy warns at every crawl that, without its RefererMiddleware, no Referer is
    sent on redirects. That is what we want (scrapy_settings.py), not news for staff."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "RefererMiddleware instance to handle Referer" not in record.getMessage()


logging.getLogger("scrapy.downloadermiddlewares.redirect").addFilter(_NoRefererIsOurPolicy())


@dataclass(frozen=True)
class Claimed:
    """A report as the spider needs it: where to fetch, and what to compare with."""

    id: int
    url: str
    known: Known
    hosted_at: str | None = None  # the address its fresh hosting was resolved for


class VerifySpider(Spider):
    """Re-checks every due report, or the named ones. Arguments: ``ids`` (optional);
    ``progress``, ``stop``, ``on_stored`` and ``on_online`` as `crawler.passes.run_pass()`
    takes them.

    Reads CONCURRENCY, LEASE_TTL, MAX_BODY_BYTES, OUTAGE_PROBE_NAME, DATABASE_RETRIES,
    DATABASE_RETRY and SQLITE_BUSY_TIMEOUT; the recorder reads its own.
    """

    name = "verify"

    @classmethod
    def update_settings(cls, settings) -> None:
        super().update_settings(settings)
        ntd = settings.get(NTD_SETTINGS_KEY) or settings_module.load()
        settings.setdict(scrapy_settings(ntd), priority="spider")

    def __init__(
        self, *args, ids=None, progress=None, stop=None, on_stored=None, on_online=None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.progress = progress  # called with each check's outcome, e.g. to draw a bar
        self.stop = stop  # an asyncio.Event: once set, no new batch is claimed
        self.on_stored = on_stored  # called with each stored window's online ids
        self.on_online = on_online  # called with (URL, address) of what needs hosting
        self.unhosted: set[int] = set()  # seen online where no fresh hosting names it
        if isinstance(ids, str):
            ids = [int(i) for i in ids.split(",") if i.strip()]
        self.named_ids: list[int] | None = list(ids) if ids else None
        self.worker = worker_name()
        self.fingerprints: dict[Request, Fingerprint] = {}
        self.probes: dict[str, asyncio.Future] = {}
        self.in_hand: set[int] = set()  # claimed, not yet checked
        self.room = asyncio.Event()  # set when in_hand has room for another batch
        self.failure: StoreUnavailable | None = None  # the write that stopped the pass

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.ntd = crawler.settings.get(NTD_SETTINGS_KEY) or settings_module.load()
        spider.store = open_store_for(spider.ntd)
        spider.recorder = Recorder(spider.store, spider.ntd, spider.worker, spider._stored)
        spider.cap = spider.ntd.max_body_bytes
        crawler.signals.connect(spider.headers_received, signal=signals.headers_received)
        crawler.signals.connect(spider.bytes_received, signal=signals.bytes_received)
        crawler.signals.connect(spider.closed_spider, signal=signals.spider_closed)
        return spider

    # -- where the work comes from -------------------------------------------------

    async def start(self):
        from twisted.internet import reactor

        if not isinstance(reactor.nameResolver, SafeResolver):
            # Without it, nothing would stop a fetch of a private address.
            raise CloseSpider("the safety resolver is not installed; refusing to fetch")
        self.resolver: SafeResolver = reactor.nameResolver
        failing = await resolver_is_failing(self.ntd, self.ntd.outage_probe_name)
        if failing:
            self.recorder.tally.held_reasons.append(f"our resolver is failing: {failing}")
            self.logger.warning("outage guard: not checking: our resolver is failing: %s", failing)
            return
        self.pass_started = utcnow()
        # Leases are taken as slots free, not all at once: Scrapy pulls start() whenever
        # its downloader has room and queues the rest, so a greedy loop would lease the
        # whole queue to the first worker. Between one and a half and two CONCURRENCY's
        # worth in hand keeps every slot busy while the next claim is made, and leaves the
        # rest to the other workers.
        most = self.ntd.concurrency * 2
        while not self._stopping():
            await self._room_or_stop()
            if self._stopping():
                return
            batch = await self._in_store(self._claim, most - len(self.in_hand))
            self.in_hand.update(claimed.id for claimed in batch)
            for claimed in batch:
                yield self._request(claimed)
            if not batch or self.named_ids is not None:
                return

    def _stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def _low_water(self) -> int:
        """How few claimed reports may wait for their check before more are claimed."""
        return self.ntd.concurrency + self.ntd.concurrency // 2

    async def _room_or_stop(self) -> None:
        """Until at most _low_water() claimed reports wait for their check, or a stop."""
        while len(self.in_hand) > self._low_water() and not self._stopping():
            self.room.clear()
            waits = [asyncio.ensure_future(self.room.wait())]
            if self.stop is not None:
                waits.append(asyncio.ensure_future(self.stop.wait()))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()

    def _let_go(self, report_id: int) -> None:
        """The report's check is done with, recorded or not: room for another claim."""
        self.in_hand.discard(report_id)
        if len(self.in_hand) <= self._low_water():
            self.room.set()

    async def _in_store(self, work, *args):
        """Run ``work(*args)`` on the store thread, behind the store work asked before it;
        when the store fails for good, stop the pass."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(STORE_THREAD, partial(work, *args))
        except StoreUnavailable as error:
            self.failure = self.failure or error  # run_pass() raises it, with the count
            raise CloseSpider("database_failed") from error

    def _claim(self, limit: int) -> list[Claimed]:
        """On the store thread: lease up to ``limit`` reports."""
        return self.store.transaction(
            partial(self._claim_in, limit=limit),
            retries=self.ntd.database_retries,
            backoff=self.ntd.database_retry,
        )

    def _claim_in(self, session, *, limit: int) -> list[Claimed]:
        now, lease = utcnow(), self.ntd.lease_ttl
        if self.named_ids is not None:
            ids = claim_named(session, self.worker, self.named_ids, now=now, lease=lease)
        else:
            ids = claim_due(
                session,
                self.worker,
                now=now,
                lease=lease,
                limit=limit,
                pass_started=self.pass_started,
            )
        if not ids:
            return []
        expected: dict[int, set[str]] = {}
        for report_id, sha in session.execute(
            select(ExpectedFingerprint.report_id, ExpectedFingerprint.sha256).where(
                ExpectedFingerprint.report_id.in_(ids)
            )
        ):
            expected.setdefault(report_id, set()).add(sha)
        hosted = fresh_hosting(session, self.ntd, ids) if self._hosting_wanted() else {}
        rows = session.execute(
            select(
                Report.id, Report.canonical_url, Report.first_sha256, Report.first_content_type
            ).where(Report.id.in_(ids))
        )
        return [
            Claimed(
                row.id,
                row.canonical_url,
                Known(
                    frozenset(expected.get(row.id, ())),
                    row.first_sha256,
                    row.first_content_type,
                ),
                hosted.get(row.id),
            )
            for row in rows
        ]

    def _request(self, claimed: Claimed) -> Request:
        host = urlsplit(claimed.url).hostname or ""
        return Request(
            claimed.url,
            callback=self.parse,
            errback=self.failed,
            dont_filter=True,
            meta={
                "claimed": claimed,
                "started": time.monotonic(),
                "download_slot": registered_domain(host),
                "dont_retry": True,
            },
        )

    # -- the body, as it streams ---------------------------------------------------

    def headers_received(self, headers, body_length, request, spider) -> None:
        self.fingerprints[request] = Fingerprint(headers.get(b"Content-Encoding"), self.cap)

    def bytes_received(self, data, request, spider) -> None:
        fingerprint = self.fingerprints.get(request)
        if fingerprint is not None and not fingerprint.feed(data):
            raise StopDownload(fail=False)

    # -- what came back ------------------------------------------------------------

    # Callbacks are plain functions that return a coroutine only when the check must wait
    # (for a soft-404 probe, or for its window's write): Scrapy wraps each coroutine in a
    # Task and a Deferred, and most checks wait on nothing.

    def parse(self, response):
        claimed: Claimed = response.meta["claimed"]
        probing = None
        try:
            fingerprint = self._take_fingerprint(response.request)
            body = Body(
                status=response.status,
                content_type=_content_type(response.headers.get(b"Content-Type")),
                sha256=fingerprint.hexdigest() if fingerprint else EMPTY_SHA256,
                truncated=bool(fingerprint and fingerprint.truncated),
            )
            if needs_probe(body, claimed.known):
                probing = self._after_probe(response, body, fingerprint)
                return probing
            return self._record_response(response, body, fingerprint, None)
        finally:
            if probing is None:
                # Whatever happened: a check that raised must not hold its room forever
                # (its lease runs out and it is checked again next pass).
                self._let_go(claimed.id)

    async def _after_probe(self, response, body: Body, fingerprint: Fingerprint | None):
        try:
            probe = await self._probe(response.url)
            writing = self._record_response(response, body, fingerprint, probe)
        finally:
            self._let_go(response.meta["claimed"].id)
        if writing is not None:
            await writing

    def _record_response(
        self, response, body: Body, fingerprint: Fingerprint | None, probe: Probe | None
    ) -> Coroutine | None:
        claimed: Claimed = response.meta["claimed"]
        outcome, detail = outcome_of(body, claimed.known, probe)
        return self._record(
            claimed,
            response.meta,
            outcome,
            detail,
            http_status=response.status,
            final_url=response.url,
            content_type=body.content_type,
            bytes=fingerprint.length if fingerprint else 0,
            truncated=body.truncated,
            sha256=body.sha256,
            ip=str(response.ip_address) if response.ip_address else None,
            redirects=tuple(response.meta.get("redirect_urls", ())),
        )

    def failed(self, failure) -> Coroutine | None:
        try:
            return self._failed(failure)
        finally:
            self._let_go(failure.request.meta["claimed"].id)

    def _failed(self, failure) -> Coroutine | None:
        request = failure.request
        self._take_fingerprint(request)
        host = urlsplit(request.url).hostname or ""
        verdict = self.resolver.verdicts.get(host)
        outcome, detail = outcome_of_failure(failure.value, verdict)
        return self._record(
            request.meta["claimed"],
            request.meta,
            outcome,
            detail,
            final_url=request.url,
            ip=verdict.addresses[0] if verdict and verdict.addresses else None,
            redirects=tuple(request.meta.get("redirect_urls", ())),
        )

    def _take_fingerprint(self, request: Request) -> Fingerprint | None:
        return self.fingerprints.pop(request, None)

    def _record(
        self, claimed: Claimed, meta: dict, outcome: str, detail: str | None, **seen
    ) -> Coroutine | None:
        """Keep a check; the write of its window to await, when it filled one."""
        elapsed = int((time.monotonic() - meta["started"]) * 1000)
        check = CheckResult(at=utcnow(), outcome=outcome, detail=detail, elapsed_ms=elapsed, **seen)
        if self.progress is not None:
            self.progress(outcome)
        if outcome == OUTCOME_ONLINE and self._hosting_wanted():
            ip = seen.get("ip")
            if ip is not None and ip != claimed.hosted_at:
                self.unhosted.add(claimed.id)
                if self.on_online is not None:
                    self.on_online(claimed.url, ip)
        return self._flush() if self.recorder.add(claimed.id, check) else None

    def _hosting_wanted(self) -> bool:
        return self.on_stored is not None or self.on_online is not None

    def _stored(self, online: list[int]) -> None:
        """A window is stored: ``on_stored`` is given its reports seen online whose fresh
        hosting does not already name the address they answered from. The others need
        no look-up, and asking the store which of them do took a query every window."""
        wanted = [report_id for report_id in online if report_id in self.unhosted]
        self.unhosted.difference_update(wanted)
        if wanted and self.on_stored is not None:
            self.on_stored(wanted)

    async def _flush(self, resolver_failure: str | None = None) -> None:
        """Write the checks kept so far on the store thread, while fetching goes on."""
        window = self.recorder.take(resolver_failure)
        if window is None:
            return
        try:
            changes = await self._in_store(self.recorder.write, window)
        except CloseSpider:
            self.recorder.lost(window)
            raise
        self.recorder.stored(window, changes)

    # -- soft-404 probes, once per host per pass ---------------------------------------

    async def _probe(self, url: str) -> Probe:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self.probes:
            self.probes[origin] = asyncio.ensure_future(self._fetch_probe(origin, parts.hostname))
        return await asyncio.shield(self.probes[origin])

    async def _fetch_probe(self, origin: str, host: str) -> Probe:
        request = Request(
            f"{origin}/ntd-probe-{uuid.uuid4().hex}",
            dont_filter=True,
            meta={"download_slot": registered_domain(host or ""), "dont_retry": True},
        )
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception:  # any failure: no probe answer, and the rules lean to online
            self._take_fingerprint(request)
            return Probe(None, None)
        fingerprint = self._take_fingerprint(response.request)
        return Probe(response.status, fingerprint.hexdigest() if fingerprint else EMPTY_SHA256)

    # -- the end -------------------------------------------------------------------

    async def closed_spider(self, spider, reason) -> None:
        try:
            if self.failure is None:
                await self._record_the_rest()
            else:  # a claim or a release failed for good: the window in hand is lost
                self.recorder.drop_unwritten()
        except CloseSpider:
            pass  # closing already; self.failure says why
        finally:
            self.store.close()

    async def _record_the_rest(self) -> None:
        failing = None
        if self.recorder.tally.checks:
            failing = await resolver_is_failing(self.ntd, self.ntd.outage_probe_name)
        await self._flush(failing)
        # Every lease still held is a report claimed but not recorded: not reached (a stop),
        # its check raised, or claimed by a try whose answer was lost and tried again.
        # Recording gives a lease back, so these go back to the queue.
        await self._in_store(
            partial(
                self.store.transaction,
                partial(release, worker=self.worker),
                retries=self.ntd.database_retries,
                backoff=self.ntd.database_retry,
            )
        )


def _content_type(value: bytes | None) -> str | None:
    if not value:
        return None
    return value.decode("latin-1").split(";")[0].strip().lower() or None
