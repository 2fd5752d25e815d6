"""Socket plumbing shared by the simulated servers."""

from __future__ import annotations

import asyncio
import errno
import functools
import socket
from collections.abc import Callable, Coroutine, Sequence
from ssl import SSLContext
from typing import Any

from simnet.addresses import require_loopback

Endpoint = tuple[str, socket.SocketKind]
"""An address and a socket type (``SOCK_STREAM`` or ``SOCK_DGRAM``)."""

ConnectionHandler = Callable[
    [asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]
]

BIND_ATTEMPTS = 50
# Benchmarks open a few hundred connections at once.
LISTEN_BACKLOG = 1024


def bind(address: str, kind: socket.SocketKind, port: int) -> socket.socket:
    """A non-blocking IPv4 socket bound to a loopback ``address``."""
    sock = socket.socket(socket.AF_INET, kind)
    try:
        if kind == socket.SOCK_STREAM:
            # Lets a restarted server reuse a port whose old connections
            # linger in TIME_WAIT; two live listeners still conflict.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((require_loopback(address), port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def bind_shared_port(endpoints: Sequence[Endpoint]) -> list[socket.socket]:
    """Bind every endpoint on one common port number, chosen by the kernel.

    The first endpoint gets a free port; the others must then bind the same
    number, which another process may already hold on their address.  On
    such a collision everything is released and a new port is tried.
    """
    for _ in range(BIND_ATTEMPTS):
        sockets: list[socket.socket] = []
        try:
            for address, kind in endpoints:
                port = sockets[0].getsockname()[1] if sockets else 0
                sockets.append(bind(address, kind, port))
            return sockets
        except OSError as exc:
            for sock in sockets:
                sock.close()
            if exc.errno != errno.EADDRINUSE:
                raise
    raise OSError(errno.EADDRINUSE, f"no port free on all of {len(endpoints)} endpoints")


def _close_backlog(listener: socket.socket) -> None:
    """End, with a FIN, every connection the kernel established that was not accepted yet.

    A client's connect returns once the kernel has the connection in the listen backlog,
    before the server accepts it; closing the listener with connections still there
    resets them (RST). Under load that is where a connection made just before a stop
    waits, so a clean stop accepts and closes them first.
    """
    while True:
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionAbortedError:
            continue
        conn.close()


class StreamServer:
    """Serves TCP (or TLS) connections accepted on any number of listening sockets.

    Unlike ``asyncio.start_server`` on Python 3.11, :meth:`stop` ends every
    connection, including hanging ones, unfinished TLS handshakes and those still
    waiting to be accepted, and leaves no socket to the garbage collector.
    Accepting is synchronous, in a reader callback, so that every accepted
    socket is handed to its task at once and none can be in flight when the
    server stops.
    """

    def __init__(self) -> None:
        self._listeners: list[socket.socket] = []
        self._connections: set[asyncio.Task] = set()

    def listen(
        self, listener: socket.socket, handler: ConnectionHandler, ssl: SSLContext | None = None
    ) -> None:
        """Accept on the bound ``listener`` and serve each connection with ``handler``."""
        listener.listen(LISTEN_BACKLOG)
        loop = asyncio.get_running_loop()
        loop.add_reader(listener.fileno(), self._accept, loop, listener, handler, ssl)
        self._listeners.append(listener)

    async def stop(self) -> None:
        """Close the listeners, then abort every connection and wait for its task."""
        loop = asyncio.get_running_loop()
        for listener in self._listeners:
            loop.remove_reader(listener.fileno())
            _close_backlog(listener)
            listener.close()
        self._listeners.clear()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _accept(
        self,
        loop: asyncio.AbstractEventLoop,
        listener: socket.socket,
        handler: ConnectionHandler,
        ssl: SSLContext | None,
    ) -> None:
        # One readiness event may stand for a burst of connections.
        while True:
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            conn.setblocking(False)
            task = loop.create_task(self._serve(conn, handler, ssl))
            self._connections.add(task)
            task.add_done_callback(functools.partial(self._finished, conn))

    @staticmethod
    async def _serve(
        conn: socket.socket, handler: ConnectionHandler, ssl: SSLContext | None
    ) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        transport = None
        try:
            transport, _ = await loop.connect_accepted_socket(lambda: protocol, conn, ssl=ssl)
            await handler(reader, asyncio.StreamWriter(transport, protocol, reader, loop))
        except BaseException:
            # Stopping, or a bug: drop the connection rather than close it
            # gracefully, which would wait for the client.
            if transport is not None:
                transport.abort()
            raise

    def _finished(self, conn: socket.socket, task: asyncio.Task) -> None:
        self._connections.discard(task)
        if task.cancelled():
            # Needed when the task was cancelled before its first step, so its
            # coroutine never ran; otherwise the transport closed it already.
            conn.close()
        elif (exc := task.exception()) is not None:
            conn.close()
            task.get_loop().call_exception_handler(
                {"message": "simnet connection handler failed", "exception": exc, "task": task}
            )
