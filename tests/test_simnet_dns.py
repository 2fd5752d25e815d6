"""Tests of simnet's simulated DNS server, queried with dnspython over UDP and TCP."""

from __future__ import annotations

import contextlib
import socket

import dns.exception
import dns.flags
import dns.message
import dns.nameserver
import dns.query
import dns.rcode
import dns.resolver
import pytest

import simnet

pytestmark = pytest.mark.timeout(30)

QUERY_TIMEOUT = 2.0


@pytest.fixture
def server():
    """A DnsServer on its own loop thread, without the Internet facade."""
    loop = simnet.LoopThread()
    loop.start()
    dns_server = simnet.DnsServer(origins=["test", "example"])
    loop.run(dns_server.start())
    yield dns_server
    loop.run(dns_server.stop())
    loop.stop()


@pytest.fixture
def resolver(server):
    host, port = server.address
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [dns.nameserver.Do53Nameserver(host, port)]
    res.lifetime = QUERY_TIMEOUT
    return res


def udp(
    server, name: str, rdtype: str = "A", *, timeout: float = QUERY_TIMEOUT, **kwargs
) -> dns.message.Message:
    host, port = server.address
    return dns.query.udp(
        dns.message.make_query(name, rdtype, **kwargs), host, port=port, timeout=timeout
    )


def tcp(server, name: str, rdtype: str = "A") -> dns.message.Message:
    host, port = server.address
    return dns.query.tcp(
        dns.message.make_query(name, rdtype), host, port=port, timeout=QUERY_TIMEOUT
    )


def texts(answer) -> list[str]:
    return sorted(rdata.to_text() for rdata in answer)


def test_a_and_aaaa(server, resolver):
    server.a("shop.test", "127.10.0.1", "127.10.0.2")
    server.aaaa("shop.test", "::1")
    assert texts(resolver.resolve("shop.test", "A")) == ["127.10.0.1", "127.10.0.2"]
    assert texts(resolver.resolve("SHOP.test.", "AAAA")) == ["::1"]
    assert resolver.resolve("shop.test", "A").rrset.ttl == 1


def test_records_are_replaced_and_deleted(server, resolver):
    server.a("shop.test", "127.10.0.1")
    server.a("shop.test", "127.10.0.9")
    server.aaaa("shop.test", "::1")
    assert texts(resolver.resolve("shop.test", "A")) == ["127.10.0.9"]
    server.delete("shop.test", "A")
    with pytest.raises(dns.resolver.NoAnswer):
        resolver.resolve("shop.test", "A")
    server.delete("shop.test")
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("shop.test", "AAAA")


def test_cname_chain_is_followed_like_a_recursive_resolver(server, resolver):
    server.cname("www.test", "cdn.test")
    server.cname("cdn.test", "edge.example")
    server.a("edge.example", "127.10.0.7")
    response = udp(server, "www.test")
    assert response.flags & dns.flags.RA
    assert [rrset.to_text() for rrset in response.answer] == [
        "www.test. 1 IN CNAME cdn.test.",
        "cdn.test. 1 IN CNAME edge.example.",
        "edge.example. 1 IN A 127.10.0.7",
    ]
    answer = resolver.resolve("www.test", "A")
    assert answer.canonical_name.to_text() == "edge.example."
    assert texts(answer) == ["127.10.0.7"]


def test_cname_query_returns_only_the_alias(server):
    server.cname("www.test", "shop.test")
    server.a("shop.test", "127.10.0.1")
    assert [rrset.to_text() for rrset in udp(server, "www.test", "CNAME").answer] == [
        "www.test. 1 IN CNAME shop.test."
    ]


def test_cname_to_missing_name_is_nxdomain_with_the_chain(server):
    server.cname("dangling.test", "gone.test")
    response = udp(server, "dangling.test")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert len(response.answer) == 1


def test_cname_loop_is_servfail(server):
    server.cname("a.test", "b.test")
    server.cname("b.test", "a.test")
    assert udp(server, "a.test").rcode() == dns.rcode.SERVFAIL


def test_ns_and_txt(server, resolver):
    server.ns("test", "ns1.test", "ns2.test")
    long_text = "v=spf1 " + "include:x.test " * 30
    server.txt("shop.test", 'say "hi"\\', long_text)
    assert texts(resolver.resolve("test", "NS")) == ["ns1.test.", "ns2.test."]
    strings = sorted(
        b"".join(rdata.strings).decode() for rdata in resolver.resolve("shop.test", "TXT")
    )
    assert strings == sorted(['say "hi"\\', long_text])


def test_unknown_names_are_nxdomain_and_empty_names_nodata(server, resolver):
    server.a("shop.test", "127.10.0.1")
    response = udp(server, "nothing.test")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.authority[0].rdtype == dns.rdatatype.SOA
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("nothing.test", "A")
    with pytest.raises(dns.resolver.NoAnswer):
        resolver.resolve("shop.test", "AAAA")
    with pytest.raises(dns.resolver.NoAnswer):
        resolver.resolve("test", "A")  # Exists: it has names below it.


def test_names_outside_the_zones_are_refused(server):
    assert udp(server, "example.com").rcode() == dns.rcode.REFUSED


