"""Team Cymru-style IP-to-ASN records in the simulated DNS."""

from __future__ import annotations

import dns.reversename

from simnet.dnsserver import DnsServer


def origin_name(address: str) -> str:
    """Team Cymru's name for ``address``: its reverse-DNS labels under their zone."""
    reverse = dns.reversename.from_address(address).to_text(omit_final_dot=True)
    if reverse.endswith(".in-addr.arpa"):
        return reverse.removesuffix(".in-addr.arpa") + ".origin.asn.cymru.com"
    return reverse.removesuffix(".ip6.arpa") + ".origin6.asn.cymru.com"


def announce(
    dns: DnsServer,
    address: str,
    asn: int,
    prefix: str,
    *,
    country: str = "NL",
    registry: str = "ripencc",
    description: str | None = None,
) -> None:
    """Publish that ``asn`` announces ``prefix`` holding ``address``, as Team Cymru would."""
    dns.txt(origin_name(address), f"{asn} | {prefix} | {country} | {registry} | 2010-01-01")
    dns.txt(
        f"AS{asn}.asn.cymru.com",
        f"{asn} | {country} | {registry} | 2001-01-01 | {description or f'AS{asn}-NET'}, {country}",
    )
