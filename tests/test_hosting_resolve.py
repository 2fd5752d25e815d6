"""Who hosts a report, resolved against the simulated internet's DNS and RDAP servers."""

from __future__ import annotations

from simnet.cymru import announce
from simnet.rdap import contact
from tests.conftest import shared_file


def online(world, name: str, path: str = "/a.jpg", address: str | None = None) -> int:
    site = world.net.site(name, address)
    site.page(path)
    [report] = world.add(site.url(path))
    world.check([report])
    return report


def test_hosting_of_an_online_report_with_its_sources(world):
    report = online(world, "www.shop.test", address="127.10.1.5")
    announce(
        world.net.dns,
        "127.10.1.5",
        64500,
        "127.10.1.0/24",
        country="NL",
        description="EXAMPLE-HOSTING",
    )
    world.rdap.network(
        "127.10.1.0/24",
        name="EXAMPLE-NET",
        country="NL",
        entities=[
            contact(
                "ORG-EX1",
                ["registrant"],
                email="noc@example-hosting.test",
                name="Example Hosting BV",
            ),
            contact("ABUSE-EX1", ["abuse"], email="abuse@example-hosting.test"),
        ],
    )
    world.rdap.domain("shop.test", "Registrar One", abuse_email="abuse@registrar.test")
    tally = world.resolve()
    assert tally.resolved == 1
    hosting = world.show(report)["hosting"]
    assert hosting["ip"] == "127.10.1.5" and hosting["asn"] == 64500
    assert hosting["network"] == "127.10.1.0/24" and hosting["country"] == "NL"
    assert hosting["abuse_email"] == "abuse@example-hosting.test"
    assert hosting["org"] == "Example Hosting BV"
    assert hosting["registered_domain"] == "shop.test"
    assert hosting["registrar"] == "Registrar One"
    sources = hosting["sources"]
    assert sources["asn"].startswith("cymru") and sources["abuse_email"].startswith("rdap")
    assert sources["registrar"] == "rdap: domain"
    escalations = hosting["details"]["escalations"]
    assert {
        "kind": "registrar",
        "email": "abuse@registrar.test",
        "name": "Registrar One",
    } in escalations


def test_staff_contacts_win_over_look_ups(world):
    report = online(world, "shop.test", address="127.10.2.5")
    announce(world.net.dns, "127.10.2.5", 64501, "127.10.2.0/24")
    world.rdap.network(
        "127.10.2.0/24", entities=[contact("ABUSE-2", ["abuse"], email="abuse@net2.test")]
    )
    from store.contacts import set_contact
    from store.types import utcnow

    with world.store.session() as session:
        set_contact(session, "AS64501", "takedown@staff-knows.test", actor="analyst", now=utcnow())
    world.resolve()
    hosting = world.show(report)["hosting"]
    assert hosting["abuse_email"] == "takedown@staff-knows.test"
    assert hosting["sources"]["abuse_email"] == "staff contact: asn 64501"
    assert hosting["details"]["fallback_emails"][0] == "abuse@net2.test"


def test_a_cdn_is_named_and_its_abuse_desk_told(world):
    report = online(world, "shop.test", address="127.10.3.5")
    announce(
        world.net.dns,
        "127.10.3.5",
        13335,
        "127.10.3.0/24",
        country="US",
        description="CLOUDFLARENET",
    )
    world.rdap.network(
        "127.10.3.0/24",
        entities=[contact("ABUSE-CF", ["abuse"], email="abuse-net@cloudflare.test")],
    )
    world.resolve()
    hosting = world.show(report)["hosting"]
    assert hosting["cdn"] == "Cloudflare"
    assert hosting["abuse_email"] == "abuse@cloudflare.com"
    assert hosting["details"]["origin_hidden"] is True


