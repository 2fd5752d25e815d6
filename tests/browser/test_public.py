"""A public report in Chromium, from the form to a notice: bad fields named, a reference
given, the analyst's queue, the assessment, and a police hold that keeps the notice back
until an analyst records the clearance."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from notifier.passes import notify
from store.models import Hosting, Notice, Report, Submission
from store.types import utcnow
from tests.browser.conftest import screenshot
from tests.browser.test_dashboard import sign_in
from tests.conftest import make_settings
from tests.mailroom import IDENTITY

pytestmark = pytest.mark.browser


def test_from_the_public_form_to_a_notice_past_a_police_hold(page, served, tmp_path):
    web, server = served
    page.goto(f"{server.url}/report")
    assert page.locator("header nav").count() == 0  # nobody is signed in, nothing to see
    page.fill("textarea[name=urls]", "http://forum.example/t/1.jpg\nnot an address")
    page.fill("input[name=email]", "not an email")
    page.click("text=Send report")
    assert page.locator("#urls-error").inner_text() == "line 2: not a valid URL"
    assert page.locator("#seen-error").inner_text() == "choose what you saw, or 'not sure'"
    assert "not an email address" in page.locator("#email-error").inner_text()
    assert "http://forum.example/t/1.jpg" in page.locator("textarea[name=urls]").input_value()
    screenshot(page, "public-report-errors")
    with web.store.session() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 0

    page.fill("textarea[name=urls]", "http://forum.example/t/1.jpg")
    page.check("input[value=A2]")
    page.fill("textarea[name=text]", "posted in a thread <b>today</b>")
    page.fill("input[name=email]", "")
    page.click("text=Send report")
    reference = page.locator("#reference").inner_text()
    assert reference.startswith("S-") and len(reference) == 10
    screenshot(page, "public-report-sent")

    web.user("ann", "analyst")
    sign_in(page, server, "ann")
    page.click("nav >> text=Assess")
    entry = page.locator("section.submission")
    assert entry.count() == 1 and reference in entry.inner_text()
    assert entry.locator("dd.url").inner_text() == "http://forum.example/t/1.jpg"
    assert entry.locator("a").count() == 0  # the URL is text, never a link
    assert entry.locator(".reporter-text").inner_text() == "posted in a thread <b>today</b>"
    entry.locator("select[name=verdict]").select_option("national")
    entry.locator("input[name=police]").check()
    screenshot(page, "assess-queue")
    entry.locator("text=Assess").click()
    assert "its notices held for the police" in page.locator("p.done").inner_text()
    assert page.locator("section.submission").count() == 0
    page.click("p.done >> a")
    assert page.locator("#police-flag").inner_text() == "held for the police"
    report_id = int(page.url.rsplit("/", 1)[1])

    settings = make_settings(
        database_url=web.settings.database_url, outbox_dir=str(tmp_path / "outbox"), **IDENTITY
    )
    _online_with_a_contact(web.store, report_id)
    notify(web.store, settings)
    assert _notices(web.store, report_id) == 0  # held

    page.fill("input[name=reason]", "cleared by the vice squad")
    page.click("text=Police cleared")
    assert "Cleared by the police" in page.locator("p.done").inner_text()
    assert "cleared" in page.locator("#police-hold").inner_text()
    assert "police cleared by ann" in page.locator("ol.timeline").inner_text()
    assert f"public report {reference}" in page.locator("ol.timeline").inner_text()
    notify(web.store, settings)
    assert _notices(web.store, report_id) == 0  # not before a check confirms it is still up
    with web.store.session() as session:  # as the check the clearance asked for leaves it
        session.get(Report, report_id).last_checked_at = utcnow()
    notify(web.store, settings)
    assert _notices(web.store, report_id) == 1
    screenshot(page, "report-police-cleared")


def _online_with_a_contact(store, report_id: int) -> None:
    """As a check and the hosting look-up would leave it (both have tests of their own)."""
    with store.session() as session:
        report = session.get(Report, report_id)
        report.state, report.seen_online, report.first_online_at = "online", True, utcnow()
        session.add(
            Hosting(
                report_id=report_id,
                ip="192.0.2.7",
                asn=64500,
                org="Example Hosting",
                network="192.0.2.0/24",
                country="NL",
                abuse_email="abuse@example.net",
                sources={"abuse_email": "test"},
                resolved_at=utcnow(),
            )
        )


def _notices(store, report_id: int) -> int:
    from store.models import NoticeReport

    with store.session() as session:
        return session.scalar(
            select(func.count())
            .select_from(Notice)
            .join(NoticeReport, NoticeReport.notice_id == Notice.id)
            .where(NoticeReport.report_id == report_id, Notice.sent_at.isnot(None))
        )
