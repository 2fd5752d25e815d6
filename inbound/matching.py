"""Which notice a message answers, and how far that can be trusted.

In order: the token of a notice's bounce address among the recipients (VERP), then a
Message-ID we sent (In-Reply-To, References, or quoted anywhere, as bounces enclose the
original), then an ``[NTD-n]`` subject tag. The first two are HMACs nobody can work out
from another notice (notifier.tokens); a subject tag anyone can write, so a match by it
alone never changes anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from inbound.parse import Parsed
from notifier.tokens import NoticeNames, tokens_in
from store.models import Notice

TRUSTED = ("token", "message_id")


@dataclass(frozen=True)
class Match:
    notice: Notice | None
    by: str  # token, message_id, subject or none

    @property
    def trusted(self) -> bool:
        return self.by in TRUSTED


def match(
    session: Session, names: NoticeNames, parsed: Parsed, recipients: Iterable[str] = ()
) -> Match:
    """The notice ``parsed`` answers. ``recipients``: the envelope's, where known."""
    for address in (*recipients, *parsed.header_recipients):
        token = tokens_in(address)
        notice = _notice(session, names.notice_of_token(token) if token else None)
        if notice is not None:
            return Match(notice, "token")
    for message_id in (*parsed.in_reply_to, *parsed.our_ids):
        notice = _notice(session, names.notice_of_message_id(message_id))
        if notice is not None and (notice.message_id or "").lower() == message_id.lower():
            return Match(notice, "message_id")
    notice = _notice(session, parsed.subject_notice)
    if notice is not None:
        return Match(notice, "subject")
    return Match(None, "none")


def _notice(session: Session, notice_id: int | None) -> Notice | None:
    if notice_id is None or notice_id > 2**31 - 1:  # an integer column on PostgreSQL
        return None
    return session.get(Notice, notice_id)
