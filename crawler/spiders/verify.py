"""The spider that verifies reported URLs: is the content still there?

It claims due reports from the store in leased batches, fetches each URL once, hashes
the body as it streams in and drops it, and hands what it saw to the recorder. It never
yields items and never follows links. `ntd check` and `scrapy crawl verify` run it.

Each check fetches through the engine's downloader (`download_async`), so Scrapy's
downloader middlewares, its download handler and the safety resolver still do all the
fetching, redirects included; Scrapy's scheduler, scraper and spider middlewares, which
had nothing to do for this spider, are left out. The spider keeps the fetch slots itself
(crawler/slots.py: CONCURRENCY in all, CONCURRENCY_PER_HOST per host): a check holds
one from its first request to its last answer, and hands it to the next claimed report
as soon as that answer is in.

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
from crawler.slots import FetchSlots
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
RAMP_UP = 0.001  # seconds between checks started into free fetch slots (_ramp_up)
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
        self.running: set[asyncio.Task] = set()  # the checks under way
        self.holding: dict[int, str] = {}  # report: the host whose fetch slot its check holds
        self.latest: dict[int, Request] = {}  # each check's latest request (redirects)
        self.failure: StoreUnavailable | None = None  # the write that stopped the pass

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.ntd = crawler.settings.get(NTD_SETTINGS_KEY) or settings_module.load()
        spider.store = open_store_for(spider.ntd)
        spider.recorder = Recorder(spider.store, spider.ntd, spider.worker, spider._stored)
        spider.cap = spider.ntd.max_body_bytes
        spider.slots = FetchSlots(
            spider.ntd.concurrency, spider.ntd.concurrency_per_host, spider._start_check
        )
        crawler.signals.connect(spider.headers_received, signal=signals.headers_received)
        crawler.signals.connect(spider.bytes_received, signal=signals.bytes_received)
        crawler.signals.connect(spider.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(spider.request_reached, signal=signals.request_reached_downloader)
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
        await self._check_all()
        return
        yield  # start() is an async generator, but each check fetches on its own

    async def _check_all(self) -> None:
        """Claim and check until nothing is due, a stop, or the store failing for good.

        Leases are taken as slots free, not all at once, so that other workers get their
        share: between one and a half and two CONCURRENCY's worth in hand keeps every
        fetch slot busy while the next claim is made. Whatever ends this (a stop,
        cancelled with the crawl, a bug), it ends no sooner than the checks under way:
        the engine would close the spider under them.

        Once nothing is left to claim in a pass judged window by window, the checks kept
        so far are written as one more window, after a resolver probe as at the end, while
        the last fetches run; the pass ends on a write of those alone. The last window of
        a first pass over 2,000 reports took 0.13 to 0.23 s to write after its last
        answer, and `ntd check` waited for it (SCALING.md). A pass smaller than a window
        is judged whole, at its end.
        """
        try:
            await self._claim_and_start()
        except BaseException:
            self._drop_waiting()
            if self.running:
                waiting = asyncio.gather(*self.running, return_exceptions=True)
                try:
                    await asyncio.shield(waiting)
                except asyncio.CancelledError:  # the crawl itself is being cancelled
                    waiting.cancel()
            raise
        writing = None
        if self.failure is None and self.recorder.in_windows():
            writing = asyncio.ensure_future(self._flush_probed())
        while self.running:
            await asyncio.wait(list(self.running))
        if writing is not None:
            try:
                await writing
            except CloseSpider:
                pass  # the store failed for good: self.failure says so
            except Exception:  # a bug: its checks are counted unrecorded (_flush)
                self.logger.exception("writing the checks kept so far failed")
        if self.failure is not None:
            raise CloseSpider("database_failed")

    async def _claim_and_start(self) -> None:
        most = self.ntd.concurrency * 2
        while not self._stopping() and self.failure is None:
            await self._room_or_stop()
            if self._stopping() or self.failure is not None:
                break
            try:
                batch = await self._in_store(self._claim, most - len(self.in_hand))
            except CloseSpider:
                break  # self.failure says why
            for claimed in batch:
                # Its lease ran out while it waited for a slot or for its window's write,
                # and this claim renewed it: it must not be checked twice.
                if claimed.id not in self.in_hand and claimed.id not in self.recorder.unstored:
                    self.in_hand.add(claimed.id)
                    self.slots.add(_slot_key(claimed.url), claimed)
            await self._ramp_up()
            if not batch or self.named_ids is not None:
                break

    def _drop_waiting(self) -> None:
        """Claimed reports that wait for a slot will not be checked: their leases run out."""
        for claimed in self.slots.drop():
            self._let_go(claimed.id)

    async def _ramp_up(self) -> None:
        """Start checks in the free slots, RAMP_UP apart.

        Started together, CONCURRENCY fetches are answered together, a round's latency
        later, and every fetch of the next round waits while the whole wave of answers
        is looked at: 0.85 to 0.90 of the bare loop's throughput latency-bound, against
        0.93 to 0.97 started a millisecond apart (bench/verify --steady). Once the slots
        are full, each answer's slot goes to the next check at once (_free_slot), and
        the spread lasts the pass.
        """
        while self.failure is None and self.slots.start_next():
            await asyncio.sleep(RAMP_UP)

    def _start_check(self, host: str, claimed: Claimed) -> None:
        """FetchSlots' start: the check of ``claimed`` holds a slot of ``host``."""
        self.holding[claimed.id] = host
        task = asyncio.ensure_future(self._check(host, claimed))
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    def _free_slot(self, report_id: int) -> None:
        """A check's last fetch is over: its slot goes to a probe that waits for one, or
        to the next claimed report, at once, before this answer is looked at."""
        host = self.holding.pop(report_id, None)
        if host is not None:
            self._next(host)

    def _next(self, host: str) -> None:
        self.slots.release(host)
        if self.failure is None:
            self.slots.start_next()

    async def _check(self, host: str, claimed: Claimed) -> None:
        """Fetch a claimed report's URL, through Scrapy's downloader and its middlewares
        (redirects included), and record what came back.

        Past Scrapy's scheduler, scraper and spider middlewares, which did nothing for
        this spider but cost 0.18 to 0.27 ms of CPU per check (bench/verify --steady).
        """
        request = self._request(claimed, host)
        self.latest[claimed.id] = request
        try:
            response = failure = None
            try:
                response = await self.crawler.engine.download_async(request)
            except Exception as error:
                failure = error
            # Free already at response_downloaded, unless no answer came, or a redirect
            # that Scrapy declined to follow.
            self._free_slot(claimed.id)
            if failure is not None:
                writing = self._failed(self.latest.get(claimed.id, request), failure)
            else:
                writing = self._checked(response)
            if writing is not None:
                await writing
        except CloseSpider:
            pass  # the store failed for good: self.failure says so, and _check_all stops
        except Exception:  # a bug in a check must not stop the pass: its lease runs out
            self.logger.exception("checking report %d failed; it is not recorded", claimed.id)
        finally:
            self.latest.pop(claimed.id, None)
            self._free_slot(claimed.id)  # already free, unless something above raised
            self._let_go(claimed.id)

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
            self._drop_waiting()
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

    def _request(self, claimed: Claimed, host: str) -> Request:
        return Request(
            claimed.url,
            dont_filter=True,
            meta={
                "claimed": claimed,
                "started": time.monotonic(),
                "download_slot": host,
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

    def response_downloaded(self, response, request, spider) -> None:
        claimed = request.meta.get("claimed")
        if claimed is not None and not _redirecting(response):
            self._free_slot(claimed.id)

    def request_reached(self, request, spider) -> None:
        claimed = request.meta.get("claimed")
        previous = self.latest.get(claimed.id) if claimed is not None else None
        if previous is not None and previous is not request:  # a redirect is followed
            self._take_fingerprint(previous)  # only the last answer's body counts
            self.latest[claimed.id] = request

    # -- what came back ------------------------------------------------------------

    # These return the coroutine to await only when the check must wait (for a soft-404
    # probe, or for its window's write): most checks wait on nothing.

    def _checked(self, response) -> Coroutine | None:
        claimed: Claimed = response.meta["claimed"]
        fingerprint = self._take_fingerprint(response.request)
        body = Body(
            status=response.status,
            content_type=_content_type(response.headers.get(b"Content-Type")),
            sha256=fingerprint.hexdigest() if fingerprint else EMPTY_SHA256,
            truncated=bool(fingerprint and fingerprint.truncated),
        )
        if needs_probe(body, claimed.known):
            return self._after_probe(response, body, fingerprint)
        return self._record_response(response, body, fingerprint, None)

    async def _after_probe(self, response, body: Body, fingerprint: Fingerprint | None):
        probe = await self._probe(response.url)
        writing = self._record_response(response, body, fingerprint, probe)
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

    def _failed(self, request: Request, error: Exception) -> Coroutine | None:
        self._take_fingerprint(request)
        host = urlsplit(request.url).hostname or ""
        verdict = self.resolver.verdicts.get(host)
        outcome, detail = outcome_of_failure(error, verdict)
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
        full = self.recorder.add(claimed.id, check)
        self._let_go(claimed.id)  # room for another claim, before the window's write
        return self._flush() if full else None

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
        except Exception:  # rolled back: the store failed for good (CloseSpider), or a bug
            self.recorder.lost(window)
            raise
        self.recorder.stored(window, changes)

    async def _flush_probed(self) -> None:
        """Write the checks kept so far, held back if our resolver fails its probe now
        (asked only when the pass made any)."""
        failing = None
        if self.recorder.tally.checks:
            failing = await resolver_is_failing(self.ntd, self.ntd.outage_probe_name)
        await self._flush(failing)

    # -- soft-404 probes, once per host per pass ---------------------------------------

    async def _probe(self, url: str) -> Probe:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self.probes:
            self.probes[origin] = asyncio.ensure_future(self._fetch_probe(origin))
        return await asyncio.shield(self.probes[origin])

    async def _fetch_probe(self, origin: str) -> Probe:
        slot = _slot_key(origin)
        request = Request(
            f"{origin}/ntd-probe-{uuid.uuid4().hex}",
            dont_filter=True,
            meta={"download_slot": slot, "dont_retry": True},
        )
        await self.slots.acquire(slot)
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception:  # any failure: no probe answer, and the rules lean to online
            self._take_fingerprint(request)
            return Probe(None, None)
        finally:
            self._next(slot)
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
        await self._flush_probed()
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


def _slot_key(url: str) -> str:
    """The download slot of a URL, for CONCURRENCY_PER_HOST: its registered domain."""
    return registered_domain(urlsplit(url).hostname or "")


def _content_type(value: bytes | None) -> str | None:
    if not value:
        return None
    return value.decode("latin-1").split(";")[0].strip().lower() or None


_REDIRECTS = frozenset((301, 302, 303, 307, 308))


def _redirecting(response) -> bool:
    """Whether Scrapy's redirect middleware will follow this answer with another fetch
    of the same check (it may still decline, at REDIRECT_MAX_TIMES: _check frees the
    slot then)."""
    return response.status in _REDIRECTS and b"Location" in response.headers
