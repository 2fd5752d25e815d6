"""``python -m simnet``: web hosts and DNS in a process of their own, for benchmarks.

    python -m simnet [--hosts N] [--pages N] [--latency S] [--body-size BYTES]

Starts ``--hosts`` sites named ``h0000.test``, ``h0001.test``, ... on consecutive
127.x addresses from ``--first-address``, each serving ``--pages`` fake JPEGs at
``/p/0.jpg`` ... (every other path is a 404), after ``--latency`` seconds, plus a DNS
server that answers for every site and for ``--probe-name``. For hosting look-ups, each
/``--prefix-length`` holding sites is a network announced by its own ASN: Team Cymru's
TXT records are in the DNS, and an RDAP server (``rdap_url``) answers for the network
(with an abuse contact) and for every site's domain (with a registrar). Everything
listens on 127.0.0.0/8 only.

It prints one JSON line on stdout (see ``Ready``) and serves until stdin closes or
SIGTERM/SIGINT. While it serves, it answers a line ``stats`` on stdin with one JSON line:
the requests answered since the last ``stats`` (count, by status, first arrival and
last answer on the wall clock), and starts counting afresh. Benchmarks read the
window of each client from there, on the server's side, the same way for every client.

Every page of a host has the same body, so that a host's SHA-256 is known without
keeping 100,000 bodies: ``host_body(name, size)``. Like every simnet body it carries
the marker.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import ipaddress
import json
import signal
import sys
import threading
import time

from simnet.content import JPEG_END, JPEG_HEADER, MARKER_BYTES
from simnet.cymru import announce
from simnet.dnsserver import DnsServer
from simnet.rdap import RdapServer, contact
from simnet.web import WebServer

PAGE_PATH = "/p/{}.jpg"


def host_body(name: str, size: int) -> bytes:
    """The body every page of host ``name`` serves: a fake JPEG of ``size`` bytes."""
    tag = f" {name} ".encode()
    fixed = len(JPEG_HEADER) + len(MARKER_BYTES) + len(tag) + len(JPEG_END)
    if size < fixed:
        raise ValueError(f"a body for {name} needs at least {fixed} bytes")
    padding = bytes(range(256)) * (size // 256 + 1)
    return JPEG_HEADER + MARKER_BYTES + tag + padding[: size - fixed] + JPEG_END


def host_name(index: int) -> str:
    return f"h{index:04d}.test"


class CountingWebServer(WebServer):
    """A WebServer that also counts what it answered, for ``stats``."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._reset_counts()

    def _reset_counts(self) -> None:
        self.answered = 0
        self.statuses: collections.Counter[int] = collections.Counter()
        self.first_arrival: float | None = None
        self.last_answer: float | None = None

    def take_stats(self) -> dict:
        stats = {
            "requests": self.answered,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "first_arrival": self.first_arrival,
            "last_answer": self.last_answer,
        }
        self._reset_counts()
        self.log.clear()  # the log grows with every request; benchmarks send 100,000s
        return stats

    async def _answer(self, request, connection) -> bool:
        if self.first_arrival is None:
            self.first_arrival = time.time()
        site = self.route(request.host, connection.address)
        page = site.respond(request.target, request.path) if site is not None else None
        keep_alive = await super()._answer(request, connection)
        self.answered += 1
        self.statuses[getattr(page, "status", 0)] += 1
        self.last_answer = time.time()
        return keep_alive


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simnet", description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10, help="web hosts (default 10)")
    parser.add_argument("--pages", type=int, default=10, help="pages per host (default 10)")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds before each response head"
    )
    parser.add_argument("--body-size", type=int, default=2048, help="bytes per page body")
    parser.add_argument("--first-address", default="127.10.0.1")
    parser.add_argument(
        "--probe-name",
        default="probe.test",
        help="a name with an A record and no site, for an outage probe",
    )
    parser.add_argument(
        "--prefix-length",
        type=int,
        default=27,
        help="sites in one such prefix share a network and an ASN (default 27)",
    )
    parser.add_argument(
        "--linkchecker-header",
        action="store_true",
        help="send 'LinkChecker: unthrottled', LinkChecker's opt-in to more than "
        "10 requests per second per host",
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    web = CountingWebServer(tls=False, first_address=args.first_address)
    dns = DnsServer((".",), ttl=60)
    rdap = RdapServer()
    networks: dict[str, int] = {}
    headers = {"LinkChecker": "unthrottled"} if args.linkchecker_header else None
    hosts = []
    for index in range(args.hosts):
        name = host_name(index)
        site = await web.add_site(name, latency=args.latency)
        body = host_body(name, args.body_size)
        for page in range(args.pages):
            site.page(PAGE_PATH.format(page), body, content_type="image/jpeg", headers=headers)
        dns.a(name, site.address)
        prefix = str(ipaddress.ip_network(f"{site.address}/{args.prefix_length}", strict=False))
        if prefix not in networks:
            networks[prefix] = asn = 64512 + len(networks)  # private-use ASNs
            rdap.network(
                prefix,
                name=f"SIMNET-{asn}",
                country="NL",
                entities=[contact(f"ABUSE-{asn}", ["abuse"], email=f"abuse@as{asn}.test")],
            )
        asn = networks[prefix]
        announce(dns, site.address, asn, prefix, description=f"SIMNET-{asn}")
        rdap.domain(name, "SIMNET-REGISTRAR", abuse_email="abuse@registrar.test")
        hosts.append(
            {
                "name": name,
                "address": site.address,
                "network": prefix,
                "sha256": hashlib.sha256(body).hexdigest(),
            }
        )
    dns.a(args.probe_name, "127.255.255.254")  # exists; nothing listens there
    await web.start()
    await dns.start()
    await rdap.start()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, done.set)

    rdap_seen = 0

    def stats() -> None:
        nonlocal rdap_seen
        answered = web.take_stats()
        total = rdap.count()
        answered["rdap_requests"], rdap_seen = total - rdap_seen, total
        print(json.dumps(answered), flush=True)

    def read_stdin() -> None:  # a thread: stdin may be a pipe, a file or a terminal
        for line in sys.stdin:
            if line.strip() == "stats":
                loop.call_soon_threadsafe(stats)
        loop.call_soon_threadsafe(done.set)

    ready = {
        "http_port": web.port,
        "dns": list(dns.address),
        "nameserver": f"{dns.address[0]}:{dns.address[1]}",
        "rdap_url": rdap.url,
        "networks": len(networks),
        "probe_name": args.probe_name,
        "latency": args.latency,
        "body_size": args.body_size,
        "pages": args.pages,
        "page_path": PAGE_PATH,
        "hosts": hosts,
    }
    print(json.dumps(ready), flush=True)
    threading.Thread(target=read_stdin, name="simnet-stdin", daemon=True).start()
    try:
        await done.wait()
    finally:
        await web.stop()
        await dns.stop()
        await rdap.stop()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
