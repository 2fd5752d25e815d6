"""Where a built notice goes: an SMTP server, or ``.eml`` files in OUTBOX_DIR.

Without SMTP_URL, notices are written to the outbox folder as files of mode 0600:
they are lists of abuse URLs, and are treated as such. A re-sent notice overwrites its
own file (the name is the notice id), so a crash between sending and marking it sent
never leaves two copies.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
import tempfile
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from notifier.exceptions import Bounced, Deferred, TransportDown
from settings import Settings


class Outbox:
    """Writes each notice as ``notice-<id>.eml``, atomically, mode 0600. Reads OUTBOX_DIR."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def send(
        self, notice_id: int, message: EmailMessage, envelope_from: str | None, *, name=None
    ) -> None:
        """``name``: the file's stem, for mail that is not a notice (``notice-ID`` else)."""
        # What a mail server records on delivery, first: where bounces are to go.
        head = f"Return-Path: <{envelope_from}>\n".encode() if envelope_from else b""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = self.folder / f"{name or f'notice-{notice_id}'}.eml"
        descriptor, temporary = tempfile.mkstemp(dir=self.folder, prefix=".notice-", suffix=".tmp")
        try:
            os.fchmod(descriptor, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(head + message.as_bytes())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def close(self) -> None:
        pass


class Smtp:
    """Sends over SMTP_URL: ``smtp://`` (``?starttls=1`` to upgrade), or ``smtps://``.

    Reads SMTP_URL and SMTP_TIMEOUT. One connection serves a whole pass.
    """

    def __init__(self, url: str, timeout: float, local_hostname: str = "localhost") -> None:
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes")
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self.local_hostname = local_hostname
        self._client: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        try:
            if self.implicit_tls:
                client = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout,
                    local_hostname=self.local_hostname,
                    context=context,
                )
            else:
                client = smtplib.SMTP(
                    self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname
                )
                if self.starttls:
                    client.starttls(context=context)
            if self.user:
                client.login(self.user, self.password or "")
        except (OSError, smtplib.SMTPException) as error:
            raise TransportDown(
                f"cannot reach the mail server {self.host}:{self.port}: {error}"
            ) from None
        return client

    def probe(self) -> str:
        """Connect, greet (and log in, with a user in SMTP_URL), and leave, sending
        nothing: what the server answered. Raises TransportDown."""
        client = self._connect()
        try:
            code, answer = client.ehlo()
            return f"{code} {_text(answer).splitlines()[0] if answer else ''}".strip()
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                client.quit()

    def send(
        self, notice_id: int, message: EmailMessage, envelope_from: str | None, *, name=None
    ) -> None:
        """Send with ``envelope_from`` as MAIL FROM (the notice's bounce address)."""
        if self._client is None:
            self._client = self._connect()
        try:
            refused = self._client.send_message(message, from_addr=envelope_from)
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            raise (Bounced if code >= 500 else Deferred)(f"{code} {_text(text)}") from None
        except smtplib.SMTPResponseException as error:
            raise (Bounced if error.smtp_code >= 500 else Deferred)(
                f"{error.smtp_code} {_text(error.smtp_error)}"
            ) from None
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as error:
            self._client = None
            raise TransportDown(f"the mail server went away: {error}") from None
        if refused:  # some of several recipients refused; we send one recipient per notice
            code, text = next(iter(refused.values()))
            raise (Bounced if code >= 500 else Deferred)(f"{code} {_text(text)}")

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._client.quit()
            self._client = None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def open_transport(settings: Settings) -> Outbox | Smtp:
    if settings.smtp_url:
        return Smtp(settings.smtp_url, settings.smtp_timeout.total_seconds())
    return Outbox(settings.outbox_dir)
