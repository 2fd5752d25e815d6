"""The inbound half: bounces, replies and auto-replies by pipe, LMTP and IMAP.

Notices go out to a real SMTP server playing the hotline's relay: it accepts them, and
for the mailboxes told to, writes the delivery status notification a relay sends later.
That DSN, and providers' replies, come back through the three real ways in: `ntd mail
ingest` as a mail server's pipe runs it, `ntd mail serve` spoken to over LMTP, and a
dovecot IMAP mailbox that `ntd mail fetch` reads.
"""

from __future__ import annotations

import email
import json
import sys
from email.message import EmailMessage
from email.policy import SMTP, default
from pathlib import Path

import pytest
from sqlalchemy import func, select

from simnet.smtp import Received, delivery_status_notification
from store.db import open_store
from store.models import Hosting, InboundMessage, Mailbox
from store.types import utcnow
from tests.conftest import run_ntd
from tests.imapserver import ImapServer, missing
from tests.mailroom import IDENTITY
from tests.mails import LmtpServer, reply

NTD = Path(sys.executable).with_name("ntd")
needs_dovecot = pytest.mark.skipif(missing(), reason="Debian's dovecot-imapd is not installed")


def environment(mailroom, guarded_env, **extra) -> dict[str, str]:
    world = mailroom.world
    return {
        **guarded_env,
        **world.environ(smtp_url=mailroom.smtp.url, smtp_retry="0s", **IDENTITY),
        **{f"NTD_{k.upper()}": v for k, v in extra.items()},
    }