def test_the_parent_network_is_asked_when_a_network_has_no_contact(world):
    report = online(world, "shop.test", address="127.10.4.5")
    announce(world.net.dns, "127.10.4.5", 64502, "127.10.4.0/24")
    world.rdap.network(
        "127.10.0.0/16",
        handle="PARENT-NET",
        entities=[contact("ABUSE-UP", ["abuse"], email="abuse@upstream.test")],
    )
    world.rdap.network("127.10.4.0/24", parent_handle="PARENT-NET")
    world.resolve()
    hosting = world.show(report)["hosting"]
    assert hosting["abuse_email"] == "abuse@upstream.test"
    assert "parent" in hosting["sources"]["abuse_email"]


def test_cost_grows_with_networks_not_urls(world):
    ids = []
    for net in range(3):
        address = f"127.10.{10 + net}.1"
        site = world.net.site(f"site{net}.test", address)
        announce(world.net.dns, address, 64600 + net, f"127.10.{10 + net}.0/24")
        world.rdap.network(
            f"127.10.{10 + net}.0/24",
            entities=[contact(f"AB{net}", ["abuse"], email=f"abuse@net{net}.test")],
        )
        for page in range(10):
            site.page(f"/{page}.jpg")
            ids += world.add(site.url(f"/{page}.jpg"))
    world.check()
    tally = world.resolve()
    assert tally.resolved == 30
    assert world.rdap.count("/ip/") == 3
    again = world.resolve(ids)  # all fresh: nothing asked again
    assert again.resolved == 0 and world.rdap.count("/ip/") == 3


def test_rdap_429_and_500_are_survived(world):
    report = online(world, "shop.test", address="127.10.5.5")
    announce(world.net.dns, "127.10.5.5", 64503, "127.10.5.0/24")
    world.rdap.network(
        "127.10.5.0/24", entities=[contact("AB5", ["abuse"], email="abuse@net5.test")]
    )
    world.rdap.fail_next(1, status=429, retry_after=0)
    world.rdap.fail_next(1, status=500)
    world.resolve()
    assert world.show(report)["hosting"]["abuse_email"] == "abuse@net5.test"


def test_without_rdap_the_cymru_facts_still_stand(world):
    report = online(world, "shop.test", address="127.10.6.5")
    announce(
        world.net.dns, "127.10.6.5", 64504, "127.10.6.0/24", country="DE", description="NO-RDAP-NET"
    )
    world.resolve()  # the RDAP server knows no such network: 404
    hosting = world.show(report)["hosting"]
    assert (hosting["asn"], hosting["country"], hosting["network"], hosting["org"]) == (
        64504,
        "DE",
        "127.10.6.0/24",
        "NO-RDAP-NET, DE",  # as Team Cymru writes it
    )
    assert hosting["sources"]["org"] == "cymru: AS description"
    assert hosting["abuse_email"] is None


def test_a_real_registry_answer_moved_onto_loopback(world):
    shared_file("rdap-samples/ipwhois-tests-rdap.json")
    world.overrides["allowed_private_networks"] = "127.10.0.0/16,127.20.0.0/16"
    report = online(world, "shop.test", address="127.20.1.7")
    announce(world.net.dns, "127.20.1.7", 5400, "127.20.1.0/24", country="GB")
    world.rdap.load_sample("62.239.237.1", onto="127.20.1.0/24")
    world.resolve()
    hosting = world.show(report)["hosting"]
    assert hosting["network"] == "127.20.1.0/24"
    # BT's RIPE answer: the abuse role at the top level, several emails.
    assert hosting["abuse_email"] == "zzdnsr@bt.com"
    assert hosting["sources"]["abuse_email"].startswith("rdap")


