"""The connect-time safety resolver: every connection the crawler makes resolves here.

Twisted asks ``reactor.nameResolver`` for every connection, IP literals and each
redirect hop included. This resolver answers through our one DNS layer (dnspython on
DNS_NAMESERVERS) and drops every address the safety policy refuses, so a name that
resolves to a private address, a literal in any spelling, a redirect there, or a name
that rebinds between two look-ups all end with nothing to connect to.

Why a name gave no address is kept as a ``Verdict`` per host name, for the spider to
tell `nxdomain`, `blocked` and `error` apart: Twisted reports all three alike.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass

import ada_url
from scrapy.resolver import HostResolution
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHostnameResolver
from zope.interface import implementer

from crawler.policy import refusal
from hosting.dns import Failure, make_resolver, resolve_addresses
from settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """What resolving a host name last gave: the usable addresses, or why none."""

    addresses: tuple[str, ...] = ()
    failure: Failure | None = None
    blocked: str | None = None  # the safety policy's reason, when it refused them all


@implementer(IHostnameResolver)
class SafeResolver:
    """Resolves through dnspython and refuses what the safety policy refuses.

    Reads DNS_NAMESERVERS, DNS_TIMEOUT and ALLOWED_PRIVATE_NETWORKS.
    """

    def __init__(self, reactor, settings: Settings) -> None:
        self.reactor = reactor
        self.allowed = settings.allowed_private_networks
        self._dns = make_resolver(settings)
        self.verdicts: dict[str, Verdict] = {}

    @classmethod
    def from_crawler(cls, crawler, reactor) -> SafeResolver:
        """For Scrapy's TWISTED_DNS_RESOLVER, when `scrapy crawl` starts the process."""
        import settings as settings_module

        return cls(reactor, settings_module.load())

    def install_on_reactor(self) -> None:
        self.reactor.installNameResolver(self)

    def resolveHostName(  # noqa: N802 - Twisted's interface
        self,
        resolutionReceiver,
        hostName,
        portNumber=0,
        addressTypes=None,
        transportSemantics="TCP",
    ):
        resolution = HostResolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        wanted = tuple(addressTypes or (IPv4Address, IPv6Address))

        def deliver(verdict: Verdict) -> None:
            self.verdicts[hostName] = verdict
            for address in verdict.addresses:
                kind = IPv6Address if ":" in address else IPv4Address
                if kind in wanted:
                    resolutionReceiver.addressResolved(kind("TCP", address, portNumber))
            resolutionReceiver.resolutionComplete()

        def failed(failure) -> None:
            logger.error("resolving %s failed: %s", hostName, failure.getErrorMessage())
            self.verdicts[hostName] = Verdict(failure=Failure.SERVFAIL)
            resolutionReceiver.resolutionComplete()

        future = asyncio.ensure_future(self.verdict(hostName))
        Deferred.fromFuture(future).addCallbacks(deliver, failed)
        return resolution

    async def verdict(self, host: str) -> Verdict:
        """Resolve ``host`` and judge every address it gives."""
        literal = _literal_address(host)
        if literal is not None:
            candidates: tuple[str, ...] = (literal,)
        else:
            answer = await resolve_addresses(self._dns, host)
            if answer.failure is not None:
                return Verdict(failure=answer.failure)
            candidates = answer.addresses
        allowed, reasons = [], []
        for address in candidates:
            reason = refusal(address, self.allowed)
            (reasons if reason else allowed).append(reason or address)
        if not allowed:
            return Verdict(blocked="; ".join(reasons))
        return Verdict(addresses=tuple(allowed))


def _literal_address(host: str) -> str | None:
    """The address ``host`` spells, in any spelling a browser accepts, or None for a name.

    Redirects can carry hosts that intake never saw, such as ``0x7f.1`` or
    ``2130706433``; the URL Standard's host parser reads those as IPv4 addresses.
    """
    bare = host.strip("[]")
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    try:
        parsed = ada_url.URL(f"http://{host}/").hostname.strip("[]")
    except ValueError:
        return None
    try:
        return str(ipaddress.ip_address(parsed))
    except ValueError:
        return None
