"""Resolving who hosts each report: the address the crawler connected to, its network,
organisation, country and abuse contact, with where each field came from.

Cost grows with networks, not URLs: answers are cached per BGP prefix (Team Cymru's,
through our resolver) for RDAP_CACHE_TTL in the store, and one look-up per network is
in flight at a time, however many reports share it. Staff's own contacts win over
everything; a CDN's abuse desk is told when the origin hides behind one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import or_, select

from hosting.dns import make_resolver
from hosting.lookup import look_up, with_overrides
from hosting.networks import NetworkLookup
from settings import Settings
from store.contacts import list_contacts
from store.db import Store
from store.models import ONLINE, Hosting, Report
from store.types import utcnow
from store.writes import upsert

logger = logging.getLogger(__name__)
PARALLEL = 32  # DNS look-ups in flight at once
BATCH = 1000  # targets in memory at once: memory stays flat however many are due


@dataclass
class ResolveTally:
    resolved: int = 0
    failed: int = 0
    rdap_requests: int = 0
    rdap_cache_hits: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    report_id: int
    url: str
    ip: str


ID_SLICE = 10_000


def fresh_hosting(session, settings: Settings, ids: list[int]) -> dict[int, str]:
    """Of ``ids`` (at most ID_SLICE), the reports whose hosting is fresh, with the address
    it was resolved for: a report seen online at that address needs no look-up."""
    rows = session.execute(
        select(Hosting.report_id, Hosting.ip).where(
            Hosting.report_id.in_(ids), Hosting.resolved_at >= _stale(settings)
        )
    )
    return {row.report_id: row.ip for row in rows}


def _stale(settings: Settings):
    return utcnow() - settings.rdap_cache_ttl


def targets(store: Store, settings: Settings, ids: list[int] | None = None) -> list[Target]:
    """Reports seen online whose hosting is missing, stale, or for another address."""
    stale = _stale(settings)
    query = (
        select(Report.id, Report.canonical_url, Report.last_ip)
        .outerjoin(Hosting, Hosting.report_id == Report.id)
        .where(Report.seen_online.is_(True), Report.last_ip.isnot(None))
        .where(
            or_(
                Hosting.report_id.is_(None),
                Hosting.ip != Report.last_ip,
                Hosting.resolved_at < stale,
            )
        )
    )
    if ids is None:
        queries = [query.where(Report.state == ONLINE)]
    else:  # in slices: SQLite takes at most 32,766 bound values in one statement
        slices = (ids[start : start + ID_SLICE] for start in range(0, len(ids), ID_SLICE))
        queries = [query.where(Report.id.in_(sliced)) for sliced in slices]
    with store.session() as session:
        return [
            Target(row.id, row.canonical_url, row.last_ip)
            for sliced in queries
            for row in session.execute(sliced)
        ]


async def resolve_hosting(
    store: Store, settings: Settings, ids: list[int] | None = None
) -> ResolveTally:
    """Resolve and store the hosting of every target report."""
    async with HostingResolver(store, settings) as hosting:
        await hosting.resolve(ids)
        return await hosting.finish()


class HostingResolver:
    """Resolves hosting batch by batch, the look-ups shared by every batch of one run:
    an address, host name or network asked for one batch is not asked again for the next.

    ``resolve(ids)`` resolves a batch now; ``submit(ids)`` starts one in the background
    and never raises (a pass hands over each window as it is stored, and hosting must not
    stop the pass: a batch that fails is counted in the tally); ``finish()`` awaits what
    was submitted and returns the tally. Leaving the ``async with`` cancels the batches
    still running (a pass that failed does not wait for its hosting).

    ``expect(url, ip)`` starts the look-ups of one report seen online before its window
    is stored: they wait on RDAP_RATE, the window on the web, so a pass hands each one
    over as it is seen, and ``submit()`` later finds the answers ready.

    Reads RDAP_URL, RDAP_RATE, RDAP_CACHE_TTL and the DNS settings.
    """

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings
        self.tally = ResolveTally()
        self._dns = make_resolver(settings)
        # Thousands of reports share a few addresses and host names: ask Cymru and the
        # DNS once per address and per name in a run, not once per report.
        self._once = _Once()
        self._networks = NetworkLookup(store, settings, self._dns)
        # Only the DNS look-ups are limited here: a host waiting for its network's RDAP
        # answer (another worker's, say) must not hold a place that the next host, on a
        # network nobody is asking yet, could use. RDAP has its own turns (NetworkLookup).
        self._dns_limit = asyncio.Semaphore(PARALLEL)
        self._running: set[asyncio.Task] = set()

    async def __aenter__(self) -> HostingResolver:
        return self

    async def __aexit__(self, *exc_info) -> None:
        try:
            await _cancel(self._running)
            await _cancel(self._once.futures)
        finally:
            await self._networks.close()

    def expect(self, url: str, ip: str) -> None:
        """Start the look-ups for content seen online at ``ip`` now. Never raises."""
        self._lookup(Target(0, url, ip))

    def submit(self, ids: list[int]) -> None:
        """Resolve the hosting of ``ids`` in the background."""
        task = asyncio.ensure_future(self._background(list(ids)))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def finish(self) -> ResolveTally:
        """Await every batch submitted; the tally of the run."""
        while self._running:
            await asyncio.gather(*self._running)
        self.tally.rdap_requests = self._networks.requests_made
        self.tally.rdap_cache_hits = self._networks.cache_hits
        return self.tally

    async def resolve(self, ids: list[int] | None = None) -> None:
        """Resolve and store the hosting of the target reports among ``ids`` (or of
        every report online, with None).

        The store's work runs on a thread: a pass's fetches go on meanwhile (on the loop,
        the reads and upserts of a first pass over 2,000 reports held every fetch's
        answer for about 0.1 s).
        """
        work = await asyncio.to_thread(targets, self.store, self.settings, ids)
        for start in range(0, len(work), BATCH):
            batch = work[start : start + BATCH]
            # Reports on one host name at one address have the same hosting: resolve each
            # pair once and give every report of it the same fields.
            keys = [_key(t) for t in batch]
            first: dict[tuple, Target] = {}
            for key, target in zip(keys, batch, strict=True):
                first.setdefault(key, target)
            found = await asyncio.gather(*(self._lookup(t) for t in first.values()))
            # Used: a host met again later is put together again from the address, name
            # and network look-ups, which stay memoised. Kept, these whole answers would
            # grow with every host of a pass.
            self._once.forget(("hosting", *key) for key in first)
            fields_of = dict(zip(first, found, strict=True))
            results = [fields_of[key] for key in keys]
            resolved = await asyncio.to_thread(_store, self.store, batch, results)
            # Counted once committed: a batch whose write failed resolved nothing.
            self.tally.resolved += resolved
            self.tally.failed += len(batch) - resolved

    def _lookup(self, target: Target) -> asyncio.Future:
        """The hosting of ``target``'s host name at its address, looked up once a run."""
        return self._once.start(("hosting", *_key(target)), lambda: self._one(target))

    async def _background(self, ids: list[int]) -> None:
        try:
            await self.resolve(ids)
        except Exception as error:  # the store failed us: notify resolves what is missing
            logger.warning("hosting of %d reports: %s", len(ids), error)
            self.tally.errors.append(f"{len(ids)} reports left unresolved: {error}")

    async def _one(self, target: Target) -> dict | None:
        try:
            return await look_up(target.url, target.ip, self._dns_lookups, self._networks)
        except Exception as error:  # one host's failure must not stop the rest
            host, ip = _key(target)
            logger.warning("hosting of %s at %s: %s", host, ip, error)
            self.tally.errors.append(f"{host} at {ip}: {error}")
            return None

    def _dns_lookups(self, key: tuple, lookup):
        """``lookup(resolver)``, once a run for ``key`` and at most PARALLEL at a time."""

        async def limited():
            async with self._dns_limit:
                return await lookup(self._dns)

        return self._once(key, limited)


