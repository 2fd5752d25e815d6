"""A pass and its hosting together, as `ntd check` runs them: the hosting of each window
of checks is resolved while the pass goes on, with one look-up state for the pass."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from simnet.cymru import announce
from simnet.rdap import contact
from store.models import Hosting, Report
from store.types import utcnow

NETWORKS = 3
PAGES = 4  # per network: 12 reports, windows of 5, 5 and 2
WINDOW = 5
SLOW = 1.0  # seconds: the last network's site answers late, after the first windows


@pytest.fixture
def small_windows(monkeypatch):
    monkeypatch.setattr("crawler.recorder.WINDOW", WINDOW)
    # A window is at least OUTAGE_MIN_CHECKS long: the guard judges no fewer at once.
    return {"outage_min_checks": str(WINDOW), "rdap_rate": "50/s"}


def three_networks(world) -> dict[int, int]:
    """12 reports on three networks; report id -> network number."""
    networks = {}
    for net in range(NETWORKS):
        address = f"127.10.{70 + net}.1"
        site = world.net.site(f"site{net}.test", address, latency=SLOW if net == 2 else 0)
        announce(world.net.dns, address, 64700 + net, f"127.10.{70 + net}.0/24")
        world.rdap.network(
            f"127.10.{70 + net}.0/24",
            entities=[contact(f"AB{net}", ["abuse"], email=f"abuse@net{net}.test")],
        )
        for page in range(PAGES):
            site.page(f"/{page}.jpg")
            [report] = world.add(site.url(f"/{page}.jpg"))
            networks[report] = net
    return networks


def test_hosting_is_resolved_window_by_window_while_the_pass_goes_on(world, small_windows):
    networks = three_networks(world)
    tally, hosting = world.check_and_resolve(**small_windows)
    assert tally.checks == 12 and tally.outcomes == {"online": 12}
    # Three windows of four, or four: when a window was taken before the claims ran dry,
    # what the fast sites gave by then is written early, while the slow site answers
    # (VerifySpider._check_all), and the rest follows in one or two more.
    assert tally.windows in (3, 4)
    assert hosting.resolved == 12 and hosting.failed == 0 and not hosting.errors
    for report, net in networks.items():
        assert world.show(report)["hosting"]["abuse_email"] == f"abuse@net{net}.test"
    # One look-up state for the pass: each network and domain asked once, whichever
    # windows its reports fell in.
    assert world.rdap.count("/ip/") == NETWORKS
    assert world.rdap.count("/domain/") == NETWORKS
    assert hosting.rdap_requests == 2 * NETWORKS
    # The first windows' networks were asked while the slow site's checks were under way.
    first_asked = min(r.time for r in world.rdap.requests)
    with world.store.session() as session:  # to the microsecond, which `show` rounds off
        slow_checked = max(
            session.get(Report, report).last_checked_at.timestamp()
            for report, net in networks.items()
            if net == 2
        )
    assert first_asked < slow_checked - SLOW / 2


def test_a_failing_rdap_server_does_not_fail_the_pass(world, small_windows):
    networks = three_networks(world)
    world.rdap.fail_next(100, status=500, retry_after=0)
    tally, hosting = world.check_and_resolve(**small_windows)
    assert tally.checks == 12 and tally.outcomes == {"online": 12} and tally.windows == 3
    assert all(world.state(report) == "online" for report in networks)
    assert world.rdap.count("/ip/") > 0  # asked, and answered 500 every time
    # Without RDAP the Cymru facts still stand; no abuse contact was found.
    assert hosting.resolved == 12
    for report, net in networks.items():
        found = world.show(report)["hosting"]
        assert found["asn"] == 64700 + net and found["abuse_email"] is None


def one_site(world, count: int, latency: float = 0.0) -> list[int]:
    site = world.net.site("shop.test", latency=latency)
    for i in range(count):
        site.page(f"/{i}.jpg")
    return world.add(*(site.url(f"/{i}.jpg") for i in range(count)))


def test_a_check_that_raises_neither_hangs_the_pass_nor_is_recorded(world, monkeypatch):
    """Claims wait for room as checks end; a check whose code raises ends too. It is not
    recorded, and its lease is given back at the end, so the next pass checks it."""
    import crawler.spiders.verify as verify

    reports = one_site(world, 8)
    real = verify.outcome_of

    def buggy(body, known, probe):
        if known.first_sha256 is None and buggy.calls < 5:  # the first five checks raise
            buggy.calls += 1
            raise RuntimeError("a bug in the outcome rules")
        return real(body, known, probe)

    buggy.calls = 0
    monkeypatch.setattr(verify, "outcome_of", buggy)
    tally = world.check(concurrency="2", concurrency_per_host="2")
    counts = [world.show(r)["check_count"] for r in reports]
    assert tally.checks == 3 and sorted(counts) == [0] * 5 + [1] * 3
    with world.store.session() as session:
        assert session.scalar(select(func.count()).where(Report.lease_until.is_not(None))) == 0
    monkeypatch.setattr(verify, "outcome_of", real)
    world.check(concurrency="2", concurrency_per_host="2")
    assert all(world.show(r)["check_count"] >= 1 for r in reports)


def test_a_stop_while_waiting_for_room_claims_nothing_more(world):
    """`ntd run` stopping mid-pass: the batch in hand is finished, and nothing more is
    claimed, even when the stop comes while the pass waits for room to claim."""
    import asyncio

    from crawler.passes import run_pass

    reports = one_site(world, 12, latency=0.2)

    async def stopped_at_first_check():
        stop = asyncio.Event()
        settings = world.settings(concurrency="2", concurrency_per_host="2")
        return await run_pass(settings, None, progress=lambda outcome: stop.set(), stop=stop)

    tally = world.reactor_thread.run(stopped_at_first_check)
    checked = sum(world.show(r)["check_count"] for r in reports)
    assert tally.checks == checked <= 4  # the first claim: twice CONCURRENCY
    with world.store.session() as session:
        assert session.scalar(select(func.count()).where(Report.lease_until.is_not(None))) == 0


def test_a_claim_failing_for_good_says_how_many_checks_were_lost(world, monkeypatch):
    import crawler.spiders.verify as verify
    from crawler.passes import run_pass
    from store.exceptions import StoreUnavailable

    reports = one_site(world, 8, latency=0.1)
    real = verify.VerifySpider._claim_in
    calls = []

    def second_claim_fails(self, session, *, limit):
        calls.append(limit)
        if len(calls) >= 2:
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))
        return real(self, session, limit=limit)

    monkeypatch.setattr(verify.VerifySpider, "_claim_in", second_claim_fails)
    settings = world.settings(concurrency="2", concurrency_per_host="2", database_retries="0")
    with pytest.raises(StoreUnavailable) as stopped:
        world.reactor_thread.run(run_pass, settings, None)
    recorded = sum(world.show(r)["check_count"] for r in reports)
    assert f" {recorded} of its " in str(stopped.value)
    assert recorded == 0  # the window in hand was never written


def test_a_report_no_longer_online_keeps_the_hosting_it_had(world, small_windows):
    """Hosting names who served the content: once gone, the report's address may answer
    for someone else (a parked domain), and must not be re-attributed to them."""
    three_networks(world)
    world.check_and_resolve(**small_windows)
    with world.store.session() as session:
        session.execute(update(Hosting).values(resolved_at=utcnow() - timedelta(days=400)))
        before = dict(session.execute(select(Hosting.report_id, Hosting.resolved_at)).all())
    site = world.net.web.site("site0.test")
    for page in range(PAGES):
        site.take_down(f"/{page}.jpg", status=404)
    _, resolved = world.check_and_resolve(**small_windows)
    with world.store.session() as session:
        after = dict(session.execute(select(Hosting.report_id, Hosting.resolved_at)).all())
        gone = session.scalars(select(Report.id).where(Report.state == "removed")).all()
    assert len(gone) == PAGES
    assert all(after[r] == before[r] for r in gone)
    assert resolved.resolved == NETWORKS * PAGES - PAGES


def test_concurrency_caps_fetches_in_flight_redirects_and_probes_included(world):
    """CONCURRENCY fetches at once, CONCURRENCY_PER_HOST to one host, whatever a check
    needs: a redirect is fetched in its check's slot, a soft-404 probe takes a slot of
    its own. The servers count what they answer at once."""
    sites = [world.net.site(f"host{n}.test", latency=0.1) for n in range(4)]
    urls = []
    for site in sites:
        for i in range(6):
            site.page(f"/{i}.jpg", f"{site.name} picture {i}".encode())
            if i % 2:  # every other report redirects once, to its page
                site.redirect(f"/old/{i}.jpg", f"/{i}.jpg")
                urls.append(site.url(f"/old/{i}.jpg"))
            else:
                urls.append(site.url(f"/{i}.jpg"))
    reports = world.add(*urls)  # no fingerprints: each host's first answer needs a probe
    web = world.net.web
    web.reset_peaks()

    tally = world.check(concurrency="4", concurrency_per_host="2")

    assert tally.checks == len(reports) and tally.outcomes == {"online": len(reports)}
    probes = [r for r in web.log.records() if r.path.startswith("/ntd-probe-")]
    redirected = [r for r in web.log.records() if r.path.startswith("/old/")]
    assert len(probes) == len(sites) and len(redirected) == len(reports) // 2
    assert web.peak_in_flight == 4  # every slot used, and never more
    assert {site.name: web.peak_in_flight_by_site[site.name] for site in sites} == {
        site.name: 2 for site in sites
    }


@pytest.mark.timeout(60)
def test_a_report_whose_lease_ran_out_while_it_waited_is_checked_once(world):
    """A claimed report waits for a slot of its host; when its lease runs out meanwhile,
    the worker's next claim takes it again. It still waits once, and is checked once."""
    reports = one_site(world, 4, latency=0.3)  # one host: one slot, and 0.3 s a check
    tally = world.check(concurrency="1", concurrency_per_host="1", lease_ttl="0.1s")
    assert tally.checks == 4
    assert [world.show(r)["check_count"] for r in reports] == [1, 1, 1, 1]
    with world.store.session() as session:
        assert session.scalar(select(func.count()).where(Report.lease_until.is_not(None))) == 0


def test_what_is_checked_is_stored_before_the_slowest_fetch_answers(world, monkeypatch):
    """In a pass judged window by window, once nothing is left to claim, the checks made
    so far are written while the last fetches run: staff see them without waiting for the
    slowest host of the pass."""
    import threading
    import time

    monkeypatch.setattr("crawler.recorder.WINDOW", 20)
    slow_site = world.net.site("slow.test", latency=1.5)
    slow_site.page("/a.jpg")
    [slow] = world.add(slow_site.url("/a.jpg"))
    fast = one_site(world, 25)  # one at a time, beside the slow one: a window of 20 first
    passing = threading.Thread(
        target=world.check,
        kwargs={"concurrency": "2", "concurrency_per_host": "1", "outage_min_checks": "3"},
    )
    passing.start()
    stored_before_slow = 0
    while passing.is_alive():
        stored = sum(world.state(r) == "online" for r in fast)
        if world.state(slow) != "queued":  # read after: those were stored before it
            break
        stored_before_slow = stored
        time.sleep(0.05)
    passing.join(10)
    assert world.state(slow) == "online"
    # 20 in the first window, and more with the early write: 21 to 25.
    assert stored_before_slow > 20
