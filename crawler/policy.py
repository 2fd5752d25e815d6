"""The safety policy: which addresses the crawler may connect to.

Never an address that is private, loopback, link-local (169.254.169.254, where clouds
keep instance credentials, included), multicast, reserved or unspecified, unless it lies
in ALLOWED_PRIVATE_NETWORKS. IPv4-mapped and 6to4-style IPv6 spellings are judged by the
IPv4 address they carry.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_KINDS = (
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_unspecified", "unspecified"),
    ("is_reserved", "reserved"),
    ("is_private", "private"),
)


def refusal(address: str | Address, allowed: Sequence[Network] = ()) -> str | None:
    """Why connecting to ``address`` is refused, or None when it is allowed."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if any(ip in network for network in allowed):
        return None
    carried = _carried_ipv4(ip)
    if carried is not None:
        why = refusal(carried, allowed)
        return f"{ip} carries {why}" if why else None
    for attribute, kind in _KINDS:
        if getattr(ip, attribute):
            return f"{ip} is {kind}"
    if not ip.is_global:
        return f"{ip} is not a global address"
    return None


def _carried_ipv4(ip: Address) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:  # 64:ff9b::/96 reaches the IPv4 address in its last 32 bits
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
