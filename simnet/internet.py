"""The facade tests use: DNS and web hosts started together on a background loop."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType

import dns.nameserver
import dns.resolver

from simnet.dnsserver import DnsServer
from simnet.loop import LoopThread
from simnet.rdap import RdapServer
from simnet.sites import Site
from simnet.web import WebServer


class Internet:
    """A simulated internet on loopback: one DNS server and many web hosts.

    ``with Internet() as net:`` starts both servers on a background event
    loop thread and stops them, closing every socket, on exit.  All methods
    may be called from the test's thread.  Name records live in :attr:`dns`
    (a :class:`~simnet.dnsserver.DnsServer`), hosts in :attr:`web`; the
    methods here keep the two consistent.

    ``origins`` are the DNS zones served (unknown names in them are NXDOMAIN,
    other names REFUSED), ``ttl`` the TTL of every DNS record, ``tls=None``
    adds an HTTPS listener when ``cryptography`` is installed, and sites get
    consecutive addresses from ``first_address`` on.
    """

    def __init__(
        self,
        *,
        origins: Iterable[str] = (".",),
        ttl: int = 1,
        tls: bool | None = None,
        first_address: str = "127.10.0.1",
    ) -> None:
        self.dns = DnsServer(origins, ttl=ttl)
        self.web = WebServer(tls=tls, first_address=first_address)
        self._loop = LoopThread()

    def start(self) -> Internet:
        self._loop.start()
        try:
            self._loop.run(self.dns.start())
            self._loop.run(self.web.start())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if not self._loop.running:
            return
        try:
            self._loop.run(self.web.stop())
            self._loop.run(self.dns.stop())
        finally:
            self._loop.stop()

    def __enter__(self) -> Internet:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def site(self, name: str, address: str | None = None, *, latency: float = 0.0) -> Site:
        """A new web host ``name`` with an A record for its (allocated or given) address.

        ``latency`` delays every response head of the host, in seconds.
        """
        site = self._loop.run(self.web.add_site(name, address, latency=latency))
        self.dns.a(site.name, site.address)
        return site

    def start_rdap(self) -> RdapServer:
        """Start a simulated RDAP server (:mod:`simnet.rdap`) on this internet's loop.

        Its ``url`` is the RDAP_URL to configure; it stops when the internet stops.
        """
        server = RdapServer()
        self._loop.run(server.start())
        return server

    def cname(self, alias: str, target: str) -> None:
        """Make ``alias`` a DNS CNAME of ``target`` and serve it as ``target``'s site."""
        self.dns.cname(alias, target)
        self.web.alias(alias, target)

    def url(self, host: str, path: str = "/", scheme: str = "http") -> str:
        """``scheme://host:PORT/path`` for any site or alias name."""
        return self.web.url(host, path, scheme)

    @property
    def dns_address(self) -> tuple[str, int]:
        """Where the DNS server listens (UDP and TCP), as ``(host, port)``."""
        return self.dns.address

    @property
    def nameservers(self) -> list[str]:
        """The DNS server as ``["127.0.0.1:PORT"]``."""
        host, port = self.dns.address
        return [f"{host}:{port}"]

    def resolver(self, *, lifetime: float = 2.0) -> dns.resolver.Resolver:
        """A dnspython resolver that asks only the simulated DNS server."""
        host, port = self.dns.address
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port)]
        resolver.lifetime = lifetime
        return resolver
