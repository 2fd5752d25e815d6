"""One X-ARF v4 ``content``/``csam`` document per reported URL, attached to every notice.

Inputs: the ``Hotline`` (settings HOTLINE_NAME, MAIL_FROM; reporter and sender), one
``NoticeReport`` and its ``Draft``. The document is valid against ``xarf-v4-master.json``
(the tests check it against ../shared/xarf-v4/). It never carries content: the schema's
``evidence`` (base64 payloads), ``screenshot_url`` and ``media_type`` are left out on
purpose, since a hotline must not transmit or describe the material beyond its URL and hashes.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from notifier.drafts import Draft, Hotline, NoticeReport

XARF_VERSION = "4.2.0"  # the version the published schemas and samples carry

# content-base.json's pattern for ``domain``: it refuses IP literals (no letter-only TLD)
# and IDN hosts (``xn--`` has a double hyphen), so those reports carry no ``domain``.
DOMAIN = re.compile(r"([a-z0-9]+(-[a-z0-9]+)*\.)+[a-z]{2,}")
SHA256 = re.compile(r"[a-fA-F0-9]{64}")
COUNTRY = re.compile(r"[A-Z]{2}")
# content-csam.json's classification enum is exactly our categories (intake.categories).
CLASSIFICATIONS = ("baseline", "A1", "A2", "B1", "B2")
DEFAULT_PORTS = {"http": 80, "https": 443}


def iso_utc(moment: datetime) -> str:
    """RFC 3339 UTC with a ``Z``, to the second: the form the schema's examples use."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def report_uuid(hotline: Hotline, report_id: int) -> str:
    """The X-ARF ``report_id``: the schema wants a UUID, so derive one (UUID v5) from the
    hotline's mail domain and our report id. It is stable across the notice, reminders and
    escalations of one report, so a recipient's ticket system can thread them."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:ntd:{hotline.mail_domain}:report:{report_id}"))


def _contact(hotline: Hotline) -> dict[str, str]:
    # contact_info allows exactly org, contact and domain (additionalProperties: false).
    return {
        "org": hotline.name[:200],
        "contact": hotline.reply_to or hotline.mail_from,
        "domain": hotline.mail_domain,
    }


def _hash(report: NoticeReport) -> str | None:
    """The one SHA-256 ``hash_values`` has room for: the expected fingerprint the last check
    matched, else the first expected one, else (no fingerprints given) the hash of what the
    URL served when last seen online."""
    expected = [h.lower() for h in report.expected_sha256 if SHA256.fullmatch(h)]
    observed = report.observed_sha256.lower() if report.observed_sha256 else None
    if observed and not SHA256.fullmatch(observed):
        observed = None
    if expected:
        return observed if observed in expected else expected[0]
    return observed


def _description(hotline: Hotline, report: NoticeReport, draft: Draft) -> str:
    parts = [
        f"Child sexual abuse material (classification {report.category}) at this URL, "
        f"assessed by {hotline.name}; last verified online {iso_utc(report.last_seen_online)}."
    ]
    if report.reappeared:
        parts.append("Seen again after removal.")
    if draft.cdn:
        parts.append(f"Served through the CDN {draft.cdn}, which hides the origin server.")
    if len(report.expected_sha256) > 1:
        count = len(report.expected_sha256)
        parts.append(f"{count} SHA-256 fingerprints are listed in the notice.")
    if report.ref:
        parts.append(f"Hotline reference: {report.ref}.")
    return " ".join(parts)[:1000]


def xarf_report(hotline: Hotline, report: NoticeReport, draft: Draft) -> dict[str, Any]:
    """The X-ARF v4 document for one report of ``draft``, as a JSON-ready dict."""
    if report.category not in CLASSIFICATIONS:
        raise ValueError(f"category {report.category!r} is not an X-ARF csam classification")
    parts = urlsplit(report.canonical_url)
    host = (report.host or parts.hostname or "").strip("[]").lower()
    hashed = _hash(report)
    document: dict[str, Any] = {
        "xarf_version": XARF_VERSION,
        "report_id": report_uuid(hotline, report.report_id),
        # "when the abuse incident occurred": the content was first seen served then.
        "timestamp": iso_utc(report.first_seen_online),
        "reporter": _contact(hotline),
        "sender": _contact(hotline),
        "source_identifier": report.ip or host,
        "category": "content",
        "type": "csam",
        "url": report.canonical_url,
        "classification": report.category,
        # Given fingerprints are what our checks match; without them an analyst looked.
        "detection_method": "hash_match" if report.expected_sha256 else "manual_review",
        "evidence_source": "researcher_analysis",  # a hotline analyst assessed the report
        "verification_method": "automated_crawler",  # our re-check saw it online
        "verified_at": iso_utc(report.last_seen_online),
        "content_removed": False,  # only reports still online are notified
        "description": _description(hotline, report, draft),
        "tags": [f"classification:{report.category.lower()}", f"ntd:report-{report.report_id}"]
        + (["ntd:reappeared"] if report.reappeared else []),
    }
    port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    if port:
        document["source_port"] = port
    if DOMAIN.fullmatch(host):
        document["domain"] = host
    if hashed:
        document["hash_values"] = {"sha256": hashed}
    if report.org:
        document["hosting_provider"] = report.org
    if report.asn and 1 <= report.asn <= 4294967295:
        document["asn"] = report.asn
    if report.country and COUNTRY.fullmatch(report.country.upper()):
        document["country_code"] = report.country.upper()
    return document
