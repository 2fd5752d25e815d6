"""Tests of simnet's simulated web hosts, driven with http.client and raw sockets."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gzip
import http.client
import os
import socket
import ssl
import threading
import time
import urllib.parse

import pytest

import simnet
from simnet.addresses import AddressPool
from simnet.listen import StreamServer, bind
from simnet.tls import tls_available

pytestmark = pytest.mark.timeout(30)
needs_tls = pytest.mark.skipif(not tls_available(), reason="cryptography is not installed")


@pytest.fixture
def net():
    with simnet.Internet(tls=False) as internet:
        yield internet


def fetch(
    site: simnet.Site,
    path: str = "/",
    *,
    host: str | None = None,
    method: str = "GET",
    timeout: float = 5.0,
) -> tuple[http.client.HTTPResponse, bytes]:
    """One request on a fresh connection to ``site``'s address, with Host ``host``."""
    port = urllib.parse.urlsplit(site.url()).port
    connection = http.client.HTTPConnection(site.address, port, timeout=timeout)
    try:
        connection.request(method, path, headers={"Host": host or site.name})
        response = connection.getresponse()
        return response, response.read()
    finally:
        connection.close()


# Routing.


def test_sites_get_distinct_addresses_and_one_shared_port(net):
    first, second = net.site("one.test"), net.site("two.test")
    assert (first.address, second.address) == ("127.10.0.1", "127.10.0.2")
    assert first.url("/x") == f"http://one.test:{net.web.port}/x"
    assert second.url("/x") == f"http://two.test:{net.web.port}/x"


def test_requests_are_routed_by_host_header(net):
    first, second = net.site("one.test"), net.site("two.test")
    first.page("/", simnet.html_body("first"))
    second.page("/", simnet.html_body("second"))
    _, body = fetch(first, host="two.test")
    assert b"second" in body
    assert [r.site for r in net.web.log.records()] == ["two.test"]


def test_host_header_is_case_and_port_insensitive(net):
    site = net.site("shop.test")
    site.page("/p")
    response, _ = fetch(site, "/p", host=f"SHOP.test.:{net.web.port}")
    assert response.status == 200


def test_unknown_host_gets_the_default_site_of_its_address(net):
    site = net.site("shop.test")
    site.page("/p")
    response, _ = fetch(site, "/p", host="elsewhere.test")
    assert response.status == 200
    assert site.request_count == 1


def test_sites_may_share_an_address(net):
    first = net.site("one.test", address="127.10.9.9")
    second = net.site("two.test", address="127.10.9.9")
    second.page("/only-two")
    assert fetch(first, "/only-two")[0].status == 404
    assert fetch(first, "/only-two", host="two.test")[0].status == 200


def test_cname_alias_is_served_as_its_target(net):
    site = net.site("shop.test")
    site.page("/a.jpg", simnet.image_body(1000))
    net.cname("cdn.test", "shop.test")
    net.cname("edge.cdn.test", "cdn.test")
    response, body = fetch(site, "/a.jpg", host="edge.cdn.test")
    assert response.status == 200 and body == simnet.image_body(1000)
    assert net.url("edge.cdn.test", "/a.jpg") == f"http://edge.cdn.test:{net.web.port}/a.jpg"
    answer = net.resolver().resolve("edge.cdn.test", "A")
    assert [r.address for r in answer] == [site.address]


def test_non_loopback_addresses_are_refused(net):
    with pytest.raises(ValueError):
        net.site("evil.test", address="10.0.0.1")


def test_address_pool_skips_network_and_broadcast_addresses():
    pool = AddressPool("127.10.0.254")
    pool.reserve("127.10.1.1")
    assert [pool.allocate() for _ in range(2)] == ["127.10.0.254", "127.10.1.2"]


# Pages.


def test_default_pages_carry_the_marker(net):
    site = net.site("shop.test")
    site.page("/index.html")
    site.page("/pic.jpg")
    html_response, html = fetch(site, "/index.html")
    image_response, image = fetch(site, "/pic.jpg")
    assert html_response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert image_response.getheader("Content-Type") == "image/jpeg"
    assert image.startswith(b"\xff\xd8\xff")
    assert simnet.contains_marker(html) and simnet.contains_marker(image)
    for path in ("/missing", "/"):
        response, body = fetch(site, path)
        assert response.status == 404 and simnet.contains_marker(body)


