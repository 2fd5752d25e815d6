"""The RDAP client against the simulated RDAP server: retries, rate, timeouts, coalescing.

Also the bootstrap table, read from hosting/data/ only: nothing here asks a real registry.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from hosting.exceptions import RdapError, RdapNotFound
from hosting.rdap import Bootstrap, RdapClient
from simnet import Internet
from simnet.rdap import contact
from tests.conftest import make_settings


@pytest.fixture
def rdap():
    with Internet() as net:
        server = net.start_rdap()
        server.network("127.20.0.0/16", name="LAB")
        yield server


def settings_for(rdap, **overrides):
    values = {"rdap_url": rdap.url, "rdap_rate": "100/s", "fetch_timeout": "5s", **overrides}
    return make_settings(**values)


def run(settings, work, **client_options):
    """Run ``work(client)`` with a fresh client on a fresh loop; return (result, client)."""

    async def main():
        async with RdapClient(settings, **client_options) as client:
            return await work(client), client

    return asyncio.run(main())


def test_ip_entity_and_domain_go_under_rdap_url(rdap):
    rdap.entity("LAB-NOC", contact("LAB-NOC", ["technical"], email="noc@lab.test"))
    rdap.domain("shop.test", registrar="REG-1")

    async def work(client):
        return await asyncio.gather(
            client.ip("127.20.3.4"), client.entity("LAB-NOC"), client.domain("Shop.Test.")
        )

    (network, entity, domain), client = run(settings_for(rdap), work)
    assert network["name"] == "LAB"
    assert entity["handle"] == "LAB-NOC"
    assert domain["ldhName"] == "shop.test"
    paths = {r.path for r in rdap.requests}
    assert paths == {"/ip/127.20.3.4", "/entity/LAB-NOC", "/domain/shop.test"}
    assert client.requests_made == 3


def test_a_prefix_query_keeps_its_length(rdap):
    _, client = run(settings_for(rdap), lambda c: c.ip("127.20.0.0/23"))
    assert [r.path for r in rdap.requests] == ["/ip/127.20.0.0/23"]


def test_429_waits_for_retry_after_then_succeeds(rdap):
    rdap.fail_next(1, status=429, retry_after=1)
    doc, client = run(settings_for(rdap), lambda c: c.ip("127.20.0.1"), max_wait=5)
    assert doc["name"] == "LAB"
    first, second = rdap.requests
    assert (first.status, second.status) == (429, 200)
    assert second.time - first.time >= 0.9
    assert client.requests_made == 2


def test_429_retries_are_bounded(rdap):
    rdap.fail_next(10, status=429, retry_after=0)
    with pytest.raises(RdapError) as caught:
        run(settings_for(rdap), lambda c: c.ip("127.20.0.1"), retries=2)
    assert caught.value.status == 429
    assert rdap.count("/ip/") == 3


def test_a_retry_after_beyond_max_wait_fails_at_once_and_holds_that_server(rdap):
    rdap.fail_next(1, status=429, retry_after=120)

    async def work(client):
        with pytest.raises(RdapError) as first:
            await client.ip("127.20.0.1")
        with pytest.raises(RdapError) as second:
            await client.ip("127.20.0.2")  # not sent: the server asked for two minutes
        return first.value, second.value

    started = time.monotonic()
    (first, second), _ = run(settings_for(rdap), work, max_wait=2)
    assert time.monotonic() - started < 5
    assert (first.status, second.status) == (429, 429)
    assert "120" in str(first)
    assert rdap.count() == 1


def test_500_is_retried_a_bounded_number_of_times_then_a_clear_error(rdap):
    rdap.fail_next(10, status=500, retry_after=None)
    with pytest.raises(RdapError) as caught:
        run(settings_for(rdap), lambda c: c.ip("127.20.0.1"), retries=2, retry_delay=0.01)
    assert caught.value.status == 500
    assert "answered 500" in str(caught.value) and "3 attempts" in str(caught.value)
    assert rdap.count("/ip/") == 3


def test_one_500_then_success(rdap):
    rdap.fail_next(1, status=500, retry_after=None)
    doc, client = run(settings_for(rdap), lambda c: c.ip("127.20.0.1"), retry_delay=0.01)
    assert doc["name"] == "LAB" and client.requests_made == 2


def test_404_is_not_found_and_not_retried(rdap):
    with pytest.raises(RdapNotFound) as caught:
        run(settings_for(rdap), lambda c: c.entity("NOBODY"))
    assert caught.value.status == 404 and rdap.count() == 1


def test_a_server_that_never_answers_times_out_after_fetch_timeout(rdap):
    rdap.fail_next(1, mode="hang")
    started = time.monotonic()
    with pytest.raises(RdapError) as caught:
        run(settings_for(rdap, fetch_timeout="0.3s"), lambda c: c.ip("127.20.0.1"))
    assert time.monotonic() - started < 3
    assert caught.value.status is None and "no answer within 0.3s" in str(caught.value)
    assert rdap.count() == 1


def test_requests_to_one_server_are_spaced_by_rdap_rate(rdap):
    handles = [f"E{i}" for i in range(4)]
    for handle in handles:
        rdap.entity(handle)

    async def work(client):
        return await asyncio.gather(*(client.entity(h) for h in handles))

    run(settings_for(rdap, rdap_rate="5/s"), work)
    times = sorted(r.time for r in rdap.requests)
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert len(times) == 4
    assert min(gaps) >= 0.2 * 0.75  # 1/rate, less scheduling slack: a lower bound only


def test_concurrent_identical_requests_share_one_request(rdap):
    async def work(client):
        together = await asyncio.gather(client.ip("127.20.0.1"), client.ip("127.20.0.1"))
        after = await client.ip("127.20.0.1")  # nothing in flight, nothing cached: asked again
        return together, after

    ((one, two), after), client = run(settings_for(rdap, rdap_cache_ttl="0s"), work)
    assert one == two == after and one is not two
    assert rdap.count("/ip/") == 2 and client.requests_made == 2


def test_answers_are_reused_for_rdap_cache_ttl(rdap):
    async def work(client):
        return [await client.ip("127.20.0.1") for _ in range(3)]

    _, client = run(settings_for(rdap, rdap_cache_ttl="1h"), work)
    assert rdap.count() == 1 and client.requests_made == 1


@pytest.mark.parametrize(
    ("kind", "key", "server"),
    [
        ("ip", "74.125.225.229", "https://rdap.arin.net/registry"),
        ("ip", "62.239.237.1", "https://rdap.db.ripe.net"),
        ("ip", "210.107.73.73", "https://rdap.apnic.net"),
        ("ip", "200.57.141.161", "https://rdap.lacnic.net/rdap"),
        ("ip", "196.11.240.215", "https://rdap.afrinic.net/rdap"),
        ("ip", "2001:4860:4860::8888", "https://rdap.arin.net/registry"),
        ("ip", "2a00:2381:ffff::1", "https://rdap.db.ripe.net"),
        ("ip", "2001:240:10c:1::ca20:9d1d", "https://rdap.apnic.net"),
        ("ip", "2001:43f8:7b0::", "https://rdap.afrinic.net/rdap"),
        ("domain", "www.example.com", "https://rdap.verisign.com/com/v1"),
        ("domain", "news.bbc.co.uk", "https://rdap.nominet.uk/uk"),
        ("domain", "Example.ORG.", "https://rdap.publicinterestregistry.org/rdap"),
    ],
)
def test_bootstrap_finds_each_registry_without_rdap_url(kind, key, server):
    bootstrap = Bootstrap.load()
    lookup = bootstrap.ip_server if kind == "ip" else bootstrap.domain_server
    assert lookup(key) == server
    # The client picks the same base, and only builds URLs here: nothing is fetched.
    assert RdapClient(make_settings()).base_for(kind, key) == server


def test_bootstrap_knows_no_server_for_private_space_or_unknown_names():
    bootstrap = Bootstrap.load()
    assert bootstrap.ip_server("10.1.2.3") is None
    assert bootstrap.domain_server("shop.test") is None
    client = RdapClient(make_settings())
    with pytest.raises(RdapError, match="no RDAP server known"):
        client.base_for("entity", "ZG39-ARIN")  # entities go where their network came from
    assert client.base_for("ip", "74.125.0.0/16") == "https://rdap.arin.net/registry"


def test_rdap_url_wins_over_bootstrap(rdap):
    client = RdapClient(settings_for(rdap))
    assert client.base_for("ip", "74.125.225.229") == rdap.url
    assert client.base_for("entity", "ZG39-ARIN") == rdap.url
