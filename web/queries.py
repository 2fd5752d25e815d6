"""The reads behind the reports list (page and API) and the audit log.

Filters come from query parameters and are checked here, once, for both surfaces: a bad
one is a 400 naming it, never a database error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from intake.submissions import MAX_REF_LENGTH
from store.exceptions import NotFound
from store.models import STATES, Event, Hosting, Report, ReportRef
from store.reports import find
from store.views import iso
from web.exceptions import BadRequest

_ASN = re.compile(r"^(?:AS)?(\d{1,10})$", re.IGNORECASE)
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
MAX_ASN = 2**32 - 1
MAX_REPORT_ID = 2**31 - 1  # no larger id exists, and PostgreSQL refuses to compare one


FILTERS = ("state", "provider", "country", "ref")


@dataclass(frozen=True)
class Filters:
    """What the reports list is narrowed to; None means any."""

    state: str | None = None
    provider: str | None = None  # an ASN (AS64500 or 64500), or part of the org's name
    country: str | None = None
    ref: str | None = None  # any of a report's references, exactly

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Filters:
        values = {name: text_param(params, name) for name in FILTERS}
        if values["state"] and values["state"] not in STATES:
            raise BadRequest(f"state must be one of {', '.join(STATES)}")
        if values["country"]:
            if not _COUNTRY.match(values["country"]):
                raise BadRequest("country must be an ISO 3166 alpha-2 code, e.g. NL")
            values["country"] = values["country"].upper()
        return cls(**values)

    def as_params(self) -> dict[str, str]:
        """The filters as query parameters, for links that keep them."""
        return {name: value for name, value in asdict(self).items() if value}

    def apply(self, query: Select) -> Select:
        if self.state:
            query = query.where(Report.state == self.state)
        if self.country:
            query = query.where(Hosting.country == self.country)
        if self.provider:
            asn = _ASN.match(self.provider)
            if asn and int(asn.group(1)) <= MAX_ASN:
                query = query.where(Hosting.asn == int(asn.group(1)))
            else:
                query = query.where(Hosting.org.icontains(self.provider, autoescape=True))
        if self.ref:
            tagged = select(ReportRef.report_id).where(ReportRef.ref == self.ref)
            query = query.where(Report.id.in_(tagged))
        return query


def page_bounds(params: Mapping[str, str], *, default: int, most: int) -> tuple[int, int]:
    """``limit`` and ``offset`` from the query, checked."""
    limit = _number(params, "limit", default, 1, most)
    return limit, _number(params, "offset", 0, 0, 10**9)


def list_reports(
    session: Session, filters: Filters, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of reports, newest first, as summaries; and how many match in all."""
    matching = filters.apply(select(Report, Hosting).outerjoin(Hosting))
    total = session.scalar(select(func.count()).select_from(matching.subquery()))
    rows = session.execute(matching.order_by(Report.id.desc()).limit(limit).offset(offset))
    return [summary(report, hosting) for report, hosting in rows], total


def summary(report: Report, hosting: Hosting | None) -> dict[str, Any]:
    """A report as one line of a list: `GET /api/reports` items."""
    return {
        "id": report.id,
        "url": report.url,
        "canonical_url": report.canonical_url,
        "ref": report.ref,
        "category": report.category,
        "state": report.state,
        "paused": report.paused,
        "seen_online": report.seen_online,
        "created_at": iso(report.created_at),
        "created_by": report.created_by,
        "last_checked_at": iso(report.last_checked_at),
        "removed_at": iso(report.removed_at),
        "hosting": None
        if hosting is None
        else {"asn": hosting.asn, "org": hosting.org, "country": hosting.country},
    }


def find_report(session: Session, report_id: int) -> Report:
    """The report with this id; raises ``NotFound``."""
    if report_id > MAX_REPORT_ID:
        raise NotFound(f"no report with id {report_id}")
    return find(session, report_id)


def report_events(session: Session, report_id: int) -> list[Event]:
    return list(
        session.scalars(select(Event).where(Event.report_id == report_id).order_by(Event.id))
    )


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    report_id: int | None
    from_state: str | None
    to_state: str | None
    detail: str | None


def audit_trail(
    session: Session, *, actor: str | None, limit: int, offset: int
) -> tuple[list[AuditEntry], int]:
    """Who did what, newest first: every event (queueing is one event per batch)."""
    events = select(
        Event.at,
        Event.actor,
        Event.action,
        Event.report_id,
        Event.from_state,
        Event.to_state,
        Event.detail,
    )
    if actor:
        events = events.where(Event.actor == actor)
    total = session.scalar(select(func.count()).select_from(events.subquery()))
    rows = session.execute(
        events.order_by(Event.at.desc(), Event.id.desc()).limit(limit).offset(offset)
    )
    return [AuditEntry(*row) for row in rows], total


def text_param(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name) or ""
    # Checked before stripping, which would take some control characters (\x1c) away.
    if len(value) > MAX_REF_LENGTH or _CONTROL.search(value):
        raise BadRequest(
            f"{name} must be text of at most {MAX_REF_LENGTH} characters, without control "
            "characters"
        )
    return value.strip() or None


def _number(params: Mapping[str, str], name: str, default: int, least: int, most: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or not least <= int(value) <= most:
        raise BadRequest(f"{name} must be a whole number from {least} to {most}")
    return int(value)
