"""The notice email: headers, one X-ARF part per report, wording per kind, no content."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest

from notifier.drafts import Draft, Hotline
from notifier.message import build_message, describe
from tests.test_notifier_xarf import HOTLINE, LAST, make_draft, make_report, xarf_errors

EARLIER = datetime(2025, 2, 27, 8, 0, tzinfo=UTC)


def three_reports():
    return (
        make_report("domain", report_id=1),
        make_report("ipv4", "B2", (), report_id=2, ref=None),
        make_report("idn", "baseline", report_id=3, last_seen_online=LAST - timedelta(hours=1)),
    )


def parsed(hotline: Hotline, draft: Draft, **options):
    """The built message, after checking it serialises within RFC 5322's line limit."""
    message = build_message(hotline, draft, **options)
    assert all(len(line) <= 998 for line in message.as_bytes().splitlines())
    return message


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_headers():
    message = parsed(HOTLINE, make_draft(*three_reports()))
    assert message["Message-ID"] == "<ntd-12.abcdefghijklmnop@hotline.example>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Reply-To"] == "ntd@hotline.example.org"
    assert message["From"] == "Example Hotline <notices@hotline.example.org>"
    assert message["To"] == "abuse@hosting.example"
    assert parsedate_to_datetime(message["Date"]) == LAST
    assert message["Subject"] == (
        "[NTD-12] Notice of child sexual abuse material hosted on your network (3 URLs)"
    )


def test_survives_the_wire():
    long_url = "https://www.example.com/" + "a" * 3000
    reports = (*three_reports(), make_report(report_id=4, url=long_url, canonical_url=long_url))
    raw = build_message(HOTLINE, make_draft(*reports, kind="escalation")).as_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    # The stdlib may fold a subject whole onto a continuation line; parsed back by the
    # stdlib it then keeps one leading space, which mail readers drop.
    assert message["Subject"].strip().startswith("[NTD-12] Escalation: ")
    assert message["Message-ID"] == "<ntd-12.abcdefghijklmnop@hotline.example>"
    assert long_url in text_of(message)
    documents = [json.loads(p.get_content()) for p in list(message.iter_parts())[1:]]
    assert [d["url"] for d in documents][-1] == long_url


def test_reply_to_falls_back_to_mail_from():
    hotline = Hotline(name="H", mail_from="n@h.example", country=None, legal_basis="Law 1.")
    message = parsed(hotline, make_draft())
    assert message["Reply-To"] == "n@h.example"
    assert message["Subject"].endswith("(1 URL)")


def test_one_valid_xarf_part_per_report_and_no_content():
    reports = three_reports()
    message = parsed(HOTLINE, make_draft(*reports))
    assert message.get_content_type() == "multipart/mixed"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain"] + ["application/json"] * 3
    for part, report in zip(parts[1:], reports, strict=True):
        assert part.get_filename() == f"xarf-{report.report_id}.json"
        document = json.loads(part.get_content())
        assert document["url"] == report.canonical_url
        assert xarf_errors(document) == []
    for part in message.walk():
        assert part.get_content_maintype() not in ("image", "video", "audio")
        assert "Content-ID" not in part


def test_text_lists_every_url_with_last_seen_and_the_legal_basis():
    reports = three_reports()
    text = text_of(parsed(HOTLINE, make_draft(*reports)))
    for report in reports:
        assert report.canonical_url in text
        assert f"xarf-{report.report_id}.json" in text
    assert "last seen online: 2025-03-02T18:05:00Z" in text
    assert "last seen online: 2025-03-02T17:05:00Z" in text
    assert "as reported: https://bücher.example/a" in text
    assert "Article 240b of the Criminal Code." in text
    assert "NTD-12" in text and "CASE-2025-7" in text
    assert "a" * 64 in text  # the assessed fingerprint, to find the file by
    assert "seen again after removal" not in text


def test_reappearance_and_cdn_notes():
    report = make_report(reappeared=True)
    message = parsed(HOTLINE, make_draft(report, cdn="Example CDN"))
    text = text_of(message)
    assert "note: seen again after removal" in text
    assert "Example CDN" in text and "origin server" in text and "hidden" in text
    assert "back online" in message["Subject"]


def test_reminder_wording():
    draft = make_draft(
        kind="reminder", previous_notice_at=EARLIER, notice_id=13, message_id="<ntd-13.x@h.example>"
    )
    message = parsed(HOTLINE, draft)
    assert message["Subject"].startswith("[NTD-13] Reminder: ")
    assert message["Message-ID"] == "<ntd-13.x@h.example>"
    assert "On 2025-02-27T08:00:00Z we notified you" in text_of(message)


def test_escalation_names_the_silent_recipient_and_since_when():
    draft = make_draft(
        kind="escalation", original_recipient="abuse@host.example", previous_notice_at=EARLIER
    )
    message = parsed(HOTLINE, draft)
    text = " ".join(text_of(message).split())
    assert message["Subject"].startswith("[NTD-12] Escalation: ")
    assert "abuse@host.example" in text and "2025-02-27T08:00:00Z" in text
    assert "has not acted since" in text


def test_partner_wording():
    draft = make_draft(kind="partner", partner_name="Meldpunt Kinderporno", to="ntd@mkp.example")
    message = parsed(HOTLINE, draft)
    assert message["Subject"].startswith("[NTD-12] Referral from Example Hotline")
    assert "hosted in NL" in message["Subject"]
    assert text_of(message).startswith("Dear colleagues at Meldpunt Kinderporno,")


def test_templates_can_be_overridden(tmp_path):
    (tmp_path / "notice.txt.j2").write_text(
        '{% extends "base.txt.j2" %}{% block greeting %}Geachte abuse-afdeling,{% endblock %}'
    )
    (tmp_path / "subject.txt.j2").write_text("Melding van kindermisbruikmateriaal ({{ count }})")
    message = parsed(HOTLINE, make_draft(), templates_dir=tmp_path)
    assert message["Subject"] == "[NTD-12] Melding van kindermisbruikmateriaal (1)"
    text = text_of(message)
    assert text.startswith("Geachte abuse-afdeling,")
    assert "Article 240b" in text  # the rest of the layout still comes from ours
    reminder = parsed(HOTLINE, make_draft(kind="reminder"), templates_dir=tmp_path)
    assert text_of(reminder).startswith("Dear abuse team,")  # not overridden: ours


def test_urls_and_refs_are_data_not_templates():
    nasty = "http://evil.example/?q={{ 7*7 }}&r={% for x in range(3) %}x{% endfor %}"
    report = make_report(url=nasty, canonical_url=nasty, ref="{{ hotline.legal_basis }}")
    message = parsed(HOTLINE, make_draft(report))
    text = text_of(message)
    assert nasty in text
    assert "our reference: {{ hotline.legal_basis }}" in text
    assert "49" not in text and "xxx" not in text


def test_describe_is_one_line():
    draft = make_draft(*three_reports(), reason="first notice\nfor AS64500")
    line = describe(draft)
    assert line == (
        "notice NTD-12 to abuse@hosting.example: 3 reports (1, 2, 3): first notice for AS64500"
    )


@pytest.mark.parametrize(
    "changes",
    [{"kind": "letter"}, {"reports": ()}, {"created_at": datetime(2025, 1, 1)}],
    ids=["kind", "empty", "naive"],
)
def test_bad_drafts_are_refused(changes):
    with pytest.raises(ValueError):
        make_draft(**changes)
