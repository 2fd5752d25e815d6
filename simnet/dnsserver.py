"""The simulated DNS server: a :class:`~simnet.zone.Zone` served over UDP and TCP.

It plays the recursive resolver of the system under test, so responses
have RA set and carry whole CNAME chains.  UDP and TCP share one port on
127.0.0.1.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import threading
from collections.abc import Iterable
from typing import cast

import dns.exception
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype

from simnet.addresses import require_loopback
from simnet.listen import StreamServer, bind_shared_port
from simnet.zone import DnsFault, Resolution, Zone, to_name

UDP_DEFAULT_PAYLOAD = 512
TCP_MAX_MESSAGE = 65535


class DnsServer(Zone):
    """A zone answered on ``address`` over UDP and TCP; the port is chosen at start.

    Besides per-name faults (see :class:`~simnet.zone.Zone`), :attr:`outage`
    makes the whole server fail, and every query is counted by name and type.
    """

    def __init__(
        self, origins: Iterable[str] = (".",), *, ttl: int = 1, address: str = "127.0.0.1"
    ) -> None:
        super().__init__(origins, ttl=ttl)
        self.host = require_loopback(address)
        self.port: int | None = None
        self._outage: DnsFault | None = None
        self._counts: collections.Counter[tuple[dns.name.Name, dns.rdatatype.RdataType]] = (
            collections.Counter()
        )
        self._counts_lock = threading.Lock()
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp = StreamServer()

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` to send queries to."""
        if self.port is None:
            raise RuntimeError("DNS server not started")
        return self.host, self.port

    @property
    def outage(self) -> DnsFault | None:
        """A fault for every query (``"servfail"``, ``"timeout"``, ``"refused"``) or ``None``."""
        return self._outage

    @outage.setter
    def outage(self, fault: DnsFault | str | None) -> None:
        self._outage = None if fault is None else DnsFault(fault)

    def query_count(self, name: str | None = None, rdtype: str | None = None) -> int:
        """Queries received so far, optionally only those for ``name`` and/or ``rdtype``."""
        key_name = None if name is None else to_name(name)
        key_type = None if rdtype is None else dns.rdatatype.from_text(rdtype)
        with self._counts_lock:
            return sum(
                count
                for (qname, qtype), count in self._counts.items()
                if key_name in (None, qname) and key_type in (None, qtype)
            )

    def answer(self, wire: bytes, *, udp: bool) -> bytes | None:
        """The response to one query in wire format, or ``None`` to stay silent.

        UDP replies larger than the client accepts (its EDNS payload, else
        512 bytes) come back truncated with TC set, sending it to TCP.
        """
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None  # Not a DNS message: nothing to address a reply to.
        max_size = TCP_MAX_MESSAGE
        if udp:
            max_size = (
                max(query.payload, UDP_DEFAULT_PAYLOAD) if query.edns >= 0 else UDP_DEFAULT_PAYLOAD
            )
        response = dns.message.make_response(query, recursion_available=True)
        if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
            response.set_rcode(
                dns.rcode.NOTIMP if query.opcode() != dns.opcode.QUERY else dns.rcode.FORMERR
            )
            return response.to_wire(max_size=max_size)
        question = query.question[0]
        with self._counts_lock:
            self._counts[question.name, question.rdtype] += 1
        outage = self._outage
        if outage is DnsFault.TIMEOUT:
            return None
        if outage is not None:
            result = Resolution(
                dns.rcode.SERVFAIL if outage is DnsFault.SERVFAIL else dns.rcode.REFUSED
            )
        else:
            result = self.resolve(question.name, question.rdtype)
        if result.dropped:
            return None
        response.set_rcode(result.rcode)
        response.answer = result.answer
        response.authority = result.authority
        return response.to_wire(max_size=max_size, prefer_truncation=True)

    async def start(self) -> None:
        """Bind UDP and TCP on one free port and start answering."""
        if self.port is not None:
            raise RuntimeError("DNS server already started")
        udp_sock, tcp_sock = bind_shared_port(
            [(self.host, socket.SOCK_DGRAM), (self.host, socket.SOCK_STREAM)]
        )
        loop = asyncio.get_running_loop()
        self._udp, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self), sock=udp_sock
        )
        self._tcp.listen(tcp_sock, self._serve_tcp)
        self.port = udp_sock.getsockname()[1]

    async def stop(self) -> None:
        """Stop answering and close every socket, including open TCP connections."""
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        await self._tcp.stop()
        self.port = None

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # RFC 7766: a TCP connection may carry many length-prefixed queries.
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(2), "big")
                reply = self.answer(await reader.readexactly(size), udp=False)
                if reply is not None:
                    writer.write(len(reply).to_bytes(2, "big") + reply)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self._server.answer(data, udp=True)
        if reply is not None and self._transport is not None:
            self._transport.sendto(reply, addr)
