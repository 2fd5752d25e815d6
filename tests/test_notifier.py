"""The notifier against a real SMTP server: batching, timing, failures, fallbacks, partners.

Reports are made online by real checks against the simulated internet; their hosting is
set in the store directly, as the hosting look-ups would leave it (those have tests of
their own), so that each test names the contacts it is about.
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from notifier.passes import notify
from tests.conftest import run_ntd
from tests.mailroom import IDENTITY


def json_parts(received) -> list:
    return [
        p for p in received.message.iter_attachments() if p.get_content_type() == "application/json"
    ]


def test_one_batched_email_per_contact(mailroom, smtp):
    first = mailroom.online("abuse@first.test", 3)
    second = mailroom.online("abuse@second.test", 2)
    tally = mailroom.notify()
    assert len(tally.sent.sent) == 2
    [to_first] = smtp.to("abuse@first.test")
    [to_second] = smtp.to("abuse@second.test")
    assert len(json_parts(to_first)) == 3 and len(json_parts(to_second)) == 2
    body = to_first.message.get_body(("plain",)).get_content()
    for report in first:
        assert mailroom.world.show(report)["canonical_url"] in body
    views = [mailroom.world.show(i) for i in first + second]
    assert all(len(v["notices"]) == 1 and v["notices"][0]["status"] == "sent" for v in views)
    assert to_first.message_id == views[0]["notices"][0]["message_id"]


def test_a_large_batch_is_split(mailroom, smtp):
    mailroom.online("abuse@big.test", 5)
    mailroom.notify(notice_max_reports=2)
    assert sorted(len(json_parts(r)) for r in smtp.to("abuse@big.test")) == [1, 2, 2]


def test_no_duplicates_across_passes(mailroom, smtp):
    mailroom.online("abuse@host.test", 2)
    mailroom.notify()
    again = mailroom.notify()
    assert again.planned == [] and again.sent.sent == []
    assert len(smtp.received) == 1


def test_paused_reports_get_no_notice(mailroom, smtp):
    [paused, other] = mailroom.online("abuse@host.test", 2)
    with mailroom.world.store.session() as session:
        from store.models import Report

        session.get(Report, paused).paused = True
    mailroom.notify()
    [received] = smtp.received
    assert len(json_parts(received)) == 1
    assert mailroom.world.show(paused)["notices"] == []


def test_when_smtp_is_down_everything_waits_then_goes(mailroom, smtp):
    mailroom.online("abuse@host.test", 2)
    smtp.stop()
    tally = mailroom.notify()
    assert tally.sent.transport_down and tally.sent.sent == []
    smtp.start()
    tally = mailroom.notify()
    assert len(tally.sent.sent) == 1
    assert len(smtp.received) == 1


def test_a_deferral_is_retried(mailroom, smtp):
    [report] = mailroom.online("abuse@busy.test")
    smtp.refuse("abuse@busy.test", "451 4.7.1 Try again later")
    tally = mailroom.notify()
    assert tally.sent.deferred and not tally.sent.sent
    assert mailroom.world.show(report)["notices"][0]["status"] == "pending"
    smtp.accept("abuse@busy.test")
    mailroom.notify()
    assert [n["status"] for n in mailroom.world.show(report)["notices"]] == ["sent"]


def test_no_reminder_while_the_notice_is_still_pending(mailroom, smtp):
    # The notice waited past REMINDER_INTERVAL; when it goes, no reminder goes with it.
    [report] = mailroom.online("abuse@host.test")
    smtp.stop()
    assert mailroom.notify(reminder_interval="1s").sent.transport_down
    time.sleep(1.1)
    smtp.start()
    tally = mailroom.notify(reminder_interval="1s")
    assert tally.planned == [] and len(tally.sent.sent) == 1
    assert len(smtp.received) == 1
    assert [n["kind"] for n in mailroom.world.show(report)["notices"]] == ["notice"]


def test_a_bounce_falls_back_to_the_next_contact(mailroom, smtp):
    [report] = mailroom.online("abuse@gone.test", details={"fallback_emails": ["noc@host.test"]})
    smtp.refuse("abuse@gone.test")
    tally = mailroom.notify()
    assert tally.sent.bounced and tally.sent.sent
    [fallback] = smtp.to("noc@host.test")
    notices = mailroom.world.show(report)["notices"]
    assert [(n["to"], n["status"]) for n in notices] == [
        ("abuse@gone.test", "failed"),
        ("noc@host.test", "sent"),
    ]
    assert "550" in notices[0]["error"]
    assert notices[1]["reason"] == "fallback after a bounce"
    assert fallback.message_id == notices[1]["message_id"]


def test_reminders_follow_while_the_content_stays_up(mailroom, smtp):
    up, down = mailroom.online("abuse@host.test", 2)
    mailroom.notify(reminder_interval="2s")
    assert mailroom.notify(reminder_interval="2s").planned == []  # too soon
    mailroom.site.take_down(f"/{mailroom.count}.jpg", status=404)
    mailroom.world.check([down])
    assert mailroom.world.state(down) == "removed"
    time.sleep(2.1)
    mailroom.notify(reminder_interval="2s")
    kinds = [n["kind"] for n in mailroom.world.show(up)["notices"]]
    assert kinds == ["notice", "reminder"]
    assert [n["kind"] for n in mailroom.world.show(down)["notices"]] == ["notice"]
    reminder = smtp.received[-1].message
    assert "reminder" in reminder["Subject"].lower()


def test_escalation_after_the_reminders(mailroom, smtp):
    [report] = mailroom.online(
        "abuse@host.test",
        details={
            "escalations": [
                {"kind": "upstream", "email": "abuse@upstream.test", "name": "Upstream"}
            ]
        },
    )
    for _ in range(3):
        mailroom.notify(reminder_interval="1s", escalate_after="1")
        time.sleep(1.05)
    kinds = [(n["kind"], n["to"]) for n in mailroom.world.show(report)["notices"]]
    assert kinds == [
        ("notice", "abuse@host.test"),
        ("reminder", "abuse@host.test"),
        ("reminder", "abuse@host.test"),
        ("escalation", "abuse@upstream.test"),
    ]
    [escalation] = smtp.to("abuse@upstream.test")
    assert "abuse@host.test" in escalation.message.get_body(("plain",)).get_content()


def test_partner_routing(mailroom, smtp, tmp_path):
    partners = tmp_path / "partners.csv"
    partners.write_text("country,email,name\nDE,reports@partner.test,Partner Hotline DE\n")
    [abroad] = mailroom.online("abuse@de-host.test", country="DE")
    [home] = mailroom.online("abuse@nl-host.test", country="NL")
    mailroom.notify(partners_file=str(partners))
    assert [n["kind"] for n in mailroom.world.show(abroad)["notices"]] == ["partner"]
    assert smtp.to("abuse@de-host.test") == []
    assert len(smtp.to("reports@partner.test")) == 1
    assert [n["kind"] for n in mailroom.world.show(home)["notices"]] == ["notice"]
    [both] = mailroom.online("abuse@de-host2.test", country="DE")
    mailroom.notify(partners_file=str(partners), partner_and_host="true")
    assert sorted(n["kind"] for n in mailroom.world.show(both)["notices"]) == ["notice", "partner"]


def test_identity_must_be_set_before_anything_goes(mailroom, smtp):
    mailroom.online("abuse@host.test")
    from notifier.exceptions import MissingIdentity

    with pytest.raises(MissingIdentity, match="MAIL_FROM, HOTLINE_COUNTRY"):
        notify(
            mailroom.world.store,
            mailroom.world.settings(smtp_url=smtp.url, hotline_name="Test Hotline"),
        )
    assert smtp.received == []


def test_dry_run_records_and_sends_nothing(mailroom, smtp):
    [report] = mailroom.online("abuse@host.test")
    tally = notify(mailroom.world.store, mailroom.settings(), dry_run=True)
    assert len(tally.planned) == 1
    assert tally.planned[0].startswith("notice NTD-") and "abuse@host.test" in tally.planned[0]
    assert smtp.received == [] and mailroom.world.show(report)["notices"] == []


def test_without_smtp_notices_are_files_only_we_can_read(mailroom, tmp_path):
    mailroom.online("abuse@host.test", 2)
    outbox = tmp_path / "outbox"
    notify(mailroom.world.store, mailroom.world.settings(outbox_dir=str(outbox), **IDENTITY))
    [eml] = list(outbox.iterdir())
    assert eml.name.endswith(".eml") and (eml.stat().st_mode & 0o777) == 0o600
    [notice] = mailroom.world.show(1)["notices"]
    written = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert written["Message-ID"] == notice["message_id"]
    # Where bounces are to go: the notice's own bounce address, as SMTP would send it.
    assert written["Return-Path"].startswith("<notices+ntd-1-")


def test_a_kill_between_send_and_mark_resends_with_the_same_message_id(
    mailroom, smtp, guarded_env, tmp_path
):
    [report] = mailroom.online("abuse@host.test")
    env = {
        **guarded_env,
        "NTD_DATABASE_URL": mailroom.world.database_url,
        "NTD_SMTP_URL": smtp.url,
        "NTD_MAIL_FROM": IDENTITY["mail_from"],
        "NTD_HOTLINE_NAME": IDENTITY["hotline_name"],
        "NTD_HOTLINE_COUNTRY": "NL",
        "NTD_SMTP_RETRY": "0s",
        "NTD_DNS_NAMESERVERS": mailroom.world.net.nameservers[0],
        "NTD_RDAP_URL": "http://127.0.0.1:9",
    }
    smtp.hold()
    ntd = Path(sys.executable).with_name("ntd")
    process = subprocess.Popen(
        [str(ntd), "notify"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while not smtp.received and time.monotonic() < deadline:
        time.sleep(0.02)
    assert smtp.received, "the notice never reached the server"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    smtp.release()
    assert mailroom.world.show(report)["notices"][0]["status"] == "pending"
    result = run_ntd("notify", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    first, second = smtp.received
    assert first.message_id == second.message_id
    [notice] = mailroom.world.show(report)["notices"]
    assert notice["status"] == "sent"