def _key(target: Target) -> tuple[str | None, str]:
    """Reports on one host name at one address have the same hosting."""
    return urlsplit(target.url).hostname, target.ip


# A resolution replaces the previous one whole: a field this one did not find is cleared,
# not left over from an address the report no longer has.
_EMPTY = {column.name: None for column in Hosting.__table__.columns}


def _store(store: Store, work: list[Target], results: list) -> int:
    """Store the hosting found for ``work``; how many reports got one."""
    now = utcnow()
    with store.session() as session:
        contacts = list_contacts(session)  # staff's, read once for the batch
        applied: dict[int, dict] = {}  # reports of one host and address share their fields
        rows = []
        for target, fields in zip(work, results, strict=True):
            if fields is not None:
                if id(fields) not in applied:
                    applied[id(fields)] = with_overrides(contacts, fields)
                fields = applied[id(fields)]
                rows.append({**_EMPTY, **fields, "report_id": target.report_id, "resolved_at": now})
        # An upsert: another worker may be resolving the same reports at this moment.
        upsert(session, Hosting, rows)
    return len(rows)


class _Once:
    """Single-flight, per-run memo of look-ups by key."""

    def __init__(self) -> None:
        self._futures: dict[tuple, asyncio.Future] = {}

    @property
    def futures(self) -> list[asyncio.Future]:
        return list(self._futures.values())

    def start(self, key: tuple, make) -> asyncio.Future:
        """The look-up of ``key``, started now unless it already was; awaitable as is
        (shielded: one awaiter cancelled does not cancel it for the others)."""
        if key not in self._futures:
            self._futures[key] = asyncio.ensure_future(make())
        return asyncio.shield(self._futures[key])

    async def __call__(self, key: tuple, make):
        return await self.start(key, make)

    def forget(self, keys) -> None:
        """Drop finished look-ups: the next ask for one of ``keys`` asks again."""
        for key in keys:
            future = self._futures.get(key)
            if future is not None and future.done():
                del self._futures[key]


async def _cancel(futures) -> None:
    """Cancel what is still running and wait until it has stopped."""
    futures = list(futures)
    for future in futures:
        future.cancel()
    await asyncio.gather(*futures, return_exceptions=True)


def resolve_missing(store: Store, settings: Settings) -> ResolveTally:
    """The blocking form, for commands that run no event loop of their own."""
    return asyncio.run(resolve_hosting(store, settings))


__all__ = [
    "HostingResolver",
    "ResolveTally",
    "fresh_hosting",
    "resolve_hosting",
    "resolve_missing",
    "targets",
]
