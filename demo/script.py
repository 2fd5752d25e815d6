"""The demo, step by step, on one asyncio reactor (as `ntd run` has)."""

from __future__ import annotations

import asyncio
import email
import re
import shutil
import time
from email.message import EmailMessage
from email.policy import default
from email.utils import make_msgid
from pathlib import Path

from rich.console import Console

import settings as settings_module
from crawler.passes import run_pass
from demo.world import PROVIDERS, build
from hosting.resolve import resolve_hosting
from inbound.ingest import Delivery, ingest
from intake import public
from intake.submissions import Submission, validate
from notifier.passes import notify
from simnet import Internet, image_body
from simnet.smtp import delivery_status_notification
from stats.query import figures
from store import police, provider, reports, submissions
from store.db import open_store_for
from store.models import Hosting, InboundMessage, Report
from store.types import utcnow

VAR = Path("var")
DATABASE = VAR / "demo.sqlite3"
OUTBOX = VAR / "demo-outbox"


def demo_settings(net: Internet, rdap_url: str) -> settings_module.Settings:
    return settings_module.load(
        {},
        database_url=f"sqlite:///{DATABASE}",
        outbox_dir=str(OUTBOX),
        dns_nameservers=net.nameservers[0],
        rdap_url=rdap_url,
        allowed_private_networks="127.10.0.0/16",
        outage_probe_name="files1.example.test",
        mail_from="notices@demo-hotline.test",
        hotline_name="Demo Hotline",
        hotline_country="NL",
        public_url="http://127.0.0.1:8000",
        recheck_interval="0s",
        reminder_interval="3s",
        reappearance_interval="0s",
        min_group="1",
        dns_timeout="2s",
        fetch_timeout="5s",
    )