def test_two_workers_resolving_the_same_reports_at_once_both_succeed(world):
    """Every `ntd check` worker resolves the hosting of the reports its pass reached, so
    two workers finishing together resolve the same reports: the second must not fail on the first's
    rows (one hosting row per report, and one cache entry per network, either way)."""
    import asyncio
    import threading

    from hosting.resolve import resolve_hosting
    from store.db import open_store

    urls = []
    for i in range(30):
        address = f"127.10.{40 + i}.5"
        site = world.net.site(f"site{i}.test", address)
        site.page("/a.jpg")
        urls.append(site.url("/a.jpg"))
        announce(world.net.dns, address, 64600 + i, f"127.10.{40 + i}.0/24")
        world.rdap.network(
            f"127.10.{40 + i}.0/24",
            entities=[contact(f"ABUSE-{i}", ["abuse"], email=f"abuse@net{i}.test")],
        )
    reports = world.add(*urls)
    world.check(reports)
    settings = world.settings(rdap_rate="1000/s")
    start, errors, tallies = threading.Barrier(2), [], []

    def worker() -> None:
        store = open_store(world.database_url)
        try:
            start.wait()
            tallies.append(asyncio.run(resolve_hosting(store, settings, None)))
        except Exception as error:  # the failure under test; reported below
            errors.append(error)
        finally:
            store.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(t.resolved for t in tallies) >= len(reports)
    for i, report in enumerate(reports):
        assert world.show(report)["hosting"]["abuse_email"] == f"abuse@net{i}.test"


def test_a_pass_that_fails_leaves_no_hosting_look_up_running(world):
    """A pass stopped by the store raises at once: the hosting it had handed over is
    cancelled, not waited for and not left running."""
    import asyncio
    import time

    import pytest

    from hosting.resolve import HostingResolver
    from store.exceptions import StoreUnavailable

    report = online(world, "shop.test", address="127.10.7.5")
    announce(world.net.dns, "127.10.7.5", 64505, "127.10.7.0/24")
    world.rdap.fail_next(1, mode="hang")  # until FETCH_TIMEOUT (5 s): still asking

    async def a_pass_that_fails() -> list[asyncio.Task]:
        try:
            async with HostingResolver(world.store, world.settings()) as hosting:
                hosting.submit([report])
                while not world.rdap.requests:
                    await asyncio.sleep(0.01)
                raise StoreUnavailable("the database failed")
        finally:
            code = (getattr(task.get_coro(), "cr_code", None) for task in asyncio.all_tasks())
            assert not [c for c in code if c and "/hosting/" in c.co_filename]

    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        world.reactor_thread.run(a_pass_that_fails)
    assert time.monotonic() - started < 2
    assert world.show(report)["hosting"] is None


def _networks(world, count: int, first: int = 60) -> list[tuple[str, object]]:
    """``count`` announced networks with an abuse contact each: (an address, its Origin)."""
    from hosting.cymru import Origin

    found = []
    for i in range(count):
        prefix, address = f"127.10.{first + i}.0/24", f"127.10.{first + i}.5"
        world.rdap.network(
            prefix, entities=[contact(f"AB-{i}", ["abuse"], email=f"abuse@net{first + i}.test")]
        )
        found.append((address, Origin(64700 + i, prefix, "NL", "ripencc")))
    return found


def test_workers_sharing_a_store_ask_rdap_about_each_network_once(world):
    """Two workers meeting the same networks at once: one asks about each, the other
    waits for its answer in the store, and both share the asking."""
    import asyncio

    from hosting.networks import NetworkLookup

    networks = _networks(world, 4)
    settings = world.settings(rdap_rate="20/s")

    async def two_workers():
        async with (
            NetworkLookup(world.store, settings) as one,
            NetworkLookup(world.store, settings) as two,
        ):
            answers = await asyncio.gather(
                *(worker.network(ip, origin) for worker in (one, two) for ip, origin in networks)
            )
            return answers, one.requests_made, two.requests_made

    answers, one, two = world.reactor_thread.run(two_workers)
    emails = [answer["abuse_email"] for answer in answers]
    assert emails == [f"abuse@net{60 + i}.test" for i in range(4)] * 2
    assert world.rdap.count("/ip/") == 4  # each network once, not once per worker
    assert one >= 1 and two >= 1  # the second worker asked too, not only waited


