"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives.

It can refuse recipients for good (550) or for now (451), and be stopped and started
again on the same port to play a mail server that is down. It can also play a relay that
accepts a message and finds out later that it cannot be delivered (``bounce_later``):
then it writes the RFC 3464 delivery status notification a real relay would send to the
envelope sender, kept in ``bounces`` for the test to deliver.
"""

from __future__ import annotations

import asyncio
import email
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from email.utils import formatdate, make_msgid

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    """One message as delivered: the envelope and the parsed message."""

    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage
    at: float = field(default_factory=time.monotonic)  # when it arrived (time.monotonic)

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]


@dataclass(frozen=True)
class Bounce:
    """A delivery status notification the relay wrote: ``raw`` goes to ``to``."""

    to: str  # the envelope sender of the message that bounced
    recipient: str
    raw: bytes


def delivery_status_notification(
    original: bytes,
    sender: str,
    recipient: str,
    *,
    status: str = "5.1.1",
    diagnostic: str = "550 5.1.1 Recipient address rejected: User unknown",
    reporting_mta: str = "relay.test",
) -> bytes:
    """A multipart/report DSN (RFC 3464) for ``original``, as Postfix writes one: a human
    part, the machine-readable status, and the original's headers."""
    failed = status.startswith("5")
    boundary = f"dsn-{secrets.token_hex(12)}"
    headers = original.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", "replace")
    human = (
        f"This is the mail system at host {reporting_mta}.\n\n"
        + (
            "I'm sorry to have to inform you that your message could not\n"
            "be delivered to one or more recipients.\n"
            if failed
            else "Your message could not be delivered yet; it is still being retried.\n"
        )
        + f"\n<{recipient}>: {diagnostic}\n"
    )
    subject = (
        "Undelivered Mail Returned to Sender" if failed else "Delayed Mail (still being retried)"
    )
    text = f"""From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>
To: {sender}
Subject: {subject}
Date: {formatdate()}
Message-ID: {make_msgid(domain=reporting_mta)}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"

This is a MIME-encapsulated message.

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

{human}
--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; {reporting_mta}
Arrival-Date: {formatdate()}

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {"failed" if failed else "delayed"}
Status: {status}
Remote-MTA: dns; mx.{recipient.rpartition("@")[2]}
Diagnostic-Code: smtp; {diagnostic}

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

{headers}

--{boundary}--
"""
    return text.replace("\n", "\r\n").encode()


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
            later = [
                (r, self.server._later[r.lower()])
                for r in envelope.rcpt_tos
                if r.lower() in self.server._later
            ]
        for recipient, (status, diagnostic) in later:
            raw = delivery_status_notification(
                envelope.original_content,
                envelope.mail_from,
                recipient,
                status=status,
                diagnostic=diagnostic,
            )
            with self.server._lock:
                self.server._bounces.append(Bounce(envelope.mail_from, recipient, raw))
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
        self._later: dict[str, tuple[str, str]] = {}
        self._bounces: list[Bounce] = []
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
            self._later.pop(address.lower(), None)

    def bounce_later(
        self,
        address: str,
        status: str = "5.1.1",
        diagnostic: str = "550 5.1.1 Recipient address rejected: User unknown",
    ) -> None:
        """Accept messages for ``address`` with a 250, as a relay does, then write the
        DSN it would send back (``bounces``); a 4.x.x ``status`` is a delay warning."""
        with self._lock:
            self._later[address.lower()] = (status, diagnostic)

    @property
    def bounces(self) -> list[Bounce]:
        with self._lock:
            return list(self._bounces)

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