def test_body_helpers():
    image = simnet.image_body(4096)
    assert len(image) == 4096 and image.startswith(b"\xff\xd8\xff") and simnet.MARKER_BYTES in image
    assert simnet.MARKER_BYTES in simnet.html_body("<title>", "text")
    with pytest.raises(ValueError):
        simnet.image_body(10)


def test_files_containing_marker(tmp_path):
    (tmp_path / "clean.txt").write_text("nothing here")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "leak.bin").write_bytes(simnet.image_body(100))
    assert simnet.files_containing_marker(tmp_path) == [tmp_path / "sub" / "leak.bin"]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects(net, status):
    site = net.site("shop.test")
    site.redirect("/old", "/new", status=status)
    response, body = fetch(site, "/old")
    assert response.status == status
    assert response.getheader("Location") == "/new"
    assert simnet.contains_marker(body)


def test_redirect_chains_and_loops(net):
    site, other = net.site("shop.test"), net.site("other.test")
    other.page("/end")
    site.redirect("/a", "/b", 301)
    site.redirect("/b", other.url("/end"))
    site.redirect("/loop1", "/loop2")
    site.redirect("/loop2", "/loop1")
    assert fetch(site, "/b")[0].getheader("Location") == f"http://other.test:{net.web.port}/end"
    assert fetch(site, "/loop2")[0].getheader("Location") == "/loop1"
    with pytest.raises(ValueError):
        site.redirect("/x", "/y", status=200)


@pytest.mark.parametrize("status", [404, 410, 451])
def test_take_down(net, status):
    site = net.site("shop.test")
    site.page("/a.jpg")
    assert fetch(site, "/a.jpg")[0].status == 200
    site.take_down("/a.jpg", status=status)
    response, body = fetch(site, "/a.jpg")
    assert response.status == status and simnet.contains_marker(body)


def test_replace_changes_body_and_content_type(net):
    site = net.site("shop.test")
    site.page("/item", simnet.image_body(500), content_type="image/jpeg")
    site.replace("/item", b"<p>new " + simnet.MARKER_BYTES + b"</p>", content_type="text/html")
    response, body = fetch(site, "/item")
    assert response.getheader("Content-Type") == "text/html"
    assert body.startswith(b"<p>new ")
    site.replace("/item")
    assert fetch(site, "/item")[1] != body
    with pytest.raises(KeyError):
        site.replace("/never-served")


def test_catch_all_answers_every_other_path_with_one_page(net):
    site = net.site("soft404.test")
    site.page("/real")
    site.catch_all()
    answers = [fetch(site, path) for path in ("/", "/no-such-page", "/x/y.jpg?q=1")]
    assert {response.status for response, _ in answers} == {200}
    assert len({body for _, body in answers}) == 1
    assert fetch(site, "/real")[1] != answers[0][1]


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (401, {"WWW-Authenticate": 'Basic realm="x"'}),
        (403, {}),
        (429, {"Retry-After": "1"}),
        (500, {}),
    ],
)
def test_any_status(net, status, headers):
    site = net.site("shop.test")
    site.page("/p", status=status, headers=headers)
    response, _ = fetch(site, "/p")
    assert response.status == status
    for name, value in headers.items():
        assert response.getheader(name) == value


def test_query_string_pages(net):
    site = net.site("shop.test")
    site.page("/view", simnet.html_body("plain"))
    site.page("/view?id=2", simnet.html_body("second"))
    assert b"second" in fetch(site, "/view?id=2")[1]
    assert b"plain" in fetch(site, "/view?id=3")[1]


# Delivery.


def test_gzip_content_encoding(net):
    site = net.site("shop.test")
    body = simnet.html_body("compressed", "x" * 5000)
    site.page("/z", body, gzip=True)
    response, wire = fetch(site, "/z")
    assert response.getheader("Content-Encoding") == "gzip"
    assert int(response.getheader("Content-Length")) == len(wire) < len(body)
    assert gzip.decompress(wire) == body