async def run(out: Console) -> None:
    started = time.monotonic()
    for path in (DATABASE, Path(f"{DATABASE}-wal"), Path(f"{DATABASE}-shm")):
        path.unlink(missing_ok=True)
    shutil.rmtree(OUTBOX, ignore_errors=True)
    with Internet() as net:
        rdap = net.start_rdap()
        urls = build(net, rdap)
        settings = demo_settings(net, rdap.url)
        store = open_store_for(settings)
        out.rule("1. Reports come in")
        out.print(
            f"A simulated internet is running on this machine: {len(PROVIDERS)} hosting "
            "providers, their DNS, their registry (RDAP) records."
        )
        with store.session() as session:
            queued = reports.queue(
                session,
                [validate(Submission(url, ref="DEMO-2026-001")) for url in urls],
                actor="analyst",
                now=utcnow(),
                default_category="A1",
            )
        out.print(f"An analyst queues {len(queued)} reported URLs under case DEMO-2026-001.")
        public = _public_report(out, net, store, settings, urls[0])

        out.rule("2. Every URL is checked, and no content is kept")
        tally = await run_pass(settings)
        out.print(
            f"The crawler fetched each URL once: {_outcomes(tally.outcomes)}. Bodies were "
            "hashed as they arrived and dropped; only status, hash and address are stored."
        )
        _states(out, store)

        out.rule("3. Who hosts it, and whom to tell")
        resolved = await resolve_hosting(store, settings)
        out.print(
            f"Hosting found for {resolved.resolved} reports with "
            f"{resolved.rdap_requests} registry look-ups: one per network, not per URL."
        )
        with store.session() as session:
            for row in session.query(Hosting).order_by(Hosting.report_id).limit(9):
                if row.report_id % 3 == 1:
                    out.print(
                        f"  report {row.report_id}: {row.org} (AS{row.asn}, {row.network},"
                        f" {row.country}) -> {row.abuse_email}"
                    )

        out.rule("4. Notices go out")
        sent = await asyncio.to_thread(notify, store, settings)
        out.print(
            f"{len(sent.sent.sent)} emails, one per abuse desk, each listing its URLs with "
            f"a machine-readable X-ARF part per URL, written to {OUTBOX}/ "
            "(set SMTP_URL to send them)."
        )
        for line in sent.planned:
            out.print(f"  {line}")
        out.print(
            f"  report {public}, from the public report, is held for the police: no notice. "
            f"Its reporter was told it was assessed ({sent.feedback} message, no URL in it)."
        )

        out.rule("5. The police clear the held report")
        with store.session() as session:
            police.clear(session, session.get(Report, public), actor="ann", now=utcnow())
        await run_pass(settings)  # the clearance made it due: is it still up?
        sent = await asyncio.to_thread(notify, store, settings)
        out.print(
            f"Analyst ann records the clearance; a check finds report {public} still online, "
            "and its notice goes at once:"
        )
        for line in sent.planned:
            out.print(f"  {line}")

        out.rule("6. The providers answer")
        await asyncio.to_thread(_answers, out, store, settings)
        sent = await asyncio.to_thread(notify, store, settings)
        for line in sent.planned:
            out.print(f"  {line}")

        out.rule("7. Some content comes down")
        first_site = net.web.site("files1.example.test")
        for photo in (1, 2, 3):
            first_site.take_down(f"/album/{photo}.jpg", status=410)
        for photo in (1, 2):
            net.web.site("files2.example.test").take_down(f"/album/{photo}.jpg", status=404)
        await asyncio.sleep(1)
        tally = await run_pass(settings)
        out.print(
            f"Re-checked: {_outcomes(tally.outcomes)}. Removals are recorded with their "
            "time; content still up stays tracked."
        )
        _states(out, store)
        with store.session() as session:
            claimed = session.get(Report, 4)
            out.print(
                f"  report 4, which Nimbus Cloud said was removed: {claimed.state}, as the "
                "check found it."
            )

        out.rule("8. Reminders for what is still up")
        await asyncio.sleep(3)
        await run_pass(settings)
        sent = await asyncio.to_thread(notify, store, settings)
        for line in sent.planned:
            out.print(f"  {line}")
        out.print("Providers whose content came down get no reminder.")

        out.rule("9. Time to removal")
        result = figures(store, settings.min_group)
        median = result["median_time_to_removal_s"]
        out.print(
            f"{result['total']} reports, {result['removed']} removed, {result['online']} "
            f"still online. Median time to removal after notice: "
            f"{'not yet known' if median is None else f'{median:.0f} s'} "
            "(Kaplan–Meier: content still online counts, it is not left out)."
        )
        for entry in result["by_provider"]:
            if not entry["notified"]:
                continue
            within = entry["removed_within"]["24h"]
            out.print(
                f"  {entry['org']}: {entry['removed']} of {entry['notified']} removed"
                + ("" if within is None else f", {within:.0%} within 24 h")
            )
        out.print(
            f"Notices bounced: {result['notices_bounced']}; answered: "
            f"{result['notices_answered']} (a reply, or an answer on the provider page)."
        )
        side = result["submissions"]
        to_notice = side["median_time_from_assessment_to_first_notice_s"]
        out.print(
            f"Public reports: {side['received']} URLs, {side['already_tracked']} already "
            f"tracked, {side['actionable']} assessed illegal; median from assessment to first "
            f"notice {to_notice:.0f} s (the police hold included)."
        )
        store.close()
    out.rule("Explore")
    out.print(f"The demo took {time.monotonic() - started:.0f} s. Its data stays in {DATABASE}:")
    out.print(f"  export NTD_DATABASE_URL=sqlite:///{DATABASE}")
    out.print("  ntd show 1        ntd show 4 --json        ntd stats --by provider")
    out.print(f"  ls {OUTBOX}/      (the notices, as .eml files)")


