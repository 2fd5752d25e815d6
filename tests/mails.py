"""Mail as providers and their mail systems send it back, built from a notice received by
the test's SMTP server."""

from __future__ import annotations

import smtplib
import subprocess
import sys
import threading
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from pathlib import Path

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


class LmtpServer:
    """`ntd mail serve` in a subprocess, on a port of its own; ``said`` is its stderr."""

    def __init__(self, env: dict[str, str], cwd) -> None:
        ntd = Path(sys.executable).with_name("ntd")
        self.process = subprocess.Popen(
            [str(ntd), "mail", "serve", "--port", "0"],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.said: list[str] = []
        ready = threading.Event()

        def read() -> None:  # all it says, so that it never blocks on a full pipe
            for line in self.process.stderr:
                self.said.append(line)
                if line.startswith("LMTP on "):
                    ready.set()
            ready.set()  # it ended

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(30) or self.process.poll() is not None:
            self.process.kill()
            raise AssertionError("ntd mail serve did not start: " + "".join(self.said))
        listening = next(line for line in self.said if line.startswith("LMTP on "))
        self.port = int(listening.rsplit(":", 1)[1])

    def client(self) -> smtplib.LMTP:
        return smtplib.LMTP("127.0.0.1", self.port, local_hostname="mx.hotline.test", timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        assert self.process.wait(timeout=20) == 0

    def __enter__(self) -> LmtpServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
