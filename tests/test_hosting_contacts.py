"""The contact chain on the real answers of the five registries, and its fallbacks.

Expected values are what a person reading ../shared/rdap-samples/ipwhois-tests-rdap.json
finds in it, registry by registry.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from hosting.contacts import network_contacts, network_info, walk_up
from hosting.exceptions import RdapNotFound
from hosting.rdap import RdapClient
from simnet import Internet
from simnet.rdap import contact
from tests.conftest import make_settings, shared_file

SAMPLES = "rdap-samples/ipwhois-tests-rdap.json"

# address: (network CIDR, country, abuse email, where it came from)
EXPECTED = {
    # RIPE: an abuse group at the top level with three addresses, none abuse@: the first.
    "2a00:2381:ffff::1": (
        "2a00:2381:ffff::/64",
        "GB",
        "zzdnsr@bt.com",
        "rdap:entity BTCR3-RIPE abuse",
    ),
    "62.239.237.1": ("62.239.237.0/24", "GB", "zzdnsr@bt.com", "rdap:entity BTCR3-RIPE abuse"),
    # APNIC: an IRT with the abuse role; here JPNIC's network has only tech/admin.
    "210.107.73.73": (
        "210.107.0.0/17",
        "KR",
        "hostmaster@nic.or.kr",
        "rdap:entity IRT-KRNIC-KR abuse",
    ),
    "2001:240:10c:1::ca20:9d1d": (
        "2001:240::/32",
        "JP",
        "hostmaster@nic.ad.jp",
        "rdap:entity JNIC1-AP technical",
    ),
    # ARIN: no country; the abuse POC nested under the registrant (or also at top level).
    "74.125.225.229": (
        "74.125.0.0/16",
        None,
        "arin-contact@google.com",
        "rdap:entity ZG39-ARIN abuse",
    ),
    "2001:4860:4860::8888": (
        "2001:4860::/32",
        None,
        "arin-contact@google.com",
        "rdap:entity ZG39-ARIN abuse",
    ),
    # LACNIC: one person with every role; these answers cover a single address.
    "200.57.141.161": (
        "200.57.141.161/32",
        "MX",
        "operacion.redes@triara.com",
        "rdap:entity RYT2 abuse",
    ),
    "2801:10:c000::": (
        "2801:10:c000::/128",
        "CO",
        "sistemas.red@uco.edu.co",
        "rdap:entity JDM7 abuse",
    ),
    # AFRINIC: no roles at all, so the organisation's (first) address.
    "2001:43f8:7b0::": (
        "2001:43f8:7b0::/48",
        "KE",
        "mwangi@isoc.org",
        "rdap:entity ORG-TA38-AFRINIC org",
    ),
    "196.11.240.215": (
        "196.11.240.0/22",
        "ZA",
        "teixei_a@mtn.co.za",
        "rdap:entity ORG-VSA1-AFRINIC org",
    ),
}


@pytest.fixture(scope="module")
def samples() -> dict:
    return json.loads(shared_file(SAMPLES).read_text())


@pytest.fixture
def rdap():
    with Internet() as net:
        yield net.start_rdap()


def lookup(rdap, address: str, **options):
    async def main():
        settings = make_settings(rdap_url=rdap.url, rdap_rate="100/s", fetch_timeout="5s")
        async with RdapClient(settings) as client:
            return await network_contacts(address, client, **options)

    return asyncio.run(main())


@pytest.mark.parametrize("address", EXPECTED)
def test_each_real_answer_gives_network_country_and_abuse_contact(samples, address):
    info = network_info(samples[address]["response"], address)
    assert (info.cidr, info.country, info.abuse_email, info.abuse_source) == EXPECTED[address]
    assert info.follow == ()  # every one carries an email: no /entity/ request needed


def test_other_addresses_are_kept_as_fallbacks(samples):
    ripe = network_info(samples["62.239.237.1"]["response"], "62.239.237.1")
    assert ripe.fallback_emails == ("steve.a.marshall@bt.com", "lee.bailey-hague@bt.com")
    krnic = network_info(samples["210.107.73.73"]["response"], "210.107.73.73")
    assert "abuse@bora.net" in krnic.fallback_emails  # the operator's, named in its remarks
    mtn = network_info(samples["196.11.240.215"]["response"], "196.11.240.215")
    assert mtn.fallback_emails == ("ip-maint@mtnbusiness.co.za",)


def test_names_organisations_and_parents(samples):
    google = network_info(samples["74.125.225.229"]["response"], "74.125.225.229")
    assert (google.handle, google.name, google.org) == ("NET-74-125-0-0-1", "GOOGLE", "Google Inc.")
    assert google.parent_handle == "NET-74-0-0-0-0"
    assert google.parent_query == "74.124.0.0/15"  # no up link: ask for the enclosing prefix
    triara = network_info(samples["200.57.141.161"]["response"], "200.57.141.161")
    assert triara.org == "Triara.com, S.A. de C.V."
    jpnic = network_info(samples["2001:240:10c:1::ca20:9d1d"]["response"])
    assert jpnic.parent_handle == "2001:0200::/23"
    assert jpnic.parent_query == "2001:200::/23"  # from its "up" link, as a path only


def test_the_real_answers_moved_onto_loopback_through_the_client(rdap, samples):
    for i, address in enumerate(EXPECTED, start=1):
        rdap.load_sample(address, onto=f"127.20.{i}.0/24", samples=shared_file(SAMPLES))
    for i, address in enumerate(EXPECTED, start=1):
        info = lookup(rdap, f"127.20.{i}.9")
        assert info.cidr == f"127.20.{i}.0/24"
        assert (info.country, info.abuse_email, info.abuse_source) == EXPECTED[address][1:]
    # One request per network: RIPE bans those who ask too much.
    assert rdap.count("/ip/") == len(EXPECTED) and rdap.count() == len(EXPECTED)


def test_placeholders_are_skipped_and_abuse_addresses_preferred():
    doc = {
        "handle": "NET-1",
        "startAddress": "192.0.2.0",
        "endAddress": "192.0.2.255",
        "ipVersion": "v4",
        "entities": [
            contact("LACNIC-DESK", ["abuse"], email="abuse@lacnic.net"),
            contact("DUMMY", ["abuse"], email=["unread@ripe.net", "abuse@example.com"]),
            contact("NOC", ["technical"], email=["Ops@ISP.Test", "Abuse-Desk@isp.test"]),
        ],
    }
    info = network_info(doc, "192.0.2.1")
    assert (info.abuse_email, info.abuse_source) == (
        "Abuse-Desk@isp.test",
        "rdap:entity NOC technical",
    )
    assert info.fallback_emails == ("Ops@isp.test",)
    assert info.cidr == "192.0.2.0/24"


def test_an_entity_without_email_is_fetched(rdap):
    rdap.network("127.20.1.0/24", entities=[contact("ACME", ["registrant"], bare=True)])
    rdap.entity(
        "ACME",
        contact(
            "ACME",
            name="Acme Hosting",
            entities=[contact("ACME-ABUSE", ["abuse"], email="abuse@acme.test")],
        ),
    )
    info = lookup(rdap, "127.20.1.5")
    assert (info.abuse_email, info.abuse_source) == (
        "abuse@acme.test",
        "rdap:entity ACME-ABUSE abuse",
    )
    assert info.org == "Acme Hosting"
    assert rdap.count("/entity/") == 1


def test_a_network_without_contacts_falls_back_to_its_parent_by_up_link(rdap):
    rdap.network(
        "127.20.0.0/16",
        handle="UPSTREAM-NET",
        entities=[contact("UP-ABUSE", ["abuse"], email="abuse@upstream.test")],
    )
    rdap.network(
        "127.20.1.0/24",
        country="NL",
        parent_handle="UPSTREAM-NET",
        entities=[contact("CUSTOMER", ["registrant"], kind="individual")],
    )
    info = lookup(rdap, "127.20.1.5")
    assert (info.cidr, info.country) == ("127.20.1.0/24", "NL")  # still the child's network
    assert info.abuse_email == "abuse@upstream.test"
    assert info.abuse_source == "rdap:parent UPSTREAM-NET entity UP-ABUSE abuse"
    # The registrant had no email: its entity was asked for (unknown here) before the parent.
    paths = ["/ip/127.20.1.5", "/entity/CUSTOMER", "/ip/127.20.0.0/16"]
    assert [r.path for r in rdap.requests] == paths


def test_without_up_link_the_parent_is_the_network_enclosing_our_supernet(rdap):
    rdap.network("127.16.0.0/12", entities=[contact("TOP", ["abuse"], email="abuse@top.test")])
    rdap.network("127.20.1.0/24")
    info = lookup(rdap, "127.20.1.5")
    assert (info.abuse_email, info.abuse_source) == (
        "abuse@top.test",
        "rdap:parent 127.16.0.0/12 entity TOP abuse",
    )
    assert rdap.requests[1].path == "/ip/127.20.0.0/23"


def test_walking_up_is_bounded(rdap):
    rdap.network("127.0.0.0/8", entities=[contact("TOP", ["abuse"], email="abuse@top.test")])
    for cidr in ("127.20.0.0/16", "127.20.0.0/20", "127.20.1.0/24"):
        rdap.network(cidr, entities=[contact("X", ["registrar"], email="whoever@reg.test")])
    info = lookup(rdap, "127.20.1.5", levels=2)
    assert info.abuse_email is None
    assert info.fallback_emails == ("whoever@reg.test",)
    assert rdap.count("/ip/") == 3
    assert lookup(rdap, "127.20.1.5", levels=3).abuse_email == "abuse@top.test"


def test_walk_up_takes_any_fetch_callable():
    parents = {
        "10.0.0.0/8": {
            "handle": "TEN",
            "startAddress": "10.0.0.0",
            "endAddress": "10.255.255.255",
            "ipVersion": "v4",
            "entities": [contact("T", ["technical"], email="noc@ten.test")],
        }
    }

    async def fetch(query: str) -> dict:
        if query not in parents:
            raise RdapNotFound(query, status=404)
        return parents[query]

    child = network_info(
        {
            "handle": "C",
            "startAddress": "10.1.0.0",
            "endAddress": "10.1.255.255",
            "ipVersion": "v4",
            "links": [{"rel": "up", "href": "https://registry.invalid/rdap/ip/10.0.0.0/8"}],
        }
    )
    found = asyncio.run(walk_up(child, fetch))
    assert (found.abuse_email, found.abuse_source) == (
        "noc@ten.test",
        "rdap:parent TEN entity T technical",
    )
    orphan = network_info(
        {"handle": "O", "startAddress": "11.0.0.0", "endAddress": "11.0.0.255", "ipVersion": "v4"}
    )
    assert asyncio.run(walk_up(orphan, fetch)).abuse_email is None
