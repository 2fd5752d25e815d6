"""A pass and its hosting together, as `ntd check` runs them: the hosting of each window
of checks is resolved while the pass goes on, with one look-up state for the pass."""

from __future__ import annotations

import pytest

from simnet.cymru import announce
from simnet.rdap import contact
from store.models import Report

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
    assert tally.windows == 3
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
