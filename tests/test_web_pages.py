"""The dashboard's pages: queueing (pasted and uploaded), the reports list, one report with
its timeline and actions, statistics, administration and the audit log."""

from __future__ import annotations

import csv
import io
import re
import struct
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from store.models import Event, Report
from tests.test_web_support import Web, cheap_passwords, seed_history


@pytest.fixture
def web(database_url, monkeypatch):
    cheap_passwords(monkeypatch)
    web = Web(database_url, min_group="3")
    yield web
    web.close()


def rows_of(html: str, table: str) -> list[list[str]]:
    """The text of each body row of the table with this class."""
    body = html.split(f'<table class="{table}">', 1)[1].split("</table>", 1)[0]
    body = body.split("<tbody>", 1)[1]
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def test_pasted_urls_are_queued_and_bad_lines_named(web):
    browser = web.browser("analyst", "ann")
    pasted = "http://example.com/a\n\nftp://example.com/b\n  http://EXAMPLE.com/c#x  \nnot a url"
    answer = browser.post(
        "/queue", data={"urls": pasted, "ref": "C-9", "category": "B1", "csrf": browser.csrf}
    )
    assert answer.status_code == 200
    assert rows_of(answer.text, "accepted") == [
        ["1", "http://example.com/a", "queued", "new"],
        ["2", "http://example.com/c", "queued", "new"],
    ]
    assert rows_of(answer.text, "rejected") == [
        ["3", "ftp://example.com/b", "scheme &#39;ftp&#39; is not http or https"],
        ["5", "not a url", "not a valid URL"],
    ]
    # The rejected lines go back into the box, to be corrected.
    assert ">ftp://example.com/b\nnot a url</textarea>" in answer.text
    with web.store.session() as session:
        report = session.get(Report, 2)
        assert (report.created_by, report.ref, report.category) == ("ann", "C-9", "B1")


def test_nothing_pasted_or_nothing_accepted_is_400(web):
    browser = web.browser("analyst")
    assert browser.post("/queue", data={"urls": " \n", "csrf": browser.csrf}).status_code == 400
    answer = browser.post("/queue", data={"urls": "gopher://x/", "csrf": browser.csrf})
    assert answer.status_code == 400 and "scheme &#39;gopher&#39;" in answer.text


def test_a_csv_upload_queues_good_rows_and_names_bad_lines(web):
    browser = web.browser("analyst", "ann")
    data = (
        b"url,ref,category,sha256\n"
        b"http://example.com/1,C-1,A1,\n"
        b"ftp://example.com/2,C-2,,\n"
        b",C-3,,\n"
        b"http://example.com/4,C-4,Z9,\n"
        b"http://example.com/\xff5,C-5,,\n"
        b"http://example.com/6,C-6,,abc\n"
        b"http://example.com/7,C-7,B2,\n"
    )
    answer = browser.post(
        "/queue/upload",
        data={"csrf": browser.csrf},
        files={"file": ("reports.csv", data, "text/csv")},
    )
    assert answer.status_code == 200
    assert "2 accepted, 5 rejected from reports.csv" in answer.text
    assert [row[0] for row in rows_of(answer.text, "rejected")] == ["3", "4", "5", "6", "7"]
    reasons = [row[2] for row in rows_of(answer.text, "rejected")]
    assert reasons[0] == "scheme &#39;ftp&#39; is not http or https"
    assert reasons[1] == "no url"
    assert reasons[2].startswith("category &#39;Z9&#39; is not one of")
    assert reasons[3] == "not UTF-8 text"
    assert "SHA-256" in reasons[4] or "sha256" in reasons[4].lower()
    assert [row[1] for row in rows_of(answer.text, "accepted")] == [
        "http://example.com/1",
        "http://example.com/7",
    ]


def test_a_file_that_is_not_a_csv_of_reports_is_named_not_its_temporary_copy(web):
    browser = web.browser("analyst")
    answer = browser.post(
        "/queue/upload",
        data={"csrf": browser.csrf},
        files={"file": ("../../list.csv", b"address\nhttp://x/\n", "text/csv")},
    )
    assert answer.status_code == 400
    assert "list.csv: the header has no url column (found: address)" in answer.text
    assert "ntd-upload-" not in answer.text and "/tmp" not in answer.text