def test_chunked_framing(net):
    site = net.site("shop.test")
    body = simnet.image_body(20_000)
    site.page("/c.jpg", body, framing="chunked")
    response, received = fetch(site, "/c.jpg")
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.getheader("Content-Length") is None
    assert received == body


def test_close_delimited_framing(net):
    site = net.site("shop.test")
    site.page("/c", simnet.html_body("until close"), framing="close")
    response, received = fetch(site, "/c")
    assert response.getheader("Content-Length") is None
    assert response.getheader("Connection") == "close"
    assert received == simnet.html_body("until close")


def test_head_has_headers_but_no_body(net):
    site = net.site("shop.test")
    site.page("/a.jpg", simnet.image_body(3000))
    response, body = fetch(site, "/a.jpg", method="HEAD")
    assert response.status == 200 and body == b""
    assert response.getheader("Content-Length") == "3000"


def test_keep_alive_serves_requests_on_one_connection(net):
    site = net.site("shop.test")
    site.page("/1")
    site.page("/2")
    connection = http.client.HTTPConnection(site.address, net.web.port, timeout=5)
    for path in ("/1", "/2"):
        connection.request("GET", path, headers={"Host": site.name})
        response = connection.getresponse()
        assert response.status == 200 and simnet.contains_marker(response.read())
    connection.close()
    first, second = site.requests
    assert first.connection == second.connection


def test_host_latency_delays_response(net):
    site = net.site("slow.test", latency=0.3)
    site.page("/p")
    started = time.monotonic()
    fetch(site, "/p")
    assert time.monotonic() - started >= 0.3


def test_page_delay(net):
    site = net.site("shop.test")
    site.page("/slow", delay=0.3)
    started = time.monotonic()
    fetch(site, "/slow")
    assert time.monotonic() - started >= 0.3


def test_malformed_request_gets_400(net):
    site = net.site("shop.test")
    with socket.create_connection((site.address, net.web.port), timeout=5) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400 ")


# Scripted failures.


def test_fail_next_reset_then_recover(net):
    site = net.site("shop.test")
    site.page("/a.jpg")
    site.fail_next("/a.jpg", 2, mode="reset")
    for _ in range(2):
        with pytest.raises(ConnectionResetError):
            fetch(site, "/a.jpg")
    assert fetch(site, "/a.jpg")[0].status == 200
    assert site.request_count == 3


def test_fail_next_503_then_recover(net):
    site = net.site("shop.test")
    site.page("/p")
    site.fail_next("/p", 2, mode="503")
    assert [fetch(site, "/p")[0].status for _ in range(3)] == [503, 503, 200]


def test_fail_next_without_path_applies_to_any_path_and_failures_queue(net):
    site = net.site("shop.test")
    site.page("/p")
    site.fail_next(None, 1, mode=503)
    site.fail_next(None, 1, mode=429)
    assert [fetch(site, path)[0].status for path in ("/p", "/q", "/p")] == [503, 429, 200]


def test_fail_next_hang_then_recover_and_stop_is_not_blocked():
    internet = simnet.Internet(tls=False).start()
    try:
        site = internet.site("shop.test")
        site.page("/p")
        site.fail_next("/p", 1, mode="hang")
        with pytest.raises(TimeoutError):
            fetch(site, "/p", timeout=0.3)
        assert fetch(site, "/p")[0].status == 200
        # A second hanging connection is left open while the server stops.
        site.fail_next("/p", 1, mode="hang")
        hanging = socket.create_connection((site.address, internet.web.port), timeout=5)
        hanging.sendall(b"GET /p HTTP/1.1\r\nHost: shop.test\r\n\r\n")
        while site.request_count < 3:
            time.sleep(0.01)
    finally:
        internet.stop()
    assert hanging.recv(100) == b""  # Closed by stop(), never answered.
    hanging.close()


# Request log.


def test_request_log(net):
    quiet, busy = net.site("quiet.test"), net.site("busy.test")
    busy.page("/p")
    before = time.time()
    fetch(busy, "/p?x=1", method="HEAD")
    (record,) = busy.requests
    assert (record.method, record.target, record.path) == ("HEAD", "/p?x=1", "/p")
    assert (record.host, record.scheme) == ("busy.test", "http")
    assert record.address == busy.address and record.client[0].startswith("127.")
    assert before <= record.time <= time.time()
    assert quiet.request_count == 0
    assert net.web.log.count(address=quiet.address) == 0
    assert net.web.log.count(address=busy.address) == 1
    net.web.log.clear()
    assert busy.request_count == 0


