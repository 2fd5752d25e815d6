"""Running a verification pass: on a reactor that is already running, or as a command.

`run_pass()` is a coroutine for the asyncio reactor's loop: the scheduler and the tests
run many passes on one long-lived reactor. `check()` is the command's way: install the
reactor, run one pass, stop.

A pass whose database failed for good, tried again as DATABASE_RETRIES allows, raises
StoreUnavailable saying what was and was not recorded: the command prints it and exits
1, the scheduler logs it and goes on.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

# Imported here, not where Scrapy would import it (when the engine starts, under the
# reactor's deep stack): the module makes three deprecated aliases, and each calls
# inspect.stack(), which finds the module and reads the source of every frame on the
# stack. Imported under the pass it cost about 0.2 s of every `ntd check` (cProfile).
import scrapy.core.downloader.handlers.http11  # noqa: F401
from scrapy.crawler import AsyncCrawlerRunner
from scrapy.settings import Settings as ScrapySettings

from crawler.recorder import PassTally
from crawler.resolver import SafeResolver
from crawler.scrapy_settings import NTD_SETTINGS_KEY
from crawler.spiders.verify import VerifySpider
from settings import Settings
from store.db import Store
from store.exceptions import StoreUnavailable

REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
T = TypeVar("T")
YOUNG_GENERATION = 10_000  # objects allocated between two collections; Python's is 700


def settle_heap() -> None:
    """Tune the cyclic garbage collector for passes, once the process has started.

    What start-up built (modules, SQLAlchemy's and Scrapy's machinery) lives as long as
    the process. Frozen, it is no longer walked by every full collection: those took 82
    to 113 ms each, four times a pass of 2,000 checks, and every fetch in flight waited.
    A pass makes cyclic garbage fast (Deferreds, Failures, their frames); collected
    every 10,000 allocations instead of every 700, it cost about 25 collections and
    0.1 s a pass of 5,000 checks instead of 650 and 0.55 s (bench/verify --steady).
    Collected so seldom, the garbage of one pass outlived it, and RSS rose by 9.5% over
    60 passes: in a settled process, run_pass() collects before each pass (10 to 17 ms),
    and RSS stays flat (bench/verify --rss-passes).
    """
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION, 10, 10)


async def run_pass(
    settings: Settings,
    ids: Sequence[int] | None = None,
    progress: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
    on_stored: Callable[[list[int]], None] | None = None,
    on_online: Callable[[str, str], None] | None = None,
) -> PassTally:
    """One pass over every due report, or over ``ids`` now. Needs the asyncio reactor.

    ``progress`` is called with the outcome of each check as it is made. Once ``stop``
    is set, the pass claims nothing more and ends when the batch in hand is done.
    ``on_stored`` is called, as each window of checks is stored, with the ids of its
    reports seen online whose hosting is missing, stale or for another address
    (`HostingResolver.submit`, say); ``on_online``, as each such check is made, with the
    report's URL and address (`HostingResolver.expect`).
    Raises StoreUnavailable when the pass stopped because the database failed.
    """
    from twisted.internet import reactor

    if gc.get_freeze_count() and gc.get_count()[2]:
        # Settled (settle_heap), and something reached the oldest generation since its
        # last collection: what the last pass and jobs left. After a pass of a few reports
        # nothing has, and the collection (10 to 25 ms) would find nothing there.
        gc.collect()
    # Installed for each pass: the runner ignores TWISTED_DNS_RESOLVER (LIBRARIES.md),
    # and each pass may come with other settings.
    reactor.installNameResolver(SafeResolver(reactor, settings))
    scrapy_settings = ScrapySettings()
    scrapy_settings.setmodule("crawler.settings", priority="project")
    scrapy_settings.set(NTD_SETTINGS_KEY, settings, priority="cmdline")
    runner = AsyncCrawlerRunner(scrapy_settings)
    crawler = runner.create_crawler(VerifySpider)
    await runner.crawl(
        crawler,
        ids=list(ids) if ids else None,
        progress=progress,
        stop=stop,
        on_stored=on_stored,
        on_online=on_online,
    )
    spider = crawler.spider
    if spider.failure is not None:
        raise StoreUnavailable(stopped_because(spider)) from spider.failure
    return spider.recorder.tally


def stopped_because(spider: VerifySpider) -> str:
    """Why a pass whose store failed stopped, and what of it was and was not recorded."""
    settings = spider.ntd
    tally = spider.recorder.tally
    recorded = tally.checks - tally.unrecorded
    waiting = f"the {tally.unrecorded} others"
    if spider.in_hand:
        waiting += f" and {len(spider.in_hand)} reports claimed but not yet fetched"
    return (
        f"the pass stopped: {spider.failure}. {recorded} of its {tally.checks} checks were "
        f"recorded; {waiting} are checked again once their leases run out (LEASE_TTL "
        f"{settings.lease_ttl.total_seconds():g} s)"
    )


async def pass_and_hosting(
    store: Store,
    settings: Settings,
    ids: Sequence[int] | None = None,
    progress: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
    *,
    then_all_missing: bool = False,
):
    """A pass and the hosting of the reports it saw online: (pass tally, hosting tally).

    The look-ups for a report start as soon as its check sees it online, and its window's
    hosting is stored as soon as the window is, while the pass goes on: the look-ups
    mostly wait on RDAP_RATE, the pass on the web.
    Only this pass's reports, unless ``then_all_missing``: then every report online whose
    hosting is still missing too, with the same look-up state (what the windows asked
    is not asked again).
    """
    from hosting.resolve import HostingResolver

    started = time.monotonic()
    async with HostingResolver(store, settings) as hosting:
        tally = await run_pass(
            settings, ids, progress, stop, on_stored=hosting.submit, on_online=hosting.expect
        )
        if then_all_missing:
            await hosting.finish()
            await hosting.resolve()
        resolved = await hosting.finish()
    count_pass(store, tally, resolved, time.monotonic() - started)
    return tally, resolved


def count_pass(store: Store, tally: PassTally, resolved, seconds: float) -> None:
    """What a pass did, for /metrics: checks by outcome, state changes, RDAP asked and
    answered from the cache, and how long it took."""
    from collections import Counter as Amounts

    from store.counters import key, observe, record

    amounts = Amounts()
    for outcome, count in tally.outcomes.items():
        amounts[key("ntd_checks_total", outcome=outcome)] += count
    amounts[key("ntd_state_changes_total")] += tally.changes
    amounts[key("ntd_rdap_requests_total")] += resolved.rdap_requests
    amounts[key("ntd_rdap_cache_hits_total")] += resolved.rdap_cache_hits
    observe(amounts, "ntd_pass_duration_seconds", seconds, job="check")
    record(store, amounts)


async def check_and_resolve(
    settings: Settings,
    ids: Sequence[int] | None = None,
    progress: Callable[[str], None] | None = None,
):
    """What `ntd check` does: a pass and the hosting of the reports it saw online.

    Only this pass's: workers sharing the queue each resolve their own share, and what an
    earlier resolution missed is resolved by `ntd notify` before it plans.
    """
    from store.db import open_store_for

    store = open_store_for(settings)
    try:
        return await pass_and_hosting(store, settings, ids, progress)
    finally:
        store.close()


def check(
    settings: Settings,
    ids: Sequence[int] | None = None,
    progress: Callable[[str], None] | None = None,
):
    """Run one pass and its hosting look-ups, starting and stopping the reactor around them.

    Returns the pass's tally and the hosting resolution's.
    """
    return run_with_reactor(lambda: check_and_resolve(settings, ids, progress))


def run_with_reactor(make: Callable[[], Awaitable[T]]) -> T:
    """Install the asyncio reactor, run the coroutine ``make()`` on it, stop, return.

    For commands that run once: a reactor cannot be started twice in one process.
    """
    from scrapy.utils.reactor import install_reactor

    install_reactor(REACTOR)
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    outcome: dict[str, object] = {}

    def started() -> None:
        deferred = Deferred.fromFuture(asyncio.ensure_future(make()))
        deferred.addCallbacks(
            lambda result: outcome.setdefault("result", result),
            lambda failure: outcome.setdefault("failure", failure),
        )
        deferred.addBoth(lambda _: reactor.stop())

    logging.getLogger("scrapy").setLevel(logging.WARNING)
    settle_heap()
    reactor.callWhenRunning(started)
    reactor.run(installSignalHandlers=True)
    if "failure" in outcome:
        outcome["failure"].raiseException()
    return outcome["result"]
