"""Tests of the network guard (tests/netguard): only loopback is reachable.

Every refused destination is 192.0.2.1 (TEST-NET-1, RFC 5737) or a public name,
so even a guard bug would send nothing harmful; the guard refuses before sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import ipaddress
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import dns.message
import dns.query
import dns.resolver
import ipwhois
import pytest
import tldextract
import tldextract.tldextract
from hypothesis import given
from hypothesis import strategies as st

from tests.netguard import guard, policy
from tests.netguard.violations import NetworkGuardViolation

pytest_plugins = ["pytester"]

UNROUTABLE = "192.0.2.1"
PUBLIC_NAME = "example.com"


@pytest.fixture
def tcp_listener():
    """A TCP server socket on 127.0.0.1 that accepts nothing by itself."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def _ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_guard_is_installed_for_the_whole_session():
    assert guard.is_installed()
    assert socket.socket.connect is not socket.SocketType.connect


# --- what is allowed -----------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "api.localhost"])
def test_tcp_to_loopback_is_allowed(tcp_listener, host):
    port = tcp_listener.getsockname()[1]
    with socket.create_connection((host, port), timeout=2) as client:
        accepted, _ = tcp_listener.accept()
        with accepted:
            client.sendall(b"ping")
            assert accepted.recv(4) == b"ping"


@pytest.mark.skipif(not _ipv6_loopback_available(), reason="no IPv6 loopback here")
def test_tcp_to_ipv6_loopback_is_allowed():
    with (
        socket.create_server(("::1", 0), family=socket.AF_INET6) as server,
        socket.create_connection(("::1", server.getsockname()[1]), timeout=2),
    ):
        server.accept()[0].close()


def test_udp_to_loopback_is_allowed():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"one", receiver.getsockname())
            sender.sendmsg([b"two"], [], 0, receiver.getsockname())
        assert [receiver.recv(8), receiver.recv(8)] == [b"one", b"two"]


def test_unix_sockets_are_allowed():
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        left.sendall(b"local")
        assert right.recv(5) == b"local"


def test_localhost_names_resolve_to_loopback_without_the_system_resolver():
    infos = socket.getaddrinfo("api.localhost", 80, type=socket.SOCK_STREAM)
    assert [info[4][0] for info in infos][0] == "127.0.0.1"
    assert {info[4][0] for info in infos} <= {"127.0.0.1", "::1"}
    assert socket.gethostbyname("LOCALHOST.") == "127.0.0.1"
    assert socket.gethostbyaddr("127.0.0.5") == ("localhost", [], ["127.0.0.5"])


def test_dnspython_against_a_loopback_server_is_allowed():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))

        def answer_once():
            wire, client = server.recvfrom(512)
            server.sendto(dns.message.make_response(dns.message.from_wire(wire)).to_wire(), client)

        responder = threading.Thread(target=answer_once)
        responder.start()
        query = dns.message.make_query("hotline.test.", "A")
        response = dns.query.udp(query, "127.0.0.1", port=server.getsockname()[1], timeout=2)
        responder.join()
    assert response.id == query.id


# --- the policy itself ---------------------------------------------------------


@given(st.ip_addresses(v=4))
def test_exactly_127_slash_8_is_reachable_also_when_ipv4_mapped(ip):
    reachable = ip in ipaddress.ip_network("127.0.0.0/8")
    mapped = ipaddress.IPv6Address(f"::ffff:{ip}")
    assert (policy.destination_refusal(str(ip), 80) is None) is reachable
    assert (policy.destination_refusal(str(mapped), 80) is None) is reachable


@pytest.mark.parametrize(
    ("host", "reachable"),
    [
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:8.8.8.8", False),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("<broadcast>", False),
        ("localhost", False),  # names are pinned to loopback before this check
    ],
)
def test_destination_policy(host, reachable):
    assert (policy.destination_refusal(host, 80) is None) is reachable


def test_loopback_system_resolver_stub_is_refused(monkeypatch, tmp_path):
    resolv_conf = tmp_path / "resolv.conf"
    resolv_conf.write_text("nameserver 127.0.0.53\nnameserver 10.0.0.2\n")
    monkeypatch.setattr(policy, "_RESOLV_CONF", resolv_conf)
    policy.system_resolver_stubs.cache_clear()
    try:
        assert "stub resolver" in policy.destination_refusal("127.0.0.53", 53)
        assert policy.destination_refusal("127.0.0.53", 5353) is None
    finally:
        policy.system_resolver_stubs.cache_clear()


# --- what is refused, client by client -----------------------------------------