def test_the_reports_list_filters_and_pages(web):
    seed_history(web.store, count=8)
    web.queue(*(f"http://q.example/{n}" for n in range(60)), ref="BULK")
    browser = web.browser("analyst")
    first = browser.get("/reports")
    assert "1–50 of 68" in first.text and 'href="/reports?offset=50&amp;limit=50"' in first.text
    assert len(rows_of(first.text, "reports")) == 50
    second = browser.get("/reports?offset=50&limit=50")
    assert len(rows_of(second.text, "reports")) == 18 and 'rel="next"' not in second.text
    removed = browser.get("/reports?state=removed&provider=AS64500&country=nl")
    rows = rows_of(removed.text, "reports")
    assert rows and all(
        row[2] == "removed" and row[5] == "AS64500 Example Hosting" and row[6] == "NL"
        for row in rows
    )
    tagged = browser.get("/reports?ref=BULK&limit=10")
    assert "1–10 of 60" in tagged.text
    assert 'href="/reports?ref=BULK&amp;offset=10&amp;limit=10"' in tagged.text
    assert browser.get("/reports?state=nonsense").status_code == 400


def test_a_report_shows_hosting_with_sources_and_a_timeline(web):
    [report_id] = seed_history(web.store, count=1)
    browser = web.browser("analyst", "ann")
    browser.post(f"/reports/{report_id}/pause", data={"csrf": browser.csrf})
    page = browser.get(f"/reports/{report_id}")
    assert page.status_code == 200
    hosting = rows_of(page.text, "hosting")
    assert hosting[1] == ["64501", "cymru"]  # the ASN, and the look-up that gave it
    timeline = re.findall(r'<li class="moment (\w+)">', page.text)
    assert timeline == ["check", "notice", "event"]
    assert "paused by ann" in page.text and "notice #1" in page.text
    assert browser.get("/reports/999").status_code == 404


def test_the_actions_change_the_report_and_say_who_did_it(web):
    [report_id] = web.queue("http://example.com/a")
    browser = web.browser("analyst", "ann")

    def act(action: str, **form):
        return browser.post(f"/reports/{report_id}/{action}", data={"csrf": browser.csrf, **form})

    assert act("pause").headers["location"] == f"/reports/{report_id}?done=paused"
    assert "Notices are held." in browser.get(f"/reports/{report_id}?done=paused").text
    assert act("pause").headers["location"].endswith("done=unchanged")
    assert act("resume").status_code == 303
    assert act("recheck").headers["location"].endswith("done=recheck")
    assert act("close").status_code == 400  # a reason is needed
    assert act("close", reason="duplicate of 7").headers["location"].endswith("done=closed")
    assert act("recheck").status_code == 400  # a closed report is never checked
    assert act("explode").status_code == 404
    with web.store.session() as session:
        events = session.execute(
            select(Event.actor, Event.action, Event.detail)
            .where(Event.report_id == report_id)
            .order_by(Event.id)
        ).all()
        report = session.get(Report, report_id)
        assert (report.state, report.reason, report.next_due_at) == (
            "closed",
            "duplicate of 7",
            None,
        )
    assert events == [
        ("ann", "paused", None),
        ("ann", "resumed", None),
        ("ann", "recheck_requested", None),
        ("ann", "closed", "duplicate of 7"),
    ]


def test_statistics_draw_the_curve_the_providers_the_countries_and_the_months(web):
    seed_history(web.store, count=24)
    page = web.browser("manager").get("/stats")
    assert page.status_code == 200
    for chart in ("survival", "providers", "countries", "trend"):
        assert f'<svg id="{chart}" class="chart"' in page.text
    assert page.text.count('class="curve series') == 2
    assert "AS64500 Example Hosting" in page.text
    export = web.browser("manager").get("/stats.csv")
    assert export.headers["content-type"] == "text/csv; charset=utf-8"
    assert export.headers["content-disposition"].startswith('attachment; filename="ntd-stats-')
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert rows[0]["group"] == "overall" and rows[0]["total"] == "24"


def test_statistics_of_an_empty_store_say_so(web):
    page = web.browser("manager").get("/stats")
    assert page.status_code == 200 and "No notified reports yet." in page.text