def _public_report(out: Console, net, store, settings, known_url: str) -> int:
    """A member of the public reports two URLs, one of them already tracked; an analyst
    assesses the other and asks for police first. Returns the report it became."""
    site = net.web.site("files3.example.test")
    site.page("/forum/7.jpg", body=image_body(9001), content_type="image/jpeg")
    form = public.check(
        [site.url("/forum/7.jpg"), known_url],
        "not-sure",
        "Found it on a forum.",
        "reporter@public.test",
    )
    with store.session() as session:
        received = submissions.receive(session, form, client="demo", per_hour=10, now=utcnow())
    out.print(
        f"A member of the public reports 2 URLs on the /report page, with an email for feedback; "
        f"they are told the reference {received.reference}, nothing else. One URL is already "
        "tracked: it counts as another sighting and is not assessed again."
    )
    with store.session() as session:
        done = submissions.assess(
            session, received.ids[0], "baseline", analyst="ann", police_first=True, now=utcnow()
        )
    out.print(
        f"Analyst ann assesses the other as baseline, police first: it becomes report "
        f"{done.report_id}, queued for checks, its notices held until the police clear it."
    )
    return done.report_id


def _answers(out: Console, store, settings) -> None:
    """What comes back: a relay's late bounce, a provider's reply, a provider-page click;
    each handed over as the mail server's pipe (`ntd mail ingest`) or the page would."""
    notices = {}
    for path in sorted(OUTBOX.glob("notice-*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=default)
        notices[message["To"]] = (path.read_bytes(), message)

    raw, message = notices["abuse@quickserve.test"]
    bounce = delivery_status_notification(
        raw, message["Return-Path"].strip("<>"), "abuse@quickserve.test"
    )
    stored = ingest(
        store,
        settings,
        Delivery.of(
            bounce,
            "pipe",
            settings.inbound_max_bytes,
            sender="",
            recipients=(message["Return-Path"].strip("<>"),),
        ),
    )
    out.print(
        "The relay had accepted Quickserve's notice; then its bounce comes back to "
        f"{message['Return-Path']}, the notice's own address (VERP). ntd matches it by that "
        f"token, not by anything a sender could forge: {stored.outcome}."
    )

    raw, message = notices["abuse@example-hosting.test"]
    answer = EmailMessage()
    answer["From"] = "Example Hosting Abuse <abuse@example-hosting.test>"
    answer["To"] = message["Reply-To"]
    answer["Subject"] = f"Re: {message['Subject']} [Ticket#EH-20417]"
    answer["In-Reply-To"] = answer["References"] = message["Message-ID"]
    answer["Message-ID"] = make_msgid(domain="example-hosting.test")
    answer.set_content("Thank you for your report. We are looking into it.\n-- Abuse desk")
    stored = ingest(store, settings, Delivery.of(answer.as_bytes(), "pipe", 10**6))
    with store.session() as session:
        ticket = session.get(InboundMessage, stored.id).ticket
    out.print(
        f"Example Hosting replies, quoting its own ticket {ticket}: matched by the Message-ID "
        "it answers, it goes on the reports' timelines and into the dashboard's inbox."
    )

    raw, message = notices["abuse@nimbus-cloud.test"]
    text = message.get_body(("plain",)).get_content()
    token = re.search(r"/p/([A-Za-z0-9_-]+)", text).group(1)
    with store.session() as session:
        page = provider.page(session, token, utcnow())
        first = page.reports[0]
        provider.answer(
            session,
            token,
            first.id,
            "removed",
            None,
            per_hour=settings.provider_answers_per_hour,
            now=utcnow(),
        )
    out.print(
        f"Nimbus Cloud opens the link in its notice (/p/…, no login, its {len(page.reports)} "
        f'reports only) and clicks "Removed" for report {first.id}: it is due for a check '
        "at once. Only a check can mark it removed; the click is recorded as a claim."
    )


def _outcomes(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))


def _states(out: Console, store) -> None:
    with store.session() as session:
        counts = {}
        for (state,) in session.query(Report.state):
            counts[state] = counts.get(state, 0) + 1
        rejected = session.query(Report).filter(Report.state == "rejected").first()
    out.print("States now: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if rejected is not None:
        out.print(f"  report {rejected.id} was refused: {rejected.reason}")