@pytest.mark.parametrize(
    ("family", "host"),
    [
        (socket.AF_INET, UNROUTABLE),
        (socket.AF_INET, "0.0.0.0"),
        (socket.AF_INET, PUBLIC_NAME),
        (socket.AF_INET6, f"::ffff:{UNROUTABLE}"),
    ],
)
@pytest.mark.parametrize("method", ["connect", "connect_ex"])
def test_plain_socket_connect_is_refused(netguard, family, host, method):
    with (
        socket.socket(family) as sock,
        netguard.expect_violation(operation=method, host=host),
        pytest.raises(NetworkGuardViolation, match=host),
    ):
        getattr(sock, method)((host, 80))


def test_udp_to_a_remote_host_is_refused(netguard):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for operation, send in [
            ("sendto", lambda: sock.sendto(b"x", (UNROUTABLE, 53))),
            ("sendmsg", lambda: sock.sendmsg([b"x"], [], 0, (UNROUTABLE, 53))),
        ]:
            with (
                netguard.expect_violation(operation=operation, host=UNROUTABLE),
                pytest.raises(NetworkGuardViolation),
            ):
                send()


@pytest.mark.parametrize(
    ("lookup", "argument"),
    [
        (lambda host: socket.getaddrinfo(host, 443), PUBLIC_NAME),
        (socket.gethostbyname, PUBLIC_NAME),
        (socket.gethostbyname_ex, PUBLIC_NAME),
        (socket.gethostbyaddr, "8.8.8.8"),
        (lambda host: socket.getnameinfo((host, 53), 0), "8.8.8.8"),
        (socket.getfqdn, PUBLIC_NAME),  # swallows the error: the record remains
    ],
    ids=[
        "getaddrinfo",
        "gethostbyname",
        "gethostbyname_ex",
        "gethostbyaddr",
        "getnameinfo",
        "getfqdn",
    ],
)
def test_name_resolution_beyond_loopback_is_refused(netguard, lookup, argument):
    with netguard.expect_violation(host=argument), contextlib.suppress(NetworkGuardViolation):
        lookup(argument)


def test_asyncio_is_refused(netguard):
    async def attempts():
        with pytest.raises(NetworkGuardViolation):
            await asyncio.open_connection(UNROUTABLE, 80)
        with socket.socket() as sock:
            sock.setblocking(False)
            with pytest.raises(NetworkGuardViolation):
                await asyncio.get_running_loop().sock_connect(sock, (UNROUTABLE, 80))
        # Names resolve in the loop's executor thread; the refusal travels back.
        with pytest.raises(NetworkGuardViolation):
            await asyncio.open_connection(PUBLIC_NAME, 80)

    with (
        netguard.expect_violation(operation="connect", host=UNROUTABLE) as connects,
        netguard.expect_violation(operation="getaddrinfo", host=PUBLIC_NAME),
    ):
        asyncio.run(attempts())
    assert len(connects) == 2


@pytest.fixture
def private_reactor():
    """A Twisted reactor of this test's own: the global one cannot restart."""
    from twisted.internet.selectreactor import SelectReactor

    reactor = SelectReactor()
    yield reactor
    # As Twisted's own ReactorBuilder disposes of the reactors it builds.
    for call in reactor.getDelayedCalls():
        call.cancel()
    reactor.disconnectAll()
    for reader in reactor._internalReaders:
        reactor.removeReader(reader)
        reader.connectionLost(None)


def test_twisted_tcp_client_is_refused_at_connect_ex(netguard, private_reactor):
    from twisted.internet import error
    from twisted.internet.protocol import ClientFactory, Protocol

    failures = []

    class RecordingFactory(ClientFactory):
        protocol = Protocol

        def clientConnectionFailed(self, connector, reason):
            failures.append(reason)

    with netguard.expect_violation(operation="connect_ex", host=UNROUTABLE):
        private_reactor.connectTCP(UNROUTABLE, 80, RecordingFactory(), timeout=2)
        for _ in range(50):
            if failures:
                break
            private_reactor.iterate(0.01)
    # Twisted swallows the exception and reads its errno: an ordinary refusal.
    assert failures and failures[0].check(error.ConnectionRefusedError)


def test_http_client_and_urllib_are_refused(netguard):
    with netguard.expect_violation(host=UNROUTABLE), pytest.raises(NetworkGuardViolation):
        http.client.HTTPConnection(UNROUTABLE, 80, timeout=2).request("GET", "/")
    with (
        netguard.expect_violation(host=PUBLIC_NAME),
        pytest.raises(urllib.error.URLError) as caught,
    ):
        urllib.request.urlopen(f"http://{PUBLIC_NAME}/", timeout=2)
    assert isinstance(caught.value.reason, NetworkGuardViolation)


