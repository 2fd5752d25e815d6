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
    assert (hosting["asn"], hosting["country"], hosting["network"]) == (
        64504,
        "DE",
        "127.10.6.0/24",
    )
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