def test_a_lookup_lease_left_by_a_dead_worker_is_taken_once_it_runs_out(world):
    import time
    from datetime import timedelta

    from hosting.networks import NetworkLookup
    from store.models import LookupLease
    from store.types import utcnow

    [(ip, origin)] = _networks(world, 1, first=70)
    with world.store.session() as session:
        session.add(
            LookupLease(
                key=origin.prefix, worker="killed:1:0", until=utcnow() + timedelta(seconds=0.5)
            )
        )

    async def look_up():
        async with NetworkLookup(world.store, world.settings(rdap_rate="20/s")) as lookup:
            return await lookup.network(ip, origin)

    started = time.monotonic()
    answer = world.reactor_thread.run(look_up)
    assert time.monotonic() - started >= 0.5  # it waited for the lease
    assert answer["abuse_email"] == "abuse@net70.test"
    assert world.rdap.count("/ip/") == 1
    with world.store.session() as session:
        assert session.query(LookupLease).count() == 0  # given back once answered


def test_look_ups_start_as_a_check_sees_content_online_not_when_its_window_is_stored(world):
    """A pass hands each report seen online to the hosting look-ups at once: the RDAP
    question about the fast site's network is asked while the slow site still answers."""
    fast = world.net.site("fast.test", "127.10.80.5")
    fast.page("/a.jpg")
    slow = world.net.site("slow.test", "127.10.81.5")
    slow.page("/b.jpg", delay=2.0)
    for address, net in (("127.10.80.5", 80), ("127.10.81.5", 81)):
        announce(world.net.dns, address, 64800 + net, f"127.10.{net}.0/24")
        world.rdap.network(
            f"127.10.{net}.0/24",
            entities=[contact(f"AB-{net}", ["abuse"], email=f"abuse@net{net}.test")],
        )
    reports = world.add(fast.url("/a.jpg"), slow.url("/b.jpg"))
    tally, hosting = world.check_and_resolve(reports)
    assert tally.checks == 2 and hosting.resolved == 2
    [slow_fetch] = [r for r in world.net.web.log.records() if r.path == "/b.jpg"]
    fast_network = [r for r in world.rdap.requests if r.path == "/ip/127.10.80.5"]
    assert fast_network, [r.path for r in world.rdap.requests]
    assert fast_network[0].time < slow_fetch.time + 2.0  # before the slow answer came
    assert world.show(reports[0])["hosting"]["abuse_email"] == "abuse@net80.test"
    assert world.show(reports[1])["hosting"]["abuse_email"] == "abuse@net81.test"
    # Checked again at the same addresses, with hosting fresh: nothing is looked up again
    # (the domains' 404s are not cached, so a look-up would show).
    asked = len(world.rdap.requests)
    world.check_and_resolve(reports)
    assert len(world.rdap.requests) == asked


def test_a_lookup_lease_is_kept_while_its_worker_still_waits_for_an_answer(world):
    """One worker's question hangs past its lease's first term: the lease is renewed, so
    the other waits instead of asking too, and asks itself once the first has given up."""
    import asyncio

    from hosting.networks import NetworkLookup

    [(ip, origin)] = _networks(world, 1, first=90)
    settings = world.settings(rdap_rate="20/s", fetch_timeout="1.5s")  # lease: 0.5 s
    world.rdap.fail_next(1, mode="hang")

    async def two_workers():
        async with (
            NetworkLookup(world.store, settings) as one,
            NetworkLookup(world.store, settings) as two,
        ):
            first = asyncio.ensure_future(one.network(ip, origin))
            while not world.rdap.requests:
                await asyncio.sleep(0.01)
            return await asyncio.gather(first, two.network(ip, origin))

    gave_up, answered = world.reactor_thread.run(two_workers)
    assert gave_up is None and answered["abuse_email"] == "abuse@net90.test"
    hung, asked = world.rdap.requests
    assert asked.time - hung.time >= 1.4  # not at 0.5 s, when the lease's first term ended