def test_dnspython_default_resolver_is_refused(netguard):
    # The system's nameservers are off this machine (or a forwarding stub).
    with netguard.expect_violation() as caught, pytest.raises(dns.resolver.NoNameservers):
        dns.resolver.Resolver().resolve(PUBLIC_NAME, "A", lifetime=2)
    assert {v.operation for v in caught} <= {"sendto", "connect"}


def test_tldextract_suffix_list_download_is_caught(netguard, monkeypatch, tmp_path):
    # The module-level extractor only downloads when its disk cache is empty.
    fresh = tldextract.TLDExtract(cache_dir=str(tmp_path))
    monkeypatch.setattr(tldextract.tldextract, "TLD_EXTRACTOR", fresh)
    with netguard.expect_violation(operation="getaddrinfo") as caught:
        result = tldextract.extract(f"http://{PUBLIC_NAME}")
    assert "publicsuffix.org" in {v.host for v in caught}
    assert (result.domain, result.suffix) == ("example", "com")  # bundled snapshot


def test_ipwhois_lookup_is_caught(netguard):
    with (
        netguard.expect_violation() as caught,
        pytest.raises(ipwhois.exceptions.BaseIpwhoisException),
    ):
        ipwhois.IPWhois("8.8.8.8").lookup_rdap()
    # Its DNS, WHOIS and HTTP methods each failed quietly in turn.
    assert {"sendto", "connect", "getaddrinfo"} <= {v.operation for v in caught}


# --- subprocesses ------------------------------------------------------------------


def test_guarded_subprocess_reports_its_violation(netguard, guarded_env, request):
    code = f"import socket; socket.socket().connect(({UNROUTABLE!r}, 80))"
    with netguard.expect_violation(operation="connect", host=UNROUTABLE) as caught:
        child = subprocess.run(
            [sys.executable, "-c", code], env=guarded_env, capture_output=True, text=True
        )
    assert child.returncode != 0
    assert "NetworkGuardViolation" in child.stderr
    assert caught[0].context.startswith(f"{request.node.nodeid} (subprocess ")


def test_scrapy_in_a_guarded_subprocess_is_refused(netguard, guarded_env, tmp_path):
    fetch = [
        sys.executable,
        "-m",
        "scrapy",
        "fetch",
        "--nolog",
        "-s",
        "RETRY_ENABLED=False",
        "-s",
        "TELNETCONSOLE_ENABLED=False",
        f"http://{UNROUTABLE}:8080/",
    ]
    with netguard.expect_violation(host=UNROUTABLE):
        subprocess.run(fetch, env=guarded_env, cwd=tmp_path, capture_output=True, timeout=60)


# --- failing the test when a library swallows the refusal ------------------------

INNER_TESTS = f"""
import socket, subprocess, sys
import pytest

def swallowed_connect():
    try:
        socket.socket().connect(({UNROUTABLE!r}, 80))
    except OSError:
        pass  # as ipwhois, Twisted and Scrapy's retries do

def test_swallowed():
    swallowed_connect()

def test_acknowledged(netguard):
    with netguard.expect_violation(host={UNROUTABLE!r}):
        swallowed_connect()

def test_in_subprocess(guarded_env):
    subprocess.run([sys.executable, "-c", "import socket; socket.getaddrinfo('example.com', 80)"],
                   env=guarded_env, capture_output=True)

@pytest.mark.xfail(reason="a violation must not pass as an expected failure")
def test_xfail():
    swallowed_connect()
    assert False

@pytest.fixture
def leaky_teardown():
    yield
    swallowed_connect()

def test_teardown(leaky_teardown):
    pass
"""


def test_recorded_violations_fail_the_test_that_made_them(pytester):
    pytester.makepyfile(test_inner=INNER_TESTS)
    result = pytester.runpytest_inprocess("-p", "tests.netguard.plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=3, errors=1)
    result.stdout.fnmatch_lines_random(
        [
            "FAILED test_inner.py::test_swallowed - *",
            "FAILED test_inner.py::test_in_subprocess - *",
            "FAILED test_inner.py::test_xfail - *",
            "ERROR test_inner.py::test_teardown - *",
            f"network guard refused connect({UNROUTABLE}:80) in test_inner.py::test_swallowed: *",
            "network guard refused getaddrinfo(example.com:80) in test_inner.py::test_in_subprocess"
            " (subprocess *",
        ]
    )


def test_import_time_violation_fails_collection(pytester):
    pytester.makepyfile(
        test_import="""
        import socket
        try:
            socket.gethostbyname("example.com")
        except OSError:
            pass

        def test_never_runs():
            pass
    """
    )
    result = pytester.runpytest_inprocess("-p", "tests.netguard.plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*refused gethostbyname(example.com) in collection of test_import.py*"]
    )
