"""The LMTP way in (`ntd mail serve`): Postfix or Exim deliver to it as to a mailbox.

Each message is stored before its recipients are answered: 250 for each once it is in
the store, 451 for each when the store cannot take it (the mail server keeps the message
and tries again), 554 for input that is no mail message. A message over
INBOUND_MAX_BYTES is refused by aiosmtpd itself (552, and SIZE is announced in LHLO).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from aiosmtpd.lmtp import LMTP

from inbound.exceptions import NotAMessage
from inbound.ingest import Delivery, ingest
from settings import Settings
from store.db import Store
from store.exceptions import StoreUnavailable

logger = logging.getLogger(__name__)


class Handler:
    """aiosmtpd's handler: takes every recipient, stores each message once."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        delivery = Delivery.of(
            envelope.original_content,
            "lmtp",
            self.settings.inbound_max_bytes,
            sender=envelope.mail_from or "",
            recipients=tuple(envelope.rcpt_tos),
        )
        try:
            # The store blocks: off the loop, so other connections go on meanwhile.
            stored = await asyncio.to_thread(ingest, self.store, self.settings, delivery)
            if stored.duplicate or stored.dropped:
                line = f"250 2.0.0 {stored.outcome}"
            else:
                line = f"250 2.0.0 stored as message {stored.id} ({stored.kind})"
        except NotAMessage as error:
            line = f"554 5.6.0 {error}"
        except StoreUnavailable as error:
            logger.warning("LMTP: message not stored, asked to try again: %s", error)
            line = "451 4.3.0 the store is unavailable: try again later"
        except Exception:
            logger.exception("LMTP: message not stored, asked to try again")
            line = "451 4.3.0 the message could not be stored: try again later"
        # LMTP answers DATA once per recipient (RFC 2033); one message, one answer each.
        return "\r\n".join([line] * len(envelope.rcpt_tos))


async def start(store: Store, settings: Settings, host: str, port: int) -> asyncio.Server:
    """An LMTP server listening on ``host:port`` on the running loop."""
    handler = Handler(store, settings)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: LMTP(
            handler,
            data_size_limit=settings.inbound_max_bytes,
            decode_data=False,
            enable_SMTPUTF8=True,
            hostname=(settings.mail_from or "").rpartition("@")[2] or "ntd",
            ident="ntd LMTP",
        ),
        host=host,
        port=port,
    )


def serve(store: Store, settings: Settings, host: str, port: int, *, ready=None) -> None:
    """Serve LMTP until SIGTERM or SIGINT. ``ready(server)`` is called once listening."""

    async def main() -> None:
        server = await start(store, settings, host, port)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        if ready is not None:
            ready(server)
        async with server:
            await stopping.wait()
            server.close()
            await server.wait_closed()

    asyncio.run(main())
