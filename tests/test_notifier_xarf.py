"""X-ARF documents: valid against the published v4 schemas, honest, and free of content.

The schemas are read from ../shared/xarf-v4/ (never copied here); tests skip without them.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from functools import cache

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from notifier.drafts import Draft, Hotline, NoticeReport
from notifier.xarf import xarf_report
from tests.conftest import shared_file

SEEN = datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
LAST = datetime(2025, 3, 2, 18, 5, tzinfo=UTC)
EXPECTED = ("a" * 64, "B" * 64)
OBSERVED = "b" * 64
HOTLINE = Hotline(
    name="Example Hotline",
    mail_from="notices@hotline.example.org",
    country="NL",
    legal_basis="Article 240b of the Criminal Code.",
    reply_to="ntd@hotline.example.org",
)
HOSTS = {  # name: (submitted URL, canonical URL, ip, domain expected in the document)
    "ipv4": ("http://198.51.100.7/a.jpg", "http://198.51.100.7/a.jpg", "198.51.100.7", None),
    "ipv6": ("http://[2001:DB8::1]:8080/a", "http://[2001:db8::1]:8080/a", "2001:db8::1", None),
    "idn": ("https://bücher.example/a", "https://xn--bcher-kva.example/a", "203.0.113.9", None),
    "domain": (
        "https://WWW.Example.com/a",
        "https://www.example.com/a",
        "192.0.2.1",
        "www.example.com",
    ),
}
CATEGORIES = ("baseline", "A1", "A2", "B1", "B2")
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@cache
def _validator() -> Draft202012Validator:
    master = shared_file("xarf-v4/xarf-v4-master.json")
    resources = []
    for path in sorted(master.parent.rglob("*.json")):
        document = json.loads(path.read_text())
        if "$id" in document:  # the sample has none: it is an instance, not a schema
            resources.append((document["$id"], DRAFT202012.create_resource(document)))
    registry = Registry().with_resources(resources)
    schema = json.loads(master.read_text())
    # FORMAT_CHECKER asserts the formats it can check here (uuid, email, ipv4/6); date-time
    # needs an optional package, so timestamps are also checked by pattern below.
    return Draft202012Validator(
        schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def xarf_errors(document: dict) -> list[str]:
    """Every schema error of an X-ARF document, as readable lines (empty when valid)."""
    return [f"{list(e.absolute_path)}: {e.message}" for e in _validator().iter_errors(document)]


def make_report(host="domain", category="A1", expected=EXPECTED, **changes) -> NoticeReport:
    submitted, canonical, ip, _ = HOSTS[host]
    fields = dict(
        report_id=41,
        url=submitted,
        canonical_url=canonical,
        category=category,
        first_seen_online=SEEN,
        last_seen_online=LAST,
        expected_sha256=expected,
        observed_sha256=OBSERVED,
        ip=ip,
        asn=64500,
        org="Example Hosting B.V.",
        country="nl",
        ref="CASE-2025-7",
    )
    fields.update(changes)
    return NoticeReport(**fields)


def make_draft(*reports: NoticeReport, **changes) -> Draft:
    fields = dict(
        notice_id=12,
        message_id="<ntd-12.abcdefghijklmnop@hotline.example>",
        kind="notice",
        to="abuse@hosting.example",
        reports=reports or (make_report(),),
        created_at=LAST,
        reason="first notice",
    )
    fields.update(changes)
    return Draft(**fields)


def test_the_registry_accepts_the_published_sample():
    sample = json.loads(shared_file("xarf-v4/sample-content-csam.json").read_text())
    assert xarf_errors(sample) == []


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("fingerprints", [True, False], ids=["fingerprints", "none"])
@pytest.mark.parametrize("host", sorted(HOSTS))
def test_every_host_kind_and_category_is_valid(host, fingerprints, category):
    report = make_report(host, category, EXPECTED if fingerprints else ())
    document = xarf_report(HOTLINE, report, make_draft(report))

    assert xarf_errors(document) == []
    assert (document["category"], document["type"]) == ("content", "csam")
    assert document["classification"] == category
    assert document["detection_method"] == ("hash_match" if fingerprints else "manual_review")
    assert document["source_identifier"] == HOSTS[host][2]
    assert document["url"] == HOSTS[host][1]
    assert document["source_port"] == {"ipv6": 8080, "ipv4": 80}.get(host, 443)
    assert document.get("domain") == HOSTS[host][3]
    assert document["content_removed"] is False
    assert document["timestamp"] == "2025-03-01T09:30:15Z"
    assert document["verified_at"] == "2025-03-02T18:05:00Z"
    assert document["country_code"] == "NL" and document["asn"] == 64500
    assert document["reporter"] == {
        "org": "Example Hotline",
        "contact": "ntd@hotline.example.org",
        "domain": "hotline.example.org",
    }


def test_the_schema_itself_refuses_ip_and_idn_domains():
    # Why IP and IDN reports carry no ``domain``: the schema's pattern refuses both.
    document = xarf_report(HOTLINE, make_report("domain"), make_draft())
    for bad in ("198.51.100.7", "xn--bcher-kva.example", "[2001:db8::1]", "bücher.example"):
        assert xarf_errors({**document, "domain": bad}), bad
    assert xarf_errors({**document, "classification": "C"})


def test_report_id_is_a_uuid_stable_per_report():
    first = xarf_report(HOTLINE, make_report(), make_draft())
    reminder = xarf_report(HOTLINE, make_report(), make_draft(notice_id=99, kind="reminder"))
    other = xarf_report(HOTLINE, make_report(report_id=42), make_draft())
    assert uuid.UUID(first["report_id"])
    assert first["report_id"] == reminder["report_id"] != other["report_id"]
    assert "ntd:report-41" in first["tags"]


@pytest.mark.parametrize(
    ("expected", "observed", "hashed"),
    [
        (EXPECTED, OBSERVED, OBSERVED),  # the fingerprint the last check matched
        (EXPECTED, "c" * 64, "a" * 64),  # no match: the first assessed fingerprint
        ((), OBSERVED, OBSERVED),  # none given: what the URL served when last online
        ((), None, None),  # a body cut short has no hash to give
    ],
)
def test_hash_values_hold_one_honest_sha256(expected, observed, hashed):
    report = make_report(expected=expected, observed_sha256=observed)
    document = xarf_report(HOTLINE, report, make_draft(report))
    assert document.get("hash_values") == ({"sha256": hashed} if hashed else None)
    assert xarf_errors(document) == []


def test_no_content_or_evidence_ever():
    report = make_report(reappeared=True)
    document = xarf_report(HOTLINE, report, make_draft(report, cdn="Example CDN"))
    for key in ("evidence", "screenshot_url", "media_type", "_internal"):
        assert key not in document
    assert "Seen again after removal" in document["description"]
    assert "Example CDN" in document["description"]
    assert "ntd:reappeared" in document["tags"]
    assert ISO_UTC.fullmatch(document["timestamp"])
    assert xarf_errors(document) == []


def test_unknown_hosting_facts_are_left_out_not_invented():
    report = make_report("ipv4", ip=None, asn=None, org=None, country=None, ref=None)
    document = xarf_report(HOTLINE, report, make_draft(report))
    assert document["source_identifier"] == "198.51.100.7"  # from the URL's host
    for key in ("asn", "hosting_provider", "country_code"):
        assert key not in document
    assert xarf_errors(document) == []


def test_a_category_outside_the_schema_is_refused():
    report = make_report(category="C")
    with pytest.raises(ValueError, match="classification"):
        xarf_report(HOTLINE, report, make_draft(report))
