"""Process-wide socket patches that refuse non-loopback network access.

``install(sink)`` patches the socket layer that every Python client ends in
(asyncio, Twisted, urllib, http.client, requests, dnspython, ...): the
``socket.socket`` methods that pick a destination (``connect``, ``connect_ex``,
``sendto``, ``sendmsg`` with an address, and ``bind``, which resolves names),
and the resolver functions. A refused call raises ``NetworkGuardViolation``
before the C call runs, so nothing leaves the machine, and reports the
violation to the innermost installed sink first, because libraries swallow
exceptions.

What this cannot see:

- C extensions that open their own sockets: psycopg connects inside libpq.
  That is acceptable because the database address comes from the test suite.
- ``_socket.socket`` used directly instead of ``socket.socket``, and references
  to the C resolver functions bound before installation. The plugin installs at
  ``pytest_configure`` and subprocesses at interpreter start-up, before such
  imports; ``getaddrinfo`` is patched in ``_socket`` because ``socket``'s own
  wrapper looks it up there on every call, which also covers copies bound
  early, such as the default argument of Twisted's ``GAIResolver``.
"""

from __future__ import annotations

import _socket
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any, NoReturn, Protocol

from . import policy
from .violations import NetworkGuardViolation, Violation

__all__ = ["NetworkGuardViolation", "ViolationSink", "install", "is_installed", "uninstall"]


class ViolationSink(Protocol):
    """Where refusals are reported: a pytest session, or a subprocess log."""

    def context(self) -> str:
        """Name who is running now, e.g. the current test's node id."""

    def record(self, violation: Violation) -> None:
        """Keep ``violation``; may be called from any thread."""


_lock = threading.RLock()
# Nested pytest sessions (pytester's in-process runs) install their own sink;
# refusals go to the innermost one only, so an inner test's deliberate
# violation does not fail the outer test that runs it.
_sinks: list[ViolationSink] = []
_real: dict[str, Callable[..., Any]] = {}
_undo: list[Callable[[], None]] = []
_STACK_DEPTH = 8


def install(sink: ViolationSink) -> None:
    """Start refusing non-loopback access, reporting to ``sink``."""
    with _lock:
        if not _sinks:
            _patch_socket_layer()
        _sinks.append(sink)


def uninstall(sink: ViolationSink) -> None:
    """Stop reporting to ``sink``; unpatch when no sink is left."""
    with _lock:
        _sinks.remove(sink)
        if not _sinks:
            while _undo:
                _undo.pop()()
            _real.clear()


def is_installed() -> bool:
    """Whether the socket layer is patched in this process."""
    return bool(_sinks)


def _refuse(operation: str, host: str, port: int | str | None, reason: str) -> NoReturn:
    with _lock:
        sink = _sinks[-1] if _sinks else None
    violation = Violation(
        operation=operation,
        host=host,
        port=port,
        reason=reason,
        context=sink.context() if sink else f"process {sys.argv!r}",
        stack=_caller_stack(),
    )
    if sink is not None:
        sink.record(violation)
    raise NetworkGuardViolation(violation)


def _caller_stack() -> tuple[str, ...]:
    frames = []
    frame = sys._getframe(1)
    while frame is not None and len(frames) < _STACK_DEPTH:
        code = frame.f_code
        if code.co_filename != __file__:
            frames.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_name}")
        frame = frame.f_back
    return tuple(frames)


# --- destinations ----------------------------------------------------------


def _vetted_address(
    operation: str,
    family: int,
    address: Any,
    refusal: Callable[[str, object], str | None],
) -> Any:
    """Return ``address`` as the real call should get it, or refuse it."""
    if family in policy.LOCAL_FAMILIES:
        return address
    if family not in policy.INET_FAMILIES:
        _refuse(operation, repr(address), None, f"is on socket family {family!r}, not IP")
    if not isinstance(address, tuple) or len(address) < 2:
        return address  # malformed: let the real call raise its own TypeError
    host, port = policy.host_text(address[0]), address[1]
    if policy.is_localhost_name(host):
        return (policy.LOOPBACK_LITERALS[family], *address[1:])
    if reason := refusal(host, port):
        _refuse(operation, host, port, reason)
    return address


def _connect(self: socket.socket, address: Any) -> None:
    vetted = _vetted_address("connect", self.family, address, policy.destination_refusal)
    return _real["connect"](self, vetted)


def _connect_ex(self: socket.socket, address: Any) -> int:
    vetted = _vetted_address("connect_ex", self.family, address, policy.destination_refusal)
    return _real["connect_ex"](self, vetted)


def _sendto(self: socket.socket, data: Any, *flags_and_address: Any) -> int:
    # sendto(data, address) or sendto(data, flags, address)
    if flags_and_address:
        *flags, address = flags_and_address
        address = _vetted_address("sendto", self.family, address, policy.destination_refusal)
        flags_and_address = (*flags, address)
    return _real["sendto"](self, data, *flags_and_address)


def _sendmsg(self: socket.socket, buffers: Any, *rest: Any) -> int:
    # sendmsg(buffers[, ancdata[, flags[, address]]])
    if len(rest) >= 3 and rest[2] is not None:
        address = _vetted_address("sendmsg", self.family, rest[2], policy.destination_refusal)
        rest = (*rest[:2], address, *rest[3:])
    return _real["sendmsg"](self, buffers, *rest)


