"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives.

It can refuse recipients for good (550) or for now (451), and be stopped and started
again on the same port to play a mail server that is down.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    """One message as delivered: the envelope and the parsed message."""

    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        with self.server._lock:
            refusal = self.server._refusals.get(address.lower())
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=default)
        with self.server._lock:
            self.server._received.append(
                Received(envelope.mail_from, tuple(envelope.rcpt_tos), message)
            )
        while self.server._holding.is_set():  # the message is in; the answer waits
            await asyncio.sleep(0.01)
        return "250 Message accepted"


class SmtpServer:
    """``with SmtpServer() as smtp:`` then ``smtp.url`` is ``smtp://127.0.0.1:PORT``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = _free_port(host)
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._refusals: dict[str, str] = {}
        self._controller: Controller | None = None
        self._holding = threading.Event()

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> SmtpServer:
        # hostname given explicitly: without it aiosmtpd asks the system for its name.
        self._controller = Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            server_hostname="smtp.test",
            ready_timeout=5,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def refuse(self, address: str, reply: str = "550 5.1.1 No such mailbox") -> None:
        """Answer RCPT TO for ``address`` with ``reply`` (550 bounces, 451 defers)."""
        with self._lock:
            self._refusals[address.lower()] = reply

    def hold(self) -> None:
        """Keep each message received but hold back the "250" that says so, until
        ``release()``: the client cannot know its message went."""
        self._holding.set()

    def release(self) -> None:
        self._holding.clear()

    def accept(self, address: str) -> None:
        with self._lock:
            self._refusals.pop(address.lower(), None)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]


def _free_port(host: str) -> int:
    # aiosmtpd's readiness probe connects to the port it was given, so port 0 cannot
    # be used: take a free port from the kernel first.
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
