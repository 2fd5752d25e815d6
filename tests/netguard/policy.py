"""What a test may reach: this machine's loopback, and nothing else.

Pure decisions with no side effects, so the whole rule can be read in one place.
Each ``*_refusal`` function returns why an operation is refused, or ``None`` if
it is allowed; the reason completes the sentence "<host> ...".
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from pathlib import Path

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Peers of these families are on this machine by construction.
LOCAL_FAMILIES = frozenset(
    family
    for family in (getattr(socket, "AF_UNIX", None), getattr(socket, "AF_NETLINK", None))
    if family is not None
)
INET_FAMILIES = frozenset({socket.AF_INET, socket.AF_INET6})

# What localhost names resolve to. The guard answers these itself (RFC 6761,
# section 6.3) instead of asking the C library, because glibc consults DNS for
# a name that /etc/hosts lacks (any *.localhost, and often "localhost" over IPv6).
LOOPBACK_LITERALS = {socket.AF_INET: "127.0.0.1", socket.AF_INET6: "::1"}

_RESOLV_CONF = Path("/etc/resolv.conf")
_DNS_PORT = 53
_NOT_AN_ADDRESS = "is a name the system resolver would look up on the network"


def host_text(host: str | bytes | None) -> str | None:
    """Return a host argument as text, the way the socket module accepts it."""
    if host is None or isinstance(host, str):
        return host
    if isinstance(host, (bytes, bytearray)):
        return bytes(host).decode("ascii", "replace")
    raise TypeError(f"host must be str, bytes or None, not {type(host).__name__}")


def parse_ip(host: str) -> IPAddress | None:
    """Return ``host`` as an IP address if it is a literal, else ``None``."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_loopback_ip(ip: IPAddress) -> bool:
    """127.0.0.0/8 and ::1, including IPv4-mapped IPv6 (``::ffff:127.0.0.1``)."""
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def is_localhost_name(host: str | None) -> bool:
    """``localhost`` and any name under it, e.g. ``api.localhost`` (RFC 6761)."""
    if not host:
        return False
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


@functools.cache
def system_resolver_stubs() -> frozenset[IPAddress]:
    """Loopback nameservers from resolv.conf, such as systemd-resolved's 127.0.0.53.

    They listen on loopback but forward every query to the internet, so a test
    reaching one (ipwhois and a default dnspython Resolver do) would leak.
    """
    try:
        lines = _RESOLV_CONF.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return frozenset()
    stubs = set()
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            ip = parse_ip(fields[1])
            if ip is not None and is_loopback_ip(ip):
                stubs.add(ip)
    return frozenset(stubs)


def destination_refusal(host: str, port: object) -> str | None:
    """Why a socket may not connect or send to ``host``:``port``, or ``None``."""
    if host in ("", "<broadcast>"):
        return "is the wildcard or broadcast address, not loopback"
    ip = parse_ip(host)
    if ip is None:
        return _NOT_AN_ADDRESS
    if not is_loopback_ip(ip):
        return "is not a loopback address"
    if port == _DNS_PORT and ip in system_resolver_stubs():
        return "is the system's DNS stub resolver, which forwards queries off this machine"
    return None


def lookup_refusal(host: str | None) -> str | None:
    """Why a name lookup of ``host`` is refused, or ``None``.

    Empty hosts are passive lookups for binding and consult no resolver.
    Localhost names are allowed because the guard answers them itself.
    """
    if not host or is_localhost_name(host):
        return None
    ip = parse_ip(host)
    if ip is None:
        return _NOT_AN_ADDRESS
    if not is_loopback_ip(ip):
        return "is not a loopback address"
    return None


def bind_refusal(host: str, port: object = None) -> str | None:
    """Why a socket may not bind to ``host``, or ``None``; any port will do.

    Binding sends nothing, so any address will do (servers listen on loopback
    or the wildcard); only a name is refused, as binding to it needs a lookup.
    """
    if host in ("", "<broadcast>") or is_localhost_name(host):
        return None
    return None if parse_ip(host) is not None else _NOT_AN_ADDRESS
