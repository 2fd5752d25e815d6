"""The IMAP way in: a mailbox's unseen messages, each marked seen (or moved) only once
it is stored.

Messages are read with BODY.PEEK, which leaves them unseen: a message the store could not
take stays unseen and is fetched again next time. One larger than INBOUND_MAX_BYTES is
read by its headers only. The mailbox's password is never logged or put in an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from inbound.exceptions import MailboxError, NotAMessage
from inbound.ingest import Delivery, Stored, ingest
from settings import Settings
from store.db import Store
from store.exceptions import StoreUnavailable

logger = logging.getLogger(__name__)
_SEEN = b"\\Seen"
_FLAGGED = b"\\Flagged"
_BATCH = 100


@dataclass(frozen=True)
class Mailbox:
    """Where IMAP_URL points, the password kept out of ``str()``."""

    host: str
    port: int
    tls: bool
    starttls: bool
    user: str
    password: str
    folder: str

    @classmethod
    def of(cls, url: str) -> Mailbox:
        parts = urlsplit(url)
        tls = parts.scheme == "imaps"
        return cls(
            host=parts.hostname,
            port=parts.port or (993 if tls else 143),
            tls=tls,
            starttls=parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes"),
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
        )

    def __str__(self) -> str:
        scheme = "imaps" if self.tls else "imap"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.folder}"


@dataclass
class Fetched:
    """One fetch: how many messages were stored, already there, dropped, refused."""

    stored: int = 0
    duplicates: int = 0
    dropped: int = 0
    refused: int = 0  # not mail at all: marked seen and left in the mailbox
    failed: int = 0  # could not be stored: flagged and left in the mailbox

    @property
    def total(self) -> int:
        return self.stored + self.duplicates + self.dropped + self.refused + self.failed


def fetch(store: Store, settings: Settings) -> Fetched:
    """Store every unseen message of IMAP_URL's folder. Raises MailboxError when the
    mailbox cannot be used, StoreUnavailable when the store cannot take a message (the
    messages not yet stored stay unseen)."""
    mailbox = Mailbox.of(settings.imap_url)
    done = settings.imap_done_folder
    fetched = Fetched()
    with connect(mailbox, settings.imap_timeout.total_seconds()) as client:
        try:
            client.select_folder(mailbox.folder)
            if done and not client.folder_exists(done):
                client.create_folder(done)
            uids = client.search(["UNSEEN"])
            for start in range(0, len(uids), _BATCH):
                batch = uids[start : start + _BATCH]
                sizes = client.fetch(batch, ["RFC822.SIZE"])
                for uid in batch:
                    if uid not in sizes:  # expunged meanwhile by another client
                        continue
                    delivery = _read(client, uid, sizes[uid][b"RFC822.SIZE"], settings)
                    try:
                        stored = ingest(store, settings, delivery)
                    except NotAMessage as error:
                        logger.warning("IMAP message %s of %s refused: %s", uid, mailbox, error)
                        client.add_flags([uid], [_SEEN])
                        fetched.refused += 1
                        continue
                    except StoreUnavailable:
                        raise  # this and the rest stay unseen, for the next fetch
                    except Exception as error:
                        # One message that cannot be stored must not hold up the rest:
                        # it stays in the mailbox, flagged for a person to look at.
                        logger.error(
                            "IMAP message %s of %s not stored (%s): left flagged in the mailbox",
                            uid,
                            mailbox,
                            type(error).__name__,
                        )
                        client.add_flags([uid], [_SEEN, _FLAGGED])
                        fetched.failed += 1
                        continue
                    _count(fetched, stored)
                    _done(client, uid, done)
        except (IMAPClientError, OSError) as error:
            raise MailboxError(f"{mailbox}: {_reason(error)}") from None
    return fetched


def _read(client: IMAPClient, uid: int, size: int, settings: Settings) -> Delivery:
    limit = settings.inbound_max_bytes
    if size <= limit:
        raw = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
        return Delivery.of(raw, "imap", limit)
    head = client.fetch([uid], ["BODY.PEEK[HEADER]"])[uid][b"BODY[HEADER]"]
    # The body is never fetched: the same headers and size are the same message.
    digest = hashlib.sha256(b"%d\n" % size + head).hexdigest()
    return Delivery(head[:limit], size, digest, complete=False, via="imap")


def _done(client: IMAPClient, uid: int, folder: str | None) -> None:
    client.add_flags([uid], [_SEEN])
    if not folder:
        return
    if client.has_capability("MOVE"):
        client.move([uid], folder)
    else:
        client.copy([uid], folder)
        client.delete_messages([uid])
        if client.has_capability("UIDPLUS"):
            client.uid_expunge([uid])
        else:
            client.expunge()


def _count(fetched: Fetched, stored: Stored) -> None:
    if stored.duplicate:
        fetched.duplicates += 1
    elif stored.dropped:
        fetched.dropped += 1
    else:
        fetched.stored += 1


@contextlib.contextmanager
def connect(mailbox: Mailbox, timeout: float) -> Iterator[IMAPClient]:
    try:
        client = IMAPClient(
            mailbox.host,
            port=mailbox.port,
            ssl=mailbox.tls,
            ssl_context=ssl.create_default_context() if mailbox.tls else None,
            timeout=timeout,
        )
    except (IMAPClientError, OSError) as error:
        raise MailboxError(f"{mailbox}: cannot connect: {_reason(error)}") from None
    try:
        if mailbox.starttls:
            client.starttls(ssl.create_default_context())
        client.login(mailbox.user, mailbox.password)
    except (IMAPClientError, OSError) as error:
        _quietly_close(client)
        raise MailboxError(f"{mailbox}: cannot log in: {_reason(error)}") from None
    try:
        yield client
    finally:
        _quietly_close(client, logout=True)


def _quietly_close(client: IMAPClient, *, logout: bool = False) -> None:
    with contextlib.suppress(IMAPClientError, OSError):
        if logout:
            client.logout()
        else:
            client.shutdown()


def _reason(error: Exception) -> str:
    if isinstance(error, socket.timeout | TimeoutError):
        return "timed out (IMAP_TIMEOUT)"
    text = str(error) or type(error).__name__
    return text.removeprefix("b'").removesuffix("'")
