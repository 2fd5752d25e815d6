"""Mail as providers and their mail systems send it back, built from a notice received by
the test's SMTP server."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid

from simnet.smtp import Received


def reply(
    notice: Received,
    text: str = "We have removed the content. Regards, Abuse Team",
    *,
    sender: str | None = None,
    subject: str | None = None,
    in_reply_to: str | None = "notice",
    headers: dict[str, str] | None = None,
    attachment: bytes | None = None,
) -> bytes:
    """A provider's answer to ``notice``, as a mail client writes one: In-Reply-To and
    References name the notice, the subject is its own with "Re: "."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender or notice.recipients[0]
    message["To"] = notice.message["From"]
    message["Subject"] = subject if subject is not None else f"Re: {notice.message['Subject']}"
    message["Date"] = formatdate()
    message["Message-ID"] = make_msgid(domain="provider.test")
    if in_reply_to:
        named = notice.message_id if in_reply_to == "notice" else in_reply_to
        message["In-Reply-To"] = named
        message["References"] = named
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if attachment is not None:
        message.add_attachment(
            attachment, maintype="application", subtype="octet-stream", filename="evidence.bin"
        )
    return message.as_bytes()