def test_many_hosts_under_concurrency(net):
    sites = [net.site(f"host{i}.test") for i in range(40)]
    for site in sites:
        site.page("/p")

    def client(worker: int) -> list[int]:
        site = sites[worker % len(sites)]
        connection = http.client.HTTPConnection(site.address, net.web.port, timeout=5)
        statuses = []
        for _ in range(25):
            connection.request("GET", "/p", headers={"Host": site.name})
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
        connection.close()
        return statuses

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = [s for result in pool.map(client, range(32)) for s in result]
    assert statuses == [200] * 800
    assert net.web.log.count() == 800


# TLS and lifecycle.


@needs_tls
def test_https_with_self_signed_certificate():
    with simnet.Internet() as internet:
        site = internet.site("secure.test")
        site.page("/s")
        assert site.url("/s", scheme="https") == f"https://secure.test:{internet.web.tls_port}/s"
        assert internet.web.tls_port != internet.web.port
        unverified = ssl._create_unverified_context()
        connection = http.client.HTTPSConnection(
            site.address, internet.web.tls_port, timeout=5, context=unverified
        )
        connection.request("GET", "/s", headers={"Host": site.name})
        response = connection.getresponse()
        assert response.status == 200 and simnet.contains_marker(response.read())
        connection.close()
        assert site.requests[0].scheme == "https"
        verifying = http.client.HTTPSConnection(site.address, internet.web.tls_port, timeout=5)
        with pytest.raises(ssl.SSLCertVerificationError):
            verifying.request("GET", "/s", headers={"Host": site.name})
        verifying.close()


@needs_tls
def test_start_and_stop_leave_no_threads_or_sockets():
    threads, fds = threading.active_count(), len(os.listdir("/proc/self/fd"))
    with simnet.Internet() as internet:
        site = internet.site("shop.test")
        site.page("/p")
        assert fetch(site, "/p")[0].status == 200
        # Connections still open at stop: idle HTTP, TLS before its handshake, DNS over TCP.
        open_connections = [
            socket.create_connection((site.address, internet.web.port), timeout=5),
            socket.create_connection((site.address, internet.web.tls_port), timeout=5),
            socket.create_connection(internet.dns_address, timeout=5),
        ]
    for connection in open_connections:
        assert connection.recv(1) == b""
        connection.close()
    assert threading.active_count() == threads
    assert len(os.listdir("/proc/self/fd")) == fds


def test_stop_ends_connections_not_yet_accepted_with_eof_not_reset():
    # Under load a connection can be established by the kernel (the client's connect
    # returned) but still wait in the listen backlog when the server stops: closing the
    # listener would then reset it. Here the loop never gets to accept before stop().
    async def scenario() -> list[bytes]:
        server = StreamServer()
        listener = bind("127.0.0.1", socket.SOCK_STREAM, 0)
        server.listen(listener, _never_answers)
        waiting = [socket.create_connection(listener.getsockname(), timeout=5) for _ in range(3)]
        await server.stop()  # no await before it: none of the three was accepted
        try:
            return [connection.recv(1) for connection in waiting]
        finally:
            for connection in waiting:
                connection.close()

    assert asyncio.run(scenario()) == [b"", b"", b""]


async def _never_answers(reader, writer) -> None:
    await reader.read()


def test_web_server_runs_on_any_event_loop_without_the_facade():
    async def scenario() -> bytes:
        server = simnet.WebServer(tls=False, first_address="127.10.50.1")
        site = await server.add_site("early.test")  # Before start: bound by start().
        site.page("/p", b"early " + simnet.MARKER_BYTES)
        await server.start()
        try:
            reader, writer = await asyncio.open_connection(site.address, server.port)
            writer.write(b"GET /p HTTP/1.1\r\nHost: early.test\r\nConnection: close\r\n\r\n")
            response = await reader.read()
            writer.close()
            return response
        finally:
            await server.stop()

    response = asyncio.run(scenario())
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert response.endswith(b"\r\n\r\nearly " + simnet.MARKER_BYTES)
