"""Loopback addresses for simulated hosts.

Every socket simnet opens goes through :func:`require_loopback`, so no
configuration mistake can make it listen on, or send to, a real network.
"""

from __future__ import annotations

import ipaddress
import threading

LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


def require_loopback(address: str) -> str:
    """Return ``address`` unchanged if it is an IPv4 loopback address, else raise."""
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        raise ValueError(f"simnet only uses IPv4 loopback addresses, not {address!r}") from None
    if ip not in LOOPBACK:
        raise ValueError(f"simnet only uses 127.0.0.0/8, refusing {address}")
    return address


class AddressPool:
    """Hands out distinct loopback addresses: 127.10.0.1, 127.10.0.2, …

    Addresses ending in .0 or .255 are skipped because some clients treat
    them as network or broadcast addresses even inside 127/8.
    """

    def __init__(self, first: str = "127.10.0.1") -> None:
        self._next = int(ipaddress.IPv4Address(require_loopback(first)))
        self._taken: set[str] = set()
        self._lock = threading.Lock()

    def reserve(self, address: str) -> str:
        """Mark a caller-chosen address as used so it is never allocated."""
        with self._lock:
            self._taken.add(require_loopback(address))
        return address

    def allocate(self) -> str:
        """Return a fresh loopback address."""
        with self._lock:
            while True:
                ip = ipaddress.IPv4Address(self._next)
                if ip not in LOOPBACK:
                    raise RuntimeError("loopback address pool exhausted")
                self._next += 1
                address = str(ip)
                if ip.packed[-1] in (0, 255) or address in self._taken:
                    continue
                self._taken.add(address)
                return address