def test_servfail_for_chosen_names(server):
    server.a("broken.test", "127.10.0.1")
    server.servfail("broken.test")
    assert udp(server, "broken.test").rcode() == dns.rcode.SERVFAIL
    server.cname("alias.test", "broken.test")
    assert udp(server, "alias.test").rcode() == dns.rcode.SERVFAIL
    server.clear_fault("broken.test")
    assert udp(server, "broken.test").rcode() == dns.rcode.NOERROR


def test_faults_for_a_number_of_queries(server):
    server.a("flaky.test", "127.10.0.1")
    server.servfail("flaky.test", times=2)
    rcodes = [udp(server, "flaky.test").rcode() for _ in range(3)]
    assert rcodes == [dns.rcode.SERVFAIL, dns.rcode.SERVFAIL, dns.rcode.NOERROR]
    server.refuse("flaky.test", times=1)
    assert udp(server, "flaky.test").rcode() == dns.rcode.REFUSED


def test_timeout_drops_the_query(server):
    server.a("slow.test", "127.10.0.1")
    server.timeout("slow.test", times=1)
    with pytest.raises(dns.exception.Timeout):
        udp(server, "slow.test", timeout=0.2)
    assert udp(server, "slow.test").rcode() == dns.rcode.NOERROR
    assert server.query_count("slow.test") == 2


def test_sequence_answers_change_per_query_then_repeat_the_last(server, resolver):
    server.sequence("rebind.test", ["127.10.0.5", ["127.0.0.1", "127.0.0.2"]])
    answers = [texts(resolver.resolve("rebind.test", "A")) for _ in range(3)]
    assert answers == [["127.10.0.5"], ["127.0.0.1", "127.0.0.2"], ["127.0.0.1", "127.0.0.2"]]


def test_dynamic_answers(server, resolver):
    calls = []
    server.dynamic("dyn.test", lambda: calls.append(1) or f"127.10.0.{len(calls)}")
    assert [texts(resolver.resolve("dyn.test", "A")) for _ in range(2)] == [
        ["127.10.0.1"],
        ["127.10.0.2"],
    ]
    server.dynamic("none.test", lambda: [])
    with pytest.raises(dns.resolver.NoAnswer):
        resolver.resolve("none.test", "A")


@pytest.mark.parametrize(
    ("outage", "expected"), [("servfail", dns.rcode.SERVFAIL), ("refused", dns.rcode.REFUSED)]
)
def test_outage_fails_every_query(server, outage, expected):
    server.a("shop.test", "127.10.0.1")
    server.outage = outage
    assert udp(server, "shop.test").rcode() == expected
    assert tcp(server, "shop.test").rcode() == expected
    server.outage = None
    assert udp(server, "shop.test").rcode() == dns.rcode.NOERROR


def test_timeout_outage(server, resolver):
    server.a("shop.test", "127.10.0.1")
    server.outage = "timeout"
    resolver.lifetime = 0.3
    with pytest.raises(dns.resolver.LifetimeTimeout):
        resolver.resolve("shop.test", "A")
    server.outage = None
    resolver.lifetime = QUERY_TIMEOUT
    assert texts(resolver.resolve("shop.test", "A")) == ["127.10.0.1"]


def test_tcp_queries_share_the_udp_port(server):
    server.a("shop.test", "127.10.0.1")
    response = tcp(server, "shop.test")
    assert response.answer[0].to_text() == "shop.test. 1 IN A 127.10.0.1"


def test_large_udp_answers_are_truncated_and_complete_over_tcp(server):
    server.txt("big.test", *(f"record {i} " + "x" * 100 for i in range(10)))
    truncated = udp(server, "big.test", "TXT", use_edns=False)
    assert truncated.flags & dns.flags.TC
    assert len(tcp(server, "big.test", "TXT").answer[0]) == 10


def test_query_counts_per_name_and_type(server, resolver):
    server.a("shop.test", "127.10.0.1")
    for rdtype in ("A", "A", "AAAA"):
        with contextlib.suppress(dns.resolver.NoAnswer):
            resolver.resolve("shop.test", rdtype)
    udp(server, "other.test")
    assert server.query_count("shop.test", "A") == 2
    assert server.query_count("Shop.Test.", "AAAA") == 1
    assert server.query_count("shop.test") == 3
    assert server.query_count() == 4


def test_garbage_is_ignored(server):
    server.a("shop.test", "127.10.0.1")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"\x00garbage", server.address)
    assert udp(server, "shop.test").rcode() == dns.rcode.NOERROR


def test_internet_facade_wires_dns_to_sites():
    with simnet.Internet(tls=False) as net:
        site = net.site("shop.test")
        net.cname("alias.test", "shop.test")
        host, port = net.dns_address
        assert host == "127.0.0.1" and net.nameservers == [f"127.0.0.1:{port}"]
        answer = net.resolver().resolve("alias.test", "A")
        assert texts(answer) == [site.address]
        net.dns.sequence("rebind.test", ["127.10.0.5", "127.0.0.1"])
        assert [texts(net.resolver().resolve("rebind.test")) for _ in range(3)] == [
            ["127.10.0.5"],
            ["127.0.0.1"],
            ["127.0.0.1"],
        ]
