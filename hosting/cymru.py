"""ASN, BGP prefix and registry country from Team Cymru's IP-to-ASN service, over DNS.

``<reversed-ip>.origin.asn.cymru.com`` (``origin6`` and nibbles for IPv6) answers
``"ASN | prefix | CC | registry | allocated"``; ``AS<n>.asn.cymru.com`` answers
``"ASN | CC | registry | allocated | description"``. Asked through our own resolver, so
that tests and labs answer from their own DNS.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.resolver

from hosting.dns import Failure

ORIGIN_ZONE = "origin.asn.cymru.com"
ORIGIN6_ZONE = "origin6.asn.cymru.com"
ASN_ZONE = "asn.cymru.com"


@dataclass(frozen=True)
class Origin:
    """Who announces an address: the origin ASN, its BGP prefix and registry country."""

    asn: int
    prefix: str
    country: str | None
    registry: str | None
    description: str | None = None


def origin_name(address: str) -> str:
    """The DNS name to ask about ``address``."""
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        return ".".join(reversed(str(ip).split("."))) + "." + ORIGIN_ZONE
    nibbles = ip.exploded.replace(":", "")
    return ".".join(reversed(nibbles)) + "." + ORIGIN6_ZONE


async def lookup_origin(resolver: dns.asyncresolver.Resolver, address: str) -> Origin | Failure:
    """The origin of ``address``, without its AS description (`describe_asn()`, asked
    once per AS however many addresses it announces); or why there is none."""
    fields = await _txt_fields(resolver, origin_name(address))
    if isinstance(fields, Failure):
        return fields
    if len(fields) < 2 or not fields[0].split():
        return Failure.NO_ANSWER
    # Several origin ASNs are possible (anycast, MOAS); the first is as good as any.
    asn = int(fields[0].split()[0])
    prefix = str(ipaddress.ip_network(fields[1], strict=False))
    country = (fields[2].upper() if len(fields) > 2 and fields[2] else None) or None
    registry = fields[3].lower() if len(fields) > 3 and fields[3] else None
    return Origin(asn, prefix, country, registry)


async def describe_asn(resolver: dns.asyncresolver.Resolver, asn: int) -> str | None:
    """The AS's description (its name and country, as the registry has it), if any."""
    described = await _txt_fields(resolver, f"AS{asn}.{ASN_ZONE}")
    if isinstance(described, Failure) or len(described) < 5:
        return None
    return described[4] or None


async def _txt_fields(resolver: dns.asyncresolver.Resolver, name: str) -> list[str] | Failure:
    try:
        answer = await resolver.resolve(name, "TXT", search=False)
    except dns.resolver.NXDOMAIN:
        return Failure.NXDOMAIN
    except dns.resolver.NoAnswer:
        return Failure.NO_ANSWER
    except dns.resolver.NoNameservers:
        return Failure.SERVFAIL
    except dns.exception.Timeout:
        return Failure.TIMEOUT
    text = b"".join(answer[0].strings).decode("utf-8", "replace")
    return [field.strip() for field in text.split("|")]