class Pipe:
    """A mail server's pipe transport: `ntd mail ingest --sender S --recipient R`."""

    name = "pipe"

    def __init__(self, env, cwd) -> None:
        self.env, self.cwd = env, cwd

    def deliver(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        args = ["mail", "ingest", "--sender", sender]
        for recipient in recipients:
            args += ["--recipient", recipient]
        result = run_ntd(*args, env=self.env, cwd=self.cwd, input=raw)
        assert result.returncode == 0, result.stderr.decode()

    def close(self) -> None:
        pass


class Lmtp:
    """Postfix's LMTP client: `ntd mail serve` on a port of its own."""

    name = "lmtp"

    def __init__(self, env, cwd) -> None:
        self.server = LmtpServer(env, cwd)

    def deliver(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        with self.server.client() as client:
            refused = client.sendmail(sender, recipients, raw)
        assert refused == {}

    def close(self) -> None:
        self.server.stop()


class Imap:
    """A mailbox on dovecot, read by `ntd mail fetch`."""

    name = "imap"

    def __init__(self, env, cwd) -> None:
        self.imap = ImapServer().start()
        self.env = {**env, "NTD_IMAP_URL": self.imap.url()}
        self.cwd = cwd

    def deliver(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        # As the mail server would file it: the envelope survives in Delivered-To.
        header = "".join(f"Delivered-To: {r}\r\n" for r in recipients).encode()
        self.imap.deliver(header + raw)
        result = run_ntd("mail", "fetch", env=self.env, cwd=self.cwd)
        assert result.returncode == 0, result.stderr.decode()
        assert result.stdout.startswith(b"1 stored"), result.stdout

    def close(self) -> None:
        self.imap.stop()


WAYS = {
    "pipe": Pipe,
    "lmtp": Lmtp,
    "imap": pytest.param(Imap, marks=needs_dovecot),
}


@pytest.fixture(params=list(WAYS.values()), ids=list(WAYS))
def way(request, mailroom, guarded_env, tmp_path):
    opened = request.param(environment(mailroom, guarded_env), tmp_path)
    yield opened
    opened.close()


def test_a_late_bounce_falls_back_and_a_reply_reaches_the_timeline_and_inbox(
    mailroom, smtp, way, guarded_env, tmp_path
):
    world = mailroom.world
    [report] = mailroom.online("abuse@gone.test", details={"fallback_emails": ["noc@host.test"]})
    smtp.bounce_later("abuse@gone.test")
    mailroom.notify()
    [first] = smtp.received
    # The relay took it: by the SMTP answer, the notice went.
    assert world.show(report)["notices"][0]["status"] == "sent"
    # Its envelope sender is the notice's own bounce address (VERP).
    assert first.sender.startswith("notices+ntd-1-") and first.sender.endswith("@hotline.test")
    [bounce] = smtp.bounces
    assert bounce.to == first.sender

    way.deliver(bounce.raw, "", [bounce.to])
    mailroom.notify()  # one notify pass
    [fallback] = smtp.to("noc@host.test")
    shown = world.show(report)
    assert [(n["to"], n["status"], n["reason"]) for n in shown["notices"]] == [
        ("abuse@gone.test", "bounced", "first notice"),
        ("noc@host.test", "sent", "fallback after a bounce"),
    ]
    [bounced] = shown["messages"]
    assert (bounced["kind"], bounced["matched_by"], bounced["via"]) == ("bounce", "token", way.name)
    assert "5.1.1" in bounced["outcome"] and "marked bouncing" in bounced["outcome"]
    # The clock of time to removal starts at the notice that reached someone.
    assert world.show(report)["notices"][1]["at"] is not None

    subject = f"Re: {fallback.message['Subject']} [Ticket#4711]"
    answer = reply(fallback, "Thank you, we are looking into it.", subject=subject)
    way.deliver(answer, "noc@host.test", ["notices@hotline.test"])
    shown = world.show(report)
    reply_view = shown["messages"][-1]
    assert reply_view["kind"] == "reply" and reply_view["matched_by"] == "message_id"
    assert reply_view["ticket"] == "Ticket#4711"
    assert reply_view["text"].strip() == "Thank you, we are looking into it."
    assert reply_view["needs_reading"] is True
    assert shown["notices"][1]["answered_at"] is not None

    from tests.test_web_support import Web

    web = Web(world.database_url)
    try:
        browser = web.browser("analyst")
        page = browser.get(f"/reports/{report}")
        assert "reply to notice #2" in page.text and "Ticket#4711" in page.text
        assert "bounce to notice #1" in page.text
        inbox = browser.get("/inbox")
        assert "Thank you, we are looking into it." in inbox.text
        assert f'href="/reports/{report}"' in inbox.text
        read = browser.post(f"/inbox/message/{reply_view['id']}/read", data={"csrf": browser.csrf})
        assert read.status_code == 303
        assert "Thank you, we are looking into it." not in browser.get("/inbox").text
        board = web.browser("manager").get("/stats").text
        assert '<span class="figure" id="bounced">1</span>' in board
        assert '<span class="figure" id="answered">1</span>' in board
    finally:
        web.close()

    env = environment(mailroom, guarded_env)
    stats = json.loads(run_ntd("stats", "--json", env=env, cwd=tmp_path).stdout)
    assert (stats["notices_bounced"], stats["notices_answered"]) == (1, 1)
    assert stats["median_time_to_first_response_s"] is not None


def test_a_bounce_named_only_by_a_guessed_message_id_or_subject_changes_nothing(
    mailroom, smtp, ntd
):
    [report] = mailroom.online("abuse@host.test", details={"fallback_emails": ["noc@host.test"]})
    mailroom.notify()
    [notice] = smtp.received
    guessed = "<ntd-1.aaaaaaaaaaaaaaaa@hotline.test>"
    forged = delivery_status_notification(
        f"Message-ID: {guessed}\r\nSubject: [NTD-1] Notice\r\n\r\n".encode(),
        "notices@hotline.test",
        "abuse@host.test",
    ).replace(
        b"Subject: Undelivered",
        b"In-Reply-To: " + guessed.encode() + b"\r\nSubject: [NTD-1] Undelivered",
    )
    forged_token = "notices+ntd-1-aaaaaaaaaaaaaaaa@hotline.test"
    for recipients in (["notices@hotline.test"], [forged_token]):
        args = ["mail", "ingest", "--sender", ""]
        for r in recipients:
            args += ["--recipient", r]
        result = ntd(*args, input=forged + recipients[0].encode())  # two distinct messages
        assert result.exit_code == 0, result.output
    shown = mailroom.world.show(report)
    assert [n["status"] for n in shown["notices"]] == ["sent"]
    assert [(m["kind"], m["matched_by"]) for m in shown["messages"]] == [
        ("bounce", "subject"),
        ("bounce", "subject"),
    ]
    assert all("nothing done" in m["outcome"] for m in shown["messages"])
    with mailroom.world.store.session() as session:
        assert session.scalar(select(func.count()).select_from(Mailbox)) == 0
    mailroom.notify()
    assert len(smtp.received) == 1  # no fallback went out
    assert notice.message_id != guessed


def test_a_bounce_for_a_notice_that_does_not_exist_is_kept_unmatched(mailroom, smtp, ntd):
    from notifier.tokens import NoticeNames, store_key

    with mailroom.world.store.session() as session:
        names = NoticeNames(store_key(session, None))
    address = names.bounce_address(999, "notices@hotline.test")  # a genuine token, no notice
    raw = delivery_status_notification(b"Subject: x\r\n\r\n", address, "abuse@host.test")
    result = ntd("mail", "ingest", "--sender", "", "--recipient", address, input=raw)
    assert result.exit_code == 0 and "unmatched" in result.output
    with mailroom.world.store.session() as session:
        [row] = session.scalars(select(InboundMessage)).all()
        assert (row.kind, row.notice_id, row.needs_reading) == ("unmatched", None, True)
        assert "matches no notice" in row.outcome


def test_nothing_of_an_attachment_is_kept_anywhere(world, guarded_env, tmp_path):
    from simnet import MARKER, files_containing_marker

    site = world.net.site("attached.test")
    site.page("/1.jpg")
    outbox = tmp_path / "outbox"
    database = tmp_path / "inbound.sqlite3"
    home, temp, work = tmp_path / "home", tmp_path / "tmp", tmp_path / "work"
    for folder in (home, temp, work):
        folder.mkdir()
    env = {
        **guarded_env,
        **world.environ(**IDENTITY, outbox_dir=str(outbox)),
        "NTD_DATABASE_URL": f"sqlite:///{database}",
        "HOME": str(home),
        "TMPDIR": str(temp),
    }
    for command in (["add", site.url("/1.jpg")], ["check"]):
        done = run_ntd(*command, env=env, cwd=work)
        assert done.returncode == 0, done.stderr
    # Hosting as the look-ups leave it, so that a notice goes to the outbox to answer.
    store = open_store(f"sqlite:///{database}")
    with store.session() as session:
        session.merge(
            Hosting(
                report_id=1,
                ip=site.address,
                asn=64500,
                org="Example Hosting",
                country="NL",
                abuse_email="abuse@attached.test",
                sources={},
                details={},
                resolved_at=utcnow(),
            )
        )
    store.close()
    assert run_ntd("notify", env=env, cwd=work).returncode == 0
    [sent] = list(outbox.glob("*.eml"))
    notice = Received(
        "", ("abuse@host.test",), email.message_from_bytes(sent.read_bytes(), policy=default)
    )
    secret = MARKER.encode() * 10
    answer = reply(notice, "See the attached file.", attachment=secret)
    # A plain-text attachment (the marker as it is) and an enclosed message too.
    message = email.message_from_bytes(answer, policy=SMTP)
    message.add_attachment(MARKER * 3, subtype="plain", filename="notes.txt", cte="8bit")
    enclosed = EmailMessage()
    enclosed["Subject"] = "forwarded"
    enclosed.set_content(MARKER)
    message.add_attachment(enclosed)
    raw = message.as_bytes()
    assert raw.count(MARKER.encode()) >= 2  # the marker is there in clear
    result = run_ntd("mail", "ingest", env=env, cwd=work, input=raw)
    assert result.returncode == 0, result.stderr
    shown = run_ntd("show", "1", "--json", env=env, cwd=work)
    [message_view] = json.loads(shown.stdout)["messages"]
    assert message_view["attachments"] == 3
    assert sorted(message_view["attachment_types"]) == [
        "application/octet-stream",
        "message/rfc822",
        "text/plain",
    ]
    assert message_view["text"].strip() == "See the attached file."
    for output in (result.stdout, result.stderr, shown.stdout, shown.stderr):
        assert MARKER.encode() not in output
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert database in written
    assert files_containing_marker(written) == []


def test_contacts_marked_bouncing_are_listed_and_cleared(mailroom, smtp, ntd):
    [report] = mailroom.online("abuse@gone.test", details={"fallback_emails": ["noc@host.test"]})
    smtp.refuse("abuse@gone.test")
    mailroom.notify()
    listed = ntd("contacts", "bouncing")
    assert listed.exit_code == 0
    assert (
        listed.output.startswith("abuse@gone.test\tsince ") and "found by look-up" in listed.output
    )
    assert ntd("contacts", "unbounce", "ABUSE@gone.test").exit_code == 0
    assert ntd("contacts", "bouncing").output == ""
    again = ntd("contacts", "unbounce", "abuse@gone.test")
    assert again.exit_code == 1 and "not marked bouncing" in again.output


def test_an_auto_responder_loop_is_cut_and_never_answered(mailroom, smtp, ntd):
    mailroom.online("abuse@host.test")
    mailroom.notify()
    [notice] = smtp.received
    outcomes = []
    for i in range(12):
        away = reply(
            notice,
            f"I am out of the office until Monday. ({i})",
            subject="Out of office: " + notice.message["Subject"],
            headers={"Auto-Submitted": "auto-replied"},
        )
        result = ntd("mail", "ingest", "--recipient", notice.sender, input=away)
        assert result.exit_code == 0
        outcomes.append(result.output)
    with mailroom.world.store.session() as session:
        kinds = session.scalars(select(InboundMessage.kind)).all()
    assert kinds == ["auto_reply"] * 5  # INBOUND_AUTO_REPLIES
    assert all("auto-responder loop" in o for o in outcomes[5:])
    # The same text again from the same sender, even without the headers, is a loop too.
    same = reply(notice, "Thanks!", subject="x")
    ntd("mail", "ingest", input=same)
    second = ntd("mail", "ingest", input=same.replace(b"Subject: x", b"Subject: y"))
    assert "auto-responder loop" in second.output
    mailroom.notify()
    assert len(smtp.received) == 1  # nobody was answered


def test_delays_and_auto_replies_are_recorded_only(mailroom, smtp, ntd):
    [report] = mailroom.online("abuse@slow.test", details={"fallback_emails": ["noc@host.test"]})
    smtp.bounce_later("abuse@slow.test", status="4.4.1", diagnostic="451 4.4.1 Try later")
    mailroom.notify()
    [bounce] = smtp.bounces
    ntd("mail", "ingest", "--sender", "", "--recipient", bounce.to, input=bounce.raw)
    [notice] = smtp.received
    vacation = reply(notice, "On holiday", headers={"X-Autoreply": "yes"})
    ntd("mail", "ingest", "--recipient", bounce.to, input=vacation)
    mailroom.notify()
    shown = mailroom.world.show(report)
    assert [m["kind"] for m in shown["messages"]] == ["delay", "auto_reply"]
    assert [n["status"] for n in shown["notices"]] == ["sent"]
    assert shown["notices"][0]["answered_at"] is None  # an auto-reply is no answer
    assert len(smtp.received) == 1


def test_a_bounce_of_someone_else_quoting_our_message_id_changes_nothing(mailroom, smtp, ntd):
    """Staff answered the provider with a mistyped Cc: that copy bounced, and the bounce
    quotes our Message-ID. The provider's own mailbox is fine."""
    [report] = mailroom.online("abuse@host.test", details={"fallback_emails": ["noc@host.test"]})
    mailroom.notify()
    [notice] = smtp.received
    copy = f"Message-ID: <x@hotline.test>\r\nReferences: {notice.message_id}\r\n\r\n".encode()
    bounce = delivery_status_notification(copy, "notices@hotline.test", "typo@elsewhere.test")
    result = ntd("mail", "ingest", "--sender", "", input=bounce)
    assert result.exit_code == 0 and "not for notice 1's recipient" in result.output
    assert mailroom.world.show(report)["notices"][0]["status"] == "sent"
    assert ntd("contacts", "bouncing").output == ""


def test_a_forged_subject_tag_cannot_make_the_real_reply_a_repeat(mailroom, smtp, ntd):
    [report] = mailroom.online("abuse@host.test")
    mailroom.notify()
    [notice] = smtp.received
    words = "Thank you, removed."
    forged = reply(notice, words, in_reply_to=None)  # only the [NTD-1] of the subject
    ntd("mail", "ingest", input=forged)
    real = reply(notice, words)
    assert (
        "stored as message 2: reply: reply to notice 1" in ntd("mail", "ingest", input=real).output
    )
    assert mailroom.world.show(report)["notices"][0]["answered_at"] is not None
