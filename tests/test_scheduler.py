"""`ntd run`: the loop unattended, a clean stop on SIGTERM, and one leader among several."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from simnet.cymru import announce
from simnet.rdap import contact
from simnet.smtp import SmtpServer
from tests.imapserver import ImapServer, missing

NTD = Path(sys.executable).with_name("ntd")


class Scheduler:
    """An `ntd run` process whose log lines are collected as they come."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [str(NTD), "run"],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append((time.monotonic(), line.rstrip()))

    def wait_for(self, text: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, line in list(self.lines):
                if text in line:
                    return at
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        return None

    def log(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def schedulers():
    started: list[Scheduler] = []
    yield started
    for scheduler in started:
        scheduler.stop()


def environment(world, guarded_env, smtp_url: str, **extra) -> dict[str, str]:
    return {
        **{k: v for k, v in guarded_env.items() if not k.startswith("NTD_")},
        **world.environ(smtp_url=smtp_url),
        "NTD_MAIL_FROM": "notices@hotline.test",
        "NTD_HOTLINE_NAME": "Test Hotline",
        "NTD_HOTLINE_COUNTRY": "NL",
        "NTD_CHECK_EVERY": "1s",
        "NTD_NOTIFY_EVERY": "1s",
        "NTD_LEADER_TIMEOUT": "3s",
        "NTD_RECHECK_INTERVAL": "1h",
        **extra,
    }


def hosted_site(world, name: str = "shop.test"):
    site = world.net.site(name, "127.10.1.1")
    announce(world.net.dns, site.address, 64500, "127.10.1.0/24")
    world.rdap.network(
        "127.10.1.0/24", entities=[contact("AB1", ["abuse"], email="abuse@host.test")]
    )
    return site


def test_the_loop_runs_unattended_and_stops_cleanly(world, guarded_env, tmp_path, schedulers):
    site = hosted_site(world)
    for i in range(3):
        site.page(f"/{i}.jpg")
    with SmtpServer() as smtp:
        scheduler = Scheduler(environment(world, guarded_env, smtp.url), tmp_path)
        schedulers.append(scheduler)
        assert scheduler.wait_for("leading", 20), scheduler.log()
        world.add(*(site.url(f"/{i}.jpg") for i in range(3)))
        deadline = time.monotonic() + 30
        while not smtp.received and time.monotonic() < deadline:
            time.sleep(0.1)
        assert smtp.received, scheduler.log()
        [notice] = smtp.received
        assert len(list(notice.message.iter_attachments())) == 3
        scheduler.process.send_signal(signal.SIGTERM)
        assert scheduler.process.wait(timeout=30) == 0, scheduler.log()
        assert "finishing the work in hand" in scheduler.log()


@pytest.mark.parametrize("kill", ["SIGKILL"])
def test_a_standby_takes_over_when_the_leader_dies(world, guarded_env, tmp_path, schedulers, kill):
    with SmtpServer() as smtp:
        env = environment(world, guarded_env, smtp.url)
        first = Scheduler(env, tmp_path)
        schedulers.append(first)
        assert first.wait_for("leading", 20), first.log()
        second = Scheduler(env, tmp_path)
        schedulers.append(second)
        assert second.wait_for("standing by", 20), second.log()
        time.sleep(2)  # several leadership looks: the standby must not lead meanwhile
        assert "leading" not in second.log()
        os.kill(first.process.pid, getattr(signal, kill))
        killed_at = time.monotonic()
        took_over = second.wait_for("leading", 15)
        assert took_over is not None, second.log()
        assert took_over - killed_at < 3 + 1.5  # LEADER_TIMEOUT, and a little slack


@pytest.mark.skipif(missing(), reason="Debian's dovecot-imapd is not installed")
def test_a_bounce_fetched_by_imap_sends_the_fallback_unattended(
    world, guarded_env, tmp_path, schedulers
):
    site = world.net.site("shop.test", "127.10.1.1")
    announce(world.net.dns, site.address, 64500, "127.10.1.0/24")
    world.rdap.network(
        "127.10.1.0/24",
        entities=[
            contact("ORG1", ["registrant"], email="noc@host.test", name="Host"),
            contact("AB1", ["abuse"], email="abuse@host.test"),
        ],
    )
    site.page("/1.jpg")
    with SmtpServer() as smtp, ImapServer() as imap:
        smtp.bounce_later("abuse@host.test")
        env = environment(
            world, guarded_env, smtp.url, NTD_IMAP_URL=imap.url(), NTD_IMAP_EVERY="1s"
        )
        scheduler = Scheduler(env, tmp_path)
        schedulers.append(scheduler)
        assert scheduler.wait_for("leading", 20), scheduler.log()
        world.add(site.url("/1.jpg"))
        deadline = time.monotonic() + 30
        while not smtp.bounces and time.monotonic() < deadline:
            time.sleep(0.1)
        [bounce] = smtp.bounces
        imap.deliver(f"Delivered-To: {bounce.to}\r\n".encode() + bounce.raw)
        while not smtp.to("noc@host.test") and time.monotonic() < deadline + 30:
            time.sleep(0.1)
        assert smtp.to("noc@host.test"), scheduler.log()
        assert "mail: 1 stored" in scheduler.log()
        with imap.client() as client:
            client.select_folder("INBOX")
            assert client.search(["UNSEEN"]) == []


def _until(condition, timeout: float) -> bool:
    """Look every 50 ms until ``condition()`` holds or ``timeout`` seconds pass; whether
    it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _hourly(world, guarded_env, smtp_url: str, **extra) -> dict[str, str]:
    """CHECK_EVERY and NOTIFY_EVERY an hour: only a wake-up can make a check or a first
    notice come in seconds."""
    return environment(
        world,
        guarded_env,
        smtp_url,
        NTD_CHECK_EVERY="1h",
        NTD_NOTIFY_EVERY="1h",
        NTD_FIRST_NOTICE_WINDOW="1s",
        **extra,
    )


def _notified(smtp, url: str) -> bool:
    """Whether a notice's machine-readable part names ``url``."""
    return any(
        json.loads(part.get_content()).get("url") == url
        for received in smtp.received
        for part in received.message.iter_attachments()
        if part.get_content_type() == "application/json"
    )


def _queued_and_notified(world, smtp, scheduler, url: str) -> float:
    """Queue ``url`` now; seconds until its first notice arrived (it must, within 20)."""
    added = time.monotonic()
    [report] = world.add(url)
    assert _until(lambda: _notified(smtp, url), 20), scheduler.log()
    took = time.monotonic() - added
    assert world.state(report) == "online"
    return took


def test_a_report_added_while_it_runs_is_checked_and_notified_in_seconds(
    world, guarded_env, tmp_path, schedulers
):
    """CHECK_EVERY and NOTIFY_EVERY an hour: only the wake-up can make it this fast."""
    site = hosted_site(world)
    site.page("/new.jpg")
    with SmtpServer() as smtp:
        scheduler = Scheduler(_hourly(world, guarded_env, smtp.url), tmp_path)
        schedulers.append(scheduler)
        assert scheduler.wait_for("leading", 20), scheduler.log()
        assert scheduler.wait_for("notify: 0 planned", 20), scheduler.log()  # first passes done
        took = _queued_and_notified(world, smtp, scheduler, site.url("/new.jpg"))
        assert took < 15, took  # seconds, not the hour of CHECK_EVERY (bench/first_notice.py)


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_on_postgresql_the_notify_alone_wakes_it(world, guarded_env, tmp_path, schedulers):
    """WAKE_EVERY an hour too: no look between passes comes in time, only the LISTEN."""
    site = hosted_site(world)
    site.page("/told.jpg")
    with SmtpServer() as smtp:
        env = _hourly(world, guarded_env, smtp.url, NTD_WAKE_EVERY="1h")
        scheduler = Scheduler(env, tmp_path)
        schedulers.append(scheduler)
        assert scheduler.wait_for("leading", 20), scheduler.log()
        assert scheduler.wait_for("notify: 0 planned", 20), scheduler.log()  # first passes done
        time.sleep(1)  # the watcher's first look is over: it now waits an hour, or a NOTIFY
        assert _queued_and_notified(world, smtp, scheduler, site.url("/told.jpg")) < 15


def test_work_queued_while_a_pass_runs_is_checked_as_it_ends(
    world, guarded_env, tmp_path, schedulers
):
    """Every interval and WAKE_EVERY an hour: the wake-up that comes during a pass (a
    NOTIFY on PostgreSQL, none on SQLite) must not be lost to the pass being busy."""
    site = hosted_site(world)
    site.page("/slow.jpg", delay=3.0)  # keeps the first pass running
    site.page("/new.jpg")
    world.add(site.url("/slow.jpg"))
    with SmtpServer() as smtp:
        env = _hourly(world, guarded_env, smtp.url, NTD_WAKE_EVERY="1h")
        scheduler = Scheduler(env, tmp_path)
        schedulers.append(scheduler)
        # The first pass is fetching /slow.jpg.
        assert _until(lambda: site.requests, 20), scheduler.log()
        assert _queued_and_notified(world, smtp, scheduler, site.url("/new.jpg")) < 15


def test_a_police_clearance_sends_the_first_notice_in_seconds(
    world, guarded_env, tmp_path, schedulers
):
    """Its hosting was resolved while it was held, so no look-up brings the notice
    forward: the clearance and the check after it must (NOTIFY_EVERY is an hour)."""
    from store import police
    from store.models import Report
    from store.types import utcnow

    site = hosted_site(world)
    site.page("/held.jpg")
    [report] = world.add(site.url("/held.jpg"))
    with world.store.session() as session:
        assert police.hold(session, session.get(Report, report), actor="ann", now=utcnow())
    with SmtpServer() as smtp:
        scheduler = Scheduler(_hourly(world, guarded_env, smtp.url), tmp_path)
        schedulers.append(scheduler)
        checked = scheduler.wait_for("1 hostings resolved", 20)
        assert checked, scheduler.log()
        # The notify pass that the hosting brought forward: held, it sends nothing.
        _until(
            lambda: any(
                at > checked and "notify: 0 planned" in line for at, line in list(scheduler.lines)
            ),
            20,
        )
        assert not smtp.received, scheduler.log()
        cleared = time.monotonic()
        with world.store.session() as session:
            assert police.clear(session, session.get(Report, report), actor="ann", now=utcnow())
        assert _until(lambda: smtp.received, 20), scheduler.log()
        assert time.monotonic() - cleared < 15, scheduler.log()


def test_reports_the_outage_guard_keeps_queued_do_not_start_pass_after_pass(
    world, guarded_env, tmp_path, schedulers
):
    """They are due again at once, but nobody asked: they wait for CHECK_EVERY."""
    world.add(*(f"http://gone{n}.test/x.jpg" for n in range(12)))  # every one nxdomain
    with SmtpServer() as smtp:
        env = environment(
            world,
            guarded_env,
            smtp.url,
            NTD_CHECK_EVERY="1h",
            NTD_OUTAGE_MIN_CHECKS="10",
            NTD_OUTAGE_SHARE="0.5",
        )
        scheduler = Scheduler(env, tmp_path)
        schedulers.append(scheduler)
        assert scheduler.wait_for("check: 12 checked, 0 state changes", 20), scheduler.log()
        time.sleep(4)  # four looks of WAKE_EVERY
        passes = [line for _, line in scheduler.lines if "check: " in line]
        assert len(passes) == 1, scheduler.log()


def test_a_crash_between_the_wake_up_and_the_check_loses_nothing(
    world, guarded_env, tmp_path, schedulers
):
    """Woken for a new report, it dies while fetching it, its lease held: the next one,
    with no wake-ups at all (WAKE_EVERY 0s), finds it at an interval pass once the lease
    has run out, and notifies."""
    site = hosted_site(world)
    site.page("/late.jpg", delay=4.0)
    with SmtpServer() as smtp:
        base = environment(world, guarded_env, smtp.url, NTD_LEASE_TTL="3s")
        first = Scheduler({**base, "NTD_CHECK_EVERY": "1h"}, tmp_path)
        schedulers.append(first)
        assert first.wait_for("check: 0 checked", 20), first.log()  # its start-up pass
        [report] = world.add(site.url("/late.jpg"))
        assert _until(lambda: site.requests, 20), first.log()  # woken: the check is under way
        first.process.kill()
        first.process.wait(timeout=10)
        assert world.show(report)["check_count"] == 0
        second = Scheduler({**base, "NTD_CHECK_EVERY": "2s", "NTD_WAKE_EVERY": "0s"}, tmp_path)
        schedulers.append(second)
        assert _until(lambda: smtp.received, 40), second.log()
        assert world.state(report) == "online"
        assert len(site.requests) >= 2  # fetched again by the second


def test_work_queued_as_it_dies_is_found_by_the_next_scheduler(
    world, guarded_env, tmp_path, schedulers
):
    site = hosted_site(world)
    site.page("/late.jpg")
    with SmtpServer() as smtp:
        env = environment(world, guarded_env, smtp.url, NTD_CHECK_EVERY="1h")
        first = Scheduler(env, tmp_path)
        schedulers.append(first)
        assert first.wait_for("leading", 20), first.log()
        first.process.kill()  # before it could look for new work
        first.process.wait(timeout=10)
        [report] = world.add(site.url("/late.jpg"))
        second = Scheduler(env, tmp_path)
        schedulers.append(second)
        deadline = time.monotonic() + 40
        while not smtp.received and time.monotonic() < deadline:
            time.sleep(0.1)
        assert smtp.received, second.log()
        assert world.state(report) == "online"
