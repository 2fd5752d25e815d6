"""A notice's unguessable names: its Message-ID, its bounce address, its provider link.

Each is an HMAC of the notice id under one key, so it is the same every time the notice
is built (a crash re-sends the very same message) yet nobody can work out another
notice's from one they have seen. That is what lets inbound mail be trusted: a bounce
acts only when it names a notice by its bounce address or by a Message-ID we sent, and
neither can be guessed from the ``[NTD-n]`` in a subject.

The key is SECRET_KEY, or else one the store makes on first use and keeps in ``secrets``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import Secret
from store.types import utcnow

KEY_NAME = "notice-hmac"
# 80 bits of base32: out of reach of guessing, short enough for a local part.
_MAC_CHARS = 16
_BOUNCE_TOKEN = re.compile(r"^ntd-(\d{1,18})-([a-z2-7]{16})$")
_MESSAGE_ID = re.compile(r"^<ntd-(\d{1,18})\.([a-z2-7]{16})@[^<>\s]+>$")


def store_key(session: Session, secret_key: str | None) -> bytes:
    """SECRET_KEY, or the store's own key, made (once, whoever is first) when missing."""
    if secret_key:
        return secret_key.encode()
    row = session.get(Secret, KEY_NAME)
    if row is None:
        try:
            # A savepoint: another process making the key at the same moment must not
            # fail the caller's transaction, only this insert; then its key is read.
            with session.begin_nested():
                session.add(Secret(name=KEY_NAME, value=secrets.token_hex(32), created_at=utcnow()))
        except IntegrityError:
            pass
        row = session.get(Secret, KEY_NAME, populate_existing=True)
    return bytes.fromhex(row.value)


@dataclass(frozen=True)
class NoticeNames:
    """The names derived from one key (``store_key``)."""

    key: bytes

    def _mac(self, purpose: str, notice_id: int) -> bytes:
        return hmac.new(self.key, f"{purpose}:{notice_id}".encode(), hashlib.sha256).digest()

    def _short(self, purpose: str, notice_id: int) -> str:
        # Lower case: some mail servers fold the case of local parts.
        return base64.b32encode(self._mac(purpose, notice_id)).decode().lower()[:_MAC_CHARS]

    def message_id(self, notice_id: int, mail_domain: str) -> str:
        return f"<ntd-{notice_id}.{self._short('message-id', notice_id)}@{mail_domain}>"

    def bounce_token(self, notice_id: int) -> str:
        return f"ntd-{notice_id}-{self._short('bounce', notice_id)}"

    def bounce_address(self, notice_id: int, base: str) -> str:
        """``base`` with the notice's token after a '+': ``bounces+ntd-7-….@example.org``."""
        local, _, domain = base.rpartition("@")
        local = local.split("+", 1)[0]
        return f"{local}+{self.bounce_token(notice_id)}@{domain}"

    def notice_of_token(self, token: str) -> int | None:
        """The notice a bounce token names, or None when it is not one of ours."""
        match = _BOUNCE_TOKEN.match(token.strip().lower())
        if not match:
            return None
        notice_id = int(match.group(1))
        expected = self._short("bounce", notice_id)
        return notice_id if hmac.compare_digest(expected, match.group(2)) else None

    def notice_of_message_id(self, message_id: str) -> int | None:
        """The notice whose Message-ID this is, by its MAC, or None (no guess passes)."""
        match = _MESSAGE_ID.match(message_id.strip().lower())
        if not match:
            return None
        notice_id = int(match.group(1))
        expected = self._short("message-id", notice_id)
        return notice_id if hmac.compare_digest(expected, match.group(2)) else None

    def provider_token(self, notice_id: int) -> str:
        """The secret part of the notice's provider-page link (the store keeps its hash)."""
        return base64.urlsafe_b64encode(self._mac("provider-link", notice_id)).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_in(address: str) -> str | None:
    """The part after the first '+' of an address's local part, if any."""
    local = address.strip().strip("<>").rpartition("@")[0]
    return local.split("+", 1)[1] if "+" in local else None