def test_admins_add_users_whose_token_is_shown_once(web):
    admin = web.browser("admin", "root")
    answer = admin.post(
        "/admin/users",
        data={"name": "bea", "role": "manager", "password": "long enough pass", "csrf": admin.csrf},
    )
    token = re.search(r'<code id="token">(ntd_[^<]+)</code>', answer.text).group(1)
    assert web.client(Authorization=f"Bearer {token}").get("/api/stats").status_code == 200
    assert token not in admin.get("/admin/users").text
    short = admin.post(
        "/admin/users",
        data={"name": "cy", "role": "analyst", "password": "short", "csrf": admin.csrf},
    )
    assert short.status_code == 400 and "at least 12 characters" in short.text
    again = admin.post(
        "/admin/users",
        data={"name": "bea", "role": "analyst", "password": "long enough pass", "csrf": admin.csrf},
    )
    assert again.status_code == 400 and "already is a user" in again.text
    replaced = admin.post("/admin/users/bea/token", data={"csrf": admin.csrf})
    assert re.search(r'<code id="token">ntd_', replaced.text)
    assert web.client(Authorization=f"Bearer {token}").get("/api/stats").status_code == 401
    itself = admin.post("/admin/users/root/disable", data={"csrf": admin.csrf})
    assert itself.status_code == 400 and "cannot disable yourself" in itself.text
    assert admin.post("/admin/users/nobody/disable", data={"csrf": admin.csrf}).status_code == 404


def test_admins_set_and_remove_contacts(web):
    admin = web.browser("admin")
    answer = admin.post(
        "/admin/contacts",
        data={"key": "AS64500", "email": "abuse@host.example", "csrf": admin.csrf},
    )
    assert answer.status_code == 303
    assert rows_of(admin.get("/admin/contacts").text, "contacts")[0][:3] == [
        "asn",
        "64500",
        "abuse@host.example",
    ]
    bad = admin.post(
        "/admin/contacts", data={"key": "nonsense", "email": "x@y.example", "csrf": admin.csrf}
    )
    assert bad.status_code == 400 and "is not a network" in bad.text
    assert (
        admin.post("/admin/contacts/remove", data={"key": "64500", "csrf": admin.csrf}).status_code
        == 303
    )
    assert "No contacts of our own yet." in admin.get("/admin/contacts").text


def test_the_audit_log_says_who_did_what(web):
    admin, analyst = web.browser("admin", "root"), web.browser("analyst", "ann")
    analyst.post("/queue", data={"urls": "http://example.com/a", "csrf": analyst.csrf})
    analyst.post("/reports/1/close", data={"reason": "mistake", "csrf": analyst.csrf})
    admin.post(
        "/admin/contacts",
        data={"key": "example.net", "email": "abuse@example.net", "csrf": admin.csrf},
    )
    entries = rows_of(admin.get("/admin/audit").text, "audit")
    assert [(e[1], e[2], e[3], e[5]) for e in entries[:3]] == [
        ("root", "contact set", "", "domain example.net: abuse@example.net"),
        ("ann", "closed", "1", "mistake"),
        ("ann", "queued", "", "1 reports: 1"),
    ]
    assert ("setup", "user added") in {(e[1], e[2]) for e in entries}
    mine = rows_of(admin.get("/admin/audit?actor=ann").text, "audit")
    assert [e[2] for e in mine] == ["closed", "queued", "logged in"]


def test_each_chart_is_a_file_with_the_pages_choices(web):
    seed_history(web.store, count=24)
    manager = web.browser("manager")
    svg = manager.get("/stats/survival.svg?scale=log&refs=off")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.headers["content-disposition"].startswith('attachment; filename="ntd-survival-')
    root = ElementTree.fromstring(svg.content)  # a well-formed document on its own
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox").startswith(
        "0 0 720 "
    )
    assert "log scale" in svg.text and "INHOPE" not in svg.text
    assert "INHOPE: 74% removed within 3 d" in manager.get("/stats/survival.svg").text
    png = manager.get("/stats/trend.png")
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png.content[16:24])
    assert width == 1440 and height > 300  # drawn at twice the view box, for a slide
    assert manager.get("/stats/pie.svg").status_code == 404


def test_a_wrong_chart_choice_is_refused_naming_the_choices(web):
    page = web.browser("manager").get("/stats?scale=cubic")
    assert (
        page.status_code == 400
        and "scale must be one of linear, log, not &#39;cubic&#39;" in page.text
    )
    assert web.browser("analyst").get("/stats/survival.svg").status_code == 403


def test_a_dash_on_the_statistics_page_says_why(web):
    seed_history(web.store, count=2)  # one notified report at each of two providers
    page = web.browser("manager").get("/stats").text
    assert "fewer than 3 notified reports: too few to estimate" in page
    assert (
        '<abbr title="fewer than 3 notified reports: too few to estimate">—</abbr><sup>†</sup>'
        in page
    )
