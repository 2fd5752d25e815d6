"""The simulated RDAP server: what it serves, the real samples moved onto loopback, faults."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest

from simnet import Internet, LoopThread
from simnet.rdap import RDAP_JSON, RdapServer, contact
from tests.conftest import shared_file

SAMPLES = "rdap-samples/ipwhois-tests-rdap.json"


@pytest.fixture
def rdap():
    with Internet() as net:
        yield net.start_rdap()


def get(url: str, timeout: float = 5.0) -> tuple[int, dict, dict]:
    """Status, headers and JSON body of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.load(error)


def test_ip_answers_the_most_specific_network_containing_the_query(rdap):
    rdap.network("127.20.0.0/16", name="UPSTREAM")
    rdap.network("127.20.1.0/24", name="CUSTOMER", country="NL", parent_handle="127.20.0.0/16")

    status, headers, doc = get(f"{rdap.url}/ip/127.20.1.9")
    assert status == 200
    assert headers["Content-Type"] == RDAP_JSON
    assert doc["objectClassName"] == "ip network"
    assert (doc["name"], doc["country"]) == ("CUSTOMER", "NL")
    assert (doc["startAddress"], doc["endAddress"]) == ("127.20.1.0", "127.20.1.255")
    assert doc["cidr0_cidrs"] == [{"v4prefix": "127.20.1.0", "length": 24}]
    assert doc["parentHandle"] == "127.20.0.0/16"
    up = [link["href"] for link in doc["links"] if link["rel"] == "up"]
    assert up == [f"{rdap.url}/ip/127.20.0.0/16"]

    assert get(f"{rdap.url}/ip/127.20.2.1")[2]["name"] == "UPSTREAM"
    # A prefix is answered by the network enclosing all of it: here the parent.
    assert get(f"{rdap.url}/ip/127.20.0.0/23")[2]["name"] == "UPSTREAM"
    status, _, error = get(f"{rdap.url}/ip/127.99.0.1")
    assert (status, error["errorCode"]) == (404, 404)


def test_entities_and_domains(rdap):
    rdap.entity("ACME-ORG", contact("ACME-ORG", ["registrant"], email="noc@acme.test"))
    rdap.domain("Shop.Test", registrar="REG-1", abuse_email="abuse@reg.test")

    assert get(f"{rdap.url}/entity/ACME-ORG")[2]["handle"] == "ACME-ORG"
    assert get(f"{rdap.url}/entity/NOBODY")[0] == 404
    domain = get(f"{rdap.url}/domain/shop.test")[2]
    assert domain["ldhName"] == "shop.test"
    registrar = domain["entities"][0]
    assert (registrar["handle"], registrar["roles"]) == ("REG-1", ["registrar"])
    assert registrar["entities"][0]["roles"] == ["abuse"]
    assert ["email", {}, "text", "abuse@reg.test"] in registrar["entities"][0]["vcardArray"][1]


def test_real_samples_are_moved_onto_loopback_and_otherwise_unchanged(rdap):
    samples = json.loads(shared_file(SAMPLES).read_text())
    rdap.load_sample("62.239.237.1", onto="127.20.1.0/24", samples=shared_file(SAMPLES))
    rdap.load_sample("74.125.225.229", onto="127.20.2.0/24", samples=shared_file(SAMPLES))
    rdap.load_sample("200.57.141.161", onto="127.20.3.0/24", samples=shared_file(SAMPLES))
    rdap.load_sample(
        "2001:240:10c:1::ca20:9d1d", onto="127.20.4.0/24", samples=shared_file(SAMPLES)
    )

    ripe = get(f"{rdap.url}/ip/127.20.1.77")[2]
    assert ripe["handle"] == "127.20.1.0 - 127.20.1.255"  # RIPE names networks by range
    assert (ripe["startAddress"], ripe["endAddress"]) == ("127.20.1.0", "127.20.1.255")
    original = samples["62.239.237.1"]["response"]
    assert ripe["entities"] == original["entities"]
    assert ripe["links"] == original["links"]  # still naming rdap.db.ripe.net: never follow

    arin = get(f"{rdap.url}/ip/127.20.2.1")[2]
    assert arin["handle"] == "NET-74-125-0-0-1"  # not a range: kept
    assert (arin["startAddress"], arin["endAddress"]) == ("127.020.002.000", "127.020.002.255")

    lacnic = get(f"{rdap.url}/ip/127.20.3.200")[2]
    assert lacnic["handle"] == "127.20.3.0"
    assert lacnic["entities"] == samples["200.57.141.161"]["response"]["entities"]

    apnic = get(f"{rdap.url}/ip/127.20.4.4")[2]
    assert (apnic["handle"], apnic["ipVersion"]) == ("127.20.4.0/24", "v4")
    assert apnic["parentHandle"] == "2001:0200::/23"


def test_faults_then_normal_answers(rdap):
    rdap.network("127.20.0.0/16")
    rdap.fail_next(2, status=429, retry_after=3)
    rdap.fail_next(1, status=500, retry_after=None)

    status, headers, body = get(f"{rdap.url}/ip/127.20.0.1")
    assert (status, headers["Retry-After"], body["errorCode"]) == (429, "3", 429)
    assert get(f"{rdap.url}/ip/127.20.0.1")[0] == 429
    status, headers, _ = get(f"{rdap.url}/ip/127.20.0.1")
    assert status == 500 and "Retry-After" not in headers
    assert get(f"{rdap.url}/ip/127.20.0.1")[0] == 200

    assert [r.status for r in rdap.requests] == [429, 429, 500, 200]
    assert rdap.count("/ip/") == 4 and rdap.count("/entity/") == 0


def test_hang_reads_the_request_and_never_answers(rdap):
    rdap.network("127.20.0.0/16")
    rdap.fail_next(1, mode="hang")
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        get(f"{rdap.url}/ip/127.20.0.1", timeout=0.3)
    assert [(r.path, r.status) for r in rdap.requests] == [("/ip/127.20.0.1", 0)]
    assert get(f"{rdap.url}/ip/127.20.0.1")[0] == 200


def test_stopping_closes_the_listener():
    loop = LoopThread()
    loop.start()
    try:
        server = RdapServer()
        loop.run(server.start())
        url = server.url
        assert get(f"{url}/entity/X")[0] == 404
        loop.run(server.stop())
        with pytest.raises(urllib.error.URLError):
            get(f"{url}/entity/X", timeout=1)
    finally:
        loop.stop()
