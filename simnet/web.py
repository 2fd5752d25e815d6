"""Simulated web hosts: many virtual hosts on loopback addresses sharing one port.

Each site gets its own 127.x address, and every address listens on the same
HTTP port number (and, with TLS, the same HTTPS port), so a URL only needs
the host name to be resolved by the simulated DNS: ``http://shop.test:PORT/``.
Requests are routed by their Host header, falling back to the first site
on the address the connection arrived at, as a default virtual host.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass

from simnet.addresses import AddressPool
from simnet.http11 import BadRequest, Request, encode_response, read_request
from simnet.listen import StreamServer, bind, bind_shared_port
from simnet.requestlog import RequestLog, RequestRecord
from simnet.sites import Fault, Page, Site, status_page
from simnet.tls import self_signed_context, tls_available

HOME_ADDRESS = "127.0.0.1"
MAX_ALIAS_HOPS = 8


def normalize(name: str) -> str:
    """A host name as routed: lower case, without trailing dot."""
    return name.strip().lower().rstrip(".")


class WebServer:
    """Virtual web hosts on loopback, answering HTTP/1.1 (and HTTPS) by Host header.

    :meth:`start`, :meth:`stop` and :meth:`add_site` are coroutines because
    they must run on the server's event loop; sites, aliases and the request
    :attr:`log` may be used from any thread.
    ``tls=None`` enables the HTTPS listener when ``cryptography`` is installed.
    """

    def __init__(self, *, tls: bool | None = None, first_address: str = "127.10.0.1") -> None:
        self.tls = tls_available() if tls is None else tls
        self.port: int | None = None
        self.tls_port: int | None = None
        self._pool = AddressPool(first_address)
        self._lock = threading.Lock()
        self._sites: dict[str, Site] = {}
        self._aliases: dict[str, str] = {}
        self._default_sites: dict[str, Site] = {}
        self.log = RequestLog()
        self._listening: set[str] = set()
        self._streams = StreamServer()
        self._connection_ids = itertools.count(1)
        self._in_flight: collections.Counter[str | None] = collections.Counter()
        self._in_flight_total = 0
        self.peak_in_flight = 0  # most requests being answered at once, all sites together
        self.peak_in_flight_by_site: dict[str | None, int] = {}  # the same, site by site
        self._ssl: ssl.SSLContext | None = None

    async def start(self) -> None:
        """Listen on 127.0.0.1 and every site's address, on freshly chosen ports."""
        if self.port is not None:
            raise RuntimeError("web server already started")
        self._ssl = self_signed_context() if self.tls else None
        addresses = [
            HOME_ADDRESS,
            *sorted({s.address for s in self._sites.values()} - {HOME_ADDRESS}),
        ]
        endpoints = [(address, socket.SOCK_STREAM) for address in addresses]
        bound: dict[str, list[socket.socket]] = {}
        try:
            for scheme in ("http", "https") if self._ssl else ("http",):
                bound[scheme] = bind_shared_port(endpoints)
        except OSError:
            for sock in itertools.chain.from_iterable(bound.values()):
                sock.close()
            raise
        self.port = bound["http"][0].getsockname()[1]
        self.tls_port = bound["https"][0].getsockname()[1] if self._ssl else None
        for scheme, sockets in bound.items():
            for sock in sockets:
                self._serve(sock, scheme)

    async def stop(self) -> None:
        """Close all listeners and connections, hanging ones included."""
        await self._streams.stop()
        self._listening.clear()
        self.port = self.tls_port = None
        self._ssl = None

    async def add_site(
        self, name: str, address: str | None = None, *, latency: float = 0.0
    ) -> Site:
        """Create a site, on a fresh loopback address unless ``address`` is given.

        Several sites may share an address; the first is its default host.
        """
        name = normalize(name)
        with self._lock:
            if name in self._sites or name in self._aliases:
                raise ValueError(f"{name} already exists")
        address = self._pool.reserve(address) if address else self._pool.allocate()
        if self.port is not None and address not in self._listening:
            self._listen_on(address)
        site = Site(name, address, self, latency=latency)
        with self._lock:
            self._sites[name] = site
            self._default_sites.setdefault(address, site)
        return site

    def site(self, name: str) -> Site:
        """The site called ``name``."""
        with self._lock:
            return self._sites[normalize(name)]

    def alias(self, alias: str, target: str) -> None:
        """Serve ``alias`` as whatever ``target`` (a site or another alias) serves."""
        with self._lock:
            self._aliases[normalize(alias)] = normalize(target)

    def url(self, host: str, path: str = "/", scheme: str = "http") -> str:
        """The URL of ``path`` on ``host`` (a site or alias name)."""
        port = {"http": self.port, "https": self.tls_port}.get(scheme)
        if port is None:
            raise RuntimeError(f"no {scheme} listener: is the server started (with TLS)?")
        return f"{scheme}://{normalize(host)}:{port}{path}"

    def route(self, host: str, address: str) -> Site | None:
        """The site answering Host ``host`` on local ``address``, following aliases."""
        with self._lock:
            name = host
            for _ in range(MAX_ALIAS_HOPS):
                if name in self._sites:
                    return self._sites[name]
                if name not in self._aliases:
                    break
                name = self._aliases[name]
            return self._default_sites.get(address)

    def _listen_on(self, address: str) -> None:
        sockets: list[tuple[socket.socket, str]] = []
        try:
            sockets.append((bind(address, socket.SOCK_STREAM, self.port), "http"))
            if self._ssl:
                sockets.append((bind(address, socket.SOCK_STREAM, self.tls_port), "https"))
        except OSError:
            for sock, _ in sockets:
                sock.close()
            raise
        for sock, scheme in sockets:
            self._serve(sock, scheme)

    def _serve(self, sock: socket.socket, scheme: str) -> None:
        handler = functools.partial(self._serve_connection, scheme=scheme)
        self._streams.listen(sock, handler, self._ssl if scheme == "https" else None)
        self._listening.add(sock.getsockname()[0])

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, scheme: str
    ) -> None:
        connection = _Connection(
            next(self._connection_ids),
            scheme,
            writer.get_extra_info("sockname")[0],
            writer.get_extra_info("peername"),
            writer,
        )
        try:
            while (request := await read_request(reader)) is not None:
                if not await self._answer(request, connection):
                    break
        except BadRequest as exc:
            writer.write(encode_response(400, [], str(exc).encode(), keep_alive=False))
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        writer.close()

    def reset_peaks(self) -> None:
        """Start counting peak_in_flight and peak_in_flight_by_site afresh."""
        self.peak_in_flight = self._in_flight_total
        self.peak_in_flight_by_site = {k: v for k, v in self._in_flight.items() if v}

    async def _answer(self, request: Request, connection: _Connection) -> bool:
        """Answer one request; return whether the connection stays open."""
        site = self.route(request.host, connection.address)
        name = site.name if site else None
        self._in_flight[name] += 1  # on the server's loop only: no lock needed
        self._in_flight_total += 1
        self.peak_in_flight = max(self.peak_in_flight, self._in_flight_total)
        peak = self.peak_in_flight_by_site.get(name, 0)
        self.peak_in_flight_by_site[name] = max(peak, self._in_flight[name])
        try:
            return await self._answer_on(request, connection, site)
        finally:
            self._in_flight[name] -= 1
            self._in_flight_total -= 1

    async def _answer_on(self, request: Request, connection: _Connection, site) -> bool:
        host = request.host
        record = RequestRecord(
            time.time(),
            request.method,
            request.target,
            host,
            connection.client,
            connection.address,
            connection.scheme,
            connection.serial,
            site.name if site else None,
            request.headers.get("user-agent", ""),
        )
        self.log.append(record)
        if site is None:
            outcome: Page | Fault = status_page(404, text=f"no site called {host!r} here")
        else:
            outcome = site.respond(request.target, request.path)
            if site.latency:
                await asyncio.sleep(site.latency)
        writer = connection.writer
        if outcome is Fault.RESET:
            _reset(writer)
            return False
        if outcome is Fault.HANG:
            await asyncio.get_running_loop().create_future()  # Cancelled by stop().
        assert isinstance(outcome, Page)
        if outcome.delay:
            await asyncio.sleep(outcome.delay)
        keep_alive = request.keep_alive and outcome.framing != "close"
        writer.write(
            encode_response(
                outcome.status,
                outcome.wire_headers,
                outcome.wire_body,
                framing=outcome.framing,
                keep_alive=keep_alive,
                head_only=request.method == "HEAD",
            )
        )
        await writer.drain()
        return keep_alive


@dataclass(frozen=True, slots=True)
class _Connection:
    """What all requests on one accepted connection share."""

    serial: int
    scheme: str
    address: str
    client: tuple[str, int]
    writer: asyncio.StreamWriter


def _reset(writer: asyncio.StreamWriter) -> None:
    """Abort the connection so that the kernel sends RST instead of FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