def _bind(self: socket.socket, address: Any) -> None:
    # Binding sends nothing; only an IP socket's bind can trigger a name lookup.
    if self.family in policy.INET_FAMILIES:
        address = _vetted_address("bind", self.family, address, policy.bind_refusal)
    return _real["bind"](self, address)


# --- name resolution -------------------------------------------------------


def _getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    name = policy.host_text(host)
    if policy.is_localhost_name(name):
        return _localhost_addrinfo(port, family, type, proto, flags)
    if reason := policy.lookup_refusal(name):
        _refuse("getaddrinfo", name, port, reason)
    return _real["getaddrinfo"](host, port, family, type, proto, flags)


def _localhost_addrinfo(port, family, type, proto, flags):
    """Resolve a localhost name to the loopback literals, IPv4 first.

    AI_NUMERICHOST keeps the C library from consulting nsswitch at all; IPv4
    comes first because that is what test servers usually bind.
    """
    results: list[tuple] = []
    error: OSError | None = None
    for literal_family, literal in policy.LOOPBACK_LITERALS.items():
        if family not in (socket.AF_UNSPEC, literal_family):
            continue
        try:
            results += _real["getaddrinfo"](
                literal, port, family, type, proto, flags | socket.AI_NUMERICHOST
            )
        except socket.gaierror as exc:  # e.g. IPv6 unavailable with AI_ADDRCONFIG
            error = exc
    if results:
        return results
    raise error or socket.gaierror(socket.EAI_FAMILY, "ai_family not supported")


def _gethostbyname(hostname):
    name = policy.host_text(hostname)
    if policy.is_localhost_name(name):
        return policy.LOOPBACK_LITERALS[socket.AF_INET]
    if reason := policy.lookup_refusal(name):
        _refuse("gethostbyname", name, None, reason)
    return _real["gethostbyname"](hostname)


def _gethostbyname_ex(hostname):
    name = policy.host_text(hostname)
    if policy.is_localhost_name(name):
        return ("localhost", [], [policy.LOOPBACK_LITERALS[socket.AF_INET]])
    if reason := policy.lookup_refusal(name):
        _refuse("gethostbyname_ex", name, None, reason)
    return _real["gethostbyname_ex"](hostname)


def _gethostbyaddr(ip_address):
    """Answer loopback reverse lookups here: a PTR query for 127.0.0.2 would reach DNS."""
    name = policy.host_text(ip_address)
    if policy.is_localhost_name(name):
        return ("localhost", [], [policy.LOOPBACK_LITERALS[socket.AF_INET]])
    ip = policy.parse_ip(name or "")
    if ip is not None and policy.is_loopback_ip(ip):
        return ("localhost", [], [name])
    # lookup_refusal allows "", which here means a real reverse lookup of 0.0.0.0.
    reason = policy.lookup_refusal(name) or "is not a loopback address"
    _refuse("gethostbyaddr", name or "''", None, reason)


def _getnameinfo(sockaddr, flags):
    if flags & socket.NI_NUMERICHOST:
        return _real["getnameinfo"](sockaddr, flags)  # formats the address: no lookup
    host = policy.host_text(sockaddr[0]) if isinstance(sockaddr, tuple) and sockaddr else ""
    ip = policy.parse_ip(host or "")
    if ip is not None and policy.is_loopback_ip(ip):
        _, service = _real["getnameinfo"](sockaddr, flags | socket.NI_NUMERICHOST)
        return ("localhost", service)
    reason = policy.lookup_refusal(host) or "is not a loopback address"
    _refuse("getnameinfo", host or "''", None, reason)


# --- patching ----------------------------------------------------------------

_SOCKET_METHODS = {
    "connect": _connect,
    "connect_ex": _connect_ex,
    "sendto": _sendto,
    "sendmsg": _sendmsg,
    "bind": _bind,
}
_RESOLVERS = {
    "getaddrinfo": _getaddrinfo,
    "gethostbyname": _gethostbyname,
    "gethostbyname_ex": _gethostbyname_ex,
    "gethostbyaddr": _gethostbyaddr,
    "getnameinfo": _getnameinfo,
}


def _patch_socket_layer() -> None:
    for name, replacement in _SOCKET_METHODS.items():
        if hasattr(socket.socket, name):
            _real[name] = getattr(socket.socket, name)
            _replace(socket.socket, name, replacement)
    for name, replacement in _RESOLVERS.items():
        _real[name] = getattr(_socket, name)
        # socket re-exports most resolvers from _socket as the same object; it
        # wraps getaddrinfo in Python, and that wrapper calls _socket's at run time.
        if getattr(socket, name) is _real[name]:
            _replace(socket, name, replacement)
        _replace(_socket, name, replacement)


def _replace(owner: object, name: str, replacement: Callable[..., Any]) -> None:
    own = vars(owner)
    if name in own:
        original = own[name]
        _undo.append(lambda: setattr(owner, name, original))
    else:  # inherited from _socket.socket: delete ours to expose it again
        _undo.append(lambda: delattr(owner, name))
    setattr(owner, name, replacement)
