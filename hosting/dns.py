"""The one DNS layer: every look-up, the crawler's included, goes through here.

A dnspython resolver asking ``DNS_NAMESERVERS`` (or the system's nameservers when that is
empty) with ``DNS_TIMEOUT``. Answers are told apart the way the product needs them:
a name that does not exist, a name with no address, and a resolver that failed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.resolver

from settings import Settings


class Failure(enum.Enum):
    """Why a name gave no address."""

    NXDOMAIN = "nxdomain"  # the name does not exist
    NO_ANSWER = "no_answer"  # the name exists, with no record of that type
    SERVFAIL = "servfail"  # every nameserver failed or refused
    TIMEOUT = "timeout"  # no answer within DNS_TIMEOUT


@dataclass(frozen=True)
class Addresses:
    """The outcome of resolving a name: addresses and the CNAME chain, or a failure."""

    name: str
    addresses: tuple[str, ...] = ()
    cnames: tuple[str, ...] = ()
    failure: Failure | None = None


def nameservers(settings: Settings) -> list[tuple[str, int]]:
    if settings.dns_nameservers:
        return list(settings.dns_nameservers)
    system = dns.resolver.Resolver(configure=True)
    return [(address, 53) for address in system.nameservers]


def make_resolver(settings: Settings) -> dns.asyncresolver.Resolver:
    """An asyncio resolver on our nameservers, with our time limits and no search list."""
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [
        dns.nameserver.Do53Nameserver(address, port) for address, port in nameservers(settings)
    ]
    resolver.timeout = resolver.lifetime = settings.dns_timeout.total_seconds()
    resolver.cache = None  # answers change; each look-up asks again
    return resolver


async def resolve_addresses(resolver: dns.asyncresolver.Resolver, name: str) -> Addresses:
    """A and AAAA records of ``name``, following CNAMEs."""
    addresses: list[str] = []
    cnames: tuple[str, ...] = ()
    failures: list[Failure] = []
    for rdtype in ("A", "AAAA"):
        try:
            answer = await resolver.resolve(name, rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            return Addresses(name, failure=Failure.NXDOMAIN)
        except dns.resolver.NoAnswer:
            failures.append(Failure.NO_ANSWER)
            continue
        except dns.resolver.NoNameservers:
            failures.append(Failure.SERVFAIL)
            continue
        except dns.exception.Timeout:
            failures.append(Failure.TIMEOUT)
            continue
        addresses.extend(record.address for record in answer)
        cnames = cnames or tuple(
            str(rrset.name).rstrip(".") for rrset in answer.chaining_result.cnames
        )
    if addresses:
        return Addresses(name, tuple(addresses), cnames)
    # Prefer the failure that says most: a resolver failure over "no such record".
    for failure in (Failure.TIMEOUT, Failure.SERVFAIL, Failure.NO_ANSWER):
        if failure in failures:
            return Addresses(name, failure=failure)
    return Addresses(name, failure=Failure.NO_ANSWER)


async def resolver_is_failing(settings: Settings, probe_name: str) -> str | None:
    """Ask each nameserver about ``probe_name``; say why if none gives a usable answer.

    Only a timeout or SERVFAIL counts as failing: NXDOMAIN, REFUSED or an empty answer
    show a nameserver that is alive. Returns None when one answered, else the reason.
    """
    query = dns.message.make_query(dns.name.from_text(probe_name), "NS")
    timeout = settings.dns_timeout.total_seconds()
    reasons = []
    for address, port in nameservers(settings):
        try:
            response = await dns.asyncquery.udp(query, address, port=port, timeout=timeout)
        except dns.exception.Timeout:
            reasons.append(f"{address}:{port} timed out")
            continue
        except OSError as error:
            reasons.append(f"{address}:{port} {error.strerror or error}")
            continue
        if response.rcode() == dns.rcode.SERVFAIL:
            reasons.append(f"{address}:{port} answered SERVFAIL")
            continue
        return None
    return "; ".join(reasons) or "no nameservers"
