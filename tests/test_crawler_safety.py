"""The safety policy holds at connect time: a listener on 127.0.0.1 must receive nothing.

The simulated internet's sites live in 127.10.0.0/16, which the tests allow; 127.0.0.1
stays forbidden, as every private address is without ALLOWED_PRIVATE_NETWORKS.
"""

from __future__ import annotations

import socket
import threading

import pytest


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it receives."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            connection.settimeout(2)
            try:
                path = connection.recv(4096).split(b" ")[1]
            except (OSError, IndexError):
                path = b"?"
            body = b"you reached " + path  # a page per path: not a catch-all host
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body)
            )
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener():
    opened = Listener()
    yield opened
    opened.close()


SPELLINGS = [
    "127.0.0.1",
    "2130706433",
    "0x7f000001",
    "0x7f.1",
    "0177.0.0.1",
    "127.1",
    "0.0.0.0",
    "[::ffff:127.0.0.1]",
    "[::1]",
]


@pytest.mark.parametrize("host", SPELLINGS)
def test_literal_addresses_in_every_spelling_are_blocked(world, listener, host):
    [report] = world.add(f"http://{host}:{listener.port}/x")
    world.check()
    view = world.show(report)
    assert view["checks"][-1]["outcome"] == "blocked"
    assert (view["state"], view["next_check_at"]) == ("rejected", None)
    assert view["reason"].startswith("refused by the safety policy: ")
    assert listener.accepted == 0


def test_the_cloud_metadata_address_is_blocked(world):
    [report] = world.add("http://169.254.169.254/latest/meta-data/")
    world.check()
    view = world.show(report)
    assert view["state"] == "rejected"
    assert view["reason"] == "refused by the safety policy: 169.254.169.254 is link-local"


def test_a_name_that_resolves_to_a_private_address_is_blocked(world, listener):
    world.net.dns.a("evil.test", "127.0.0.1")
    world.net.dns.a("mixed.test", "10.0.0.1")
    world.net.dns.aaaa("mixed.test", "::1")
    ids = world.add(f"http://evil.test:{listener.port}/", f"http://mixed.test:{listener.port}/")
    world.check()
    for report in ids:
        assert world.state(report) == "rejected"
    assert "127.0.0.1 is loopback" in world.show(ids[0])["reason"]
    assert listener.accepted == 0


@pytest.mark.parametrize("target", ["127.0.0.1", "0x7f.1", "2130706433", "[::ffff:7f00:1]"])
def test_a_redirect_to_a_private_address_is_blocked(world, listener, target):
    site = world.net.site("shop.test")
    site.redirect("/a.jpg", f"http://{target}:{listener.port}/stolen")
    [report] = world.add(site.url("/a.jpg"))
    world.check()
    view = world.show(report)
    assert view["checks"][-1]["outcome"] == "blocked"
    assert view["checks"][-1]["redirects"] == [site.url("/a.jpg")]
    assert view["state"] == "rejected"
    assert listener.accepted == 0


def test_a_name_that_rebinds_to_a_private_address_is_caught_at_connect(world, listener):
    site = world.net.site("shop.test")
    site.page("/a.jpg")
    world.net.dns.sequence("rebind.test", [site.address, "127.0.0.1"])
    world.net.web.alias("rebind.test", "shop.test")
    [report] = world.add(f"http://rebind.test:{world.net.web.port}/a.jpg")
    world.check()
    assert world.state(report) == "online"
    # Next pass the name points at 127.0.0.1; once seen online, blocked counts as error.
    world.check()
    view = world.show(report)
    assert view["checks"][-1]["outcome"] == "blocked"
    assert view["state"] == "unreachable"
    assert listener.accepted == 0


def test_allowed_private_networks_may_be_fetched(world, listener):
    [report] = world.add(f"http://127.0.0.1:{listener.port}/x")
    world.check(allowed_private_networks="127.0.0.1/32")
    assert world.state(report) == "online"
    assert listener.accepted >= 1
