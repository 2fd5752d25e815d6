"""``/healthz`` for a load balancer or systemd watchdog, and ``/metrics`` for Prometheus.

``/healthz`` needs no login and says only whether ntd is well: the store answers, and a
scheduler led within LEADER_TIMEOUT (its heartbeat, written by `ntd run`). 200 when
both hold, 503 naming what is wrong otherwise.

``/metrics`` is the Prometheus text format, drawn by prometheus_client from the running
totals in the store (store.counters: what `ntd run`, `ntd check` and the mail ways in did,
in whatever process) and from gauges read at the moment. It answers only a scraper that
sends METRICS_TOKEN or comes from a METRICS_ALLOW address: never the world by default.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections import defaultdict

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select, text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from store import counters
from store.exceptions import first_line
from store.models import CHECKABLE, STATES, Heartbeat, InboundMessage, ProviderAction, Report
from store.types import utcnow
from store.views import iso
from web.context import in_store, settings_of
from web.exceptions import Forbidden
from web.pages.login import client_address
from web.routing import route

HELP = {
    "ntd_checks": "Checks made, by outcome.",
    "ntd_state_changes": "Report state changes the checks caused.",
    "ntd_notices": "Notices by kind and result of the try: sent, deferred or bounced.",
    "ntd_inbound_messages": "Inbound messages by kind, stored or dropped as loops.",
    "ntd_rdap_requests": "RDAP requests made by the hosting look-ups.",
    "ntd_rdap_cache_hits": "Network look-ups answered from the store's RDAP cache.",
    "ntd_pass_duration_seconds": "How long check and notify passes took.",
    "ntd_wakeups": "Times work was queued to be checked at once (reports, re-checks).",
}

UNLABELLED = ("ntd_state_changes", "ntd_rdap_requests", "ntd_rdap_cache_hits", "ntd_wakeups")


async def healthz(request: Request) -> Response:
    settings = settings_of(request)

    def look(session):
        session.execute(text("SELECT 1"))
        return session.get(Heartbeat, "scheduler")

    problems, scheduler, store_ok = [], None, True
    try:
        beat = await in_store(request, look)
    except Exception as error:  # any failure of the store is the answer
        store_ok = False
        problems.append(f"the store does not answer: {first_line(error, named=True)}")
    else:
        if beat is None:
            problems.append("no scheduler has led yet: is `ntd run` running?")
        else:
            age = (utcnow() - beat.at).total_seconds()
            scheduler = {"holder": beat.holder, "last_led_at": iso(beat.at), "age_s": round(age)}
            limit = settings.leader_timeout.total_seconds()
            if age > limit:
                problems.append(
                    f"no scheduler has led for {age:.0f} s (LEADER_TIMEOUT is {limit:g} s): "
                    "is `ntd run` running?"
                )
    body = {
        "status": "unwell" if problems else "ok",
        "store": "ok" if store_ok else "down",
        "scheduler": scheduler,
        "problems": problems,
    }
    return JSONResponse(body, status_code=503 if problems else 200)


async def metrics(request: Request) -> Response:
    _may_scrape(request)
    leader_timeout = settings_of(request).leader_timeout
    families = await in_store(request, _families, leader_timeout)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collected(families))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _may_scrape(request: Request) -> None:
    settings = settings_of(request)
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if (
        settings.metrics_token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(token.strip().encode(), settings.metrics_token.encode())
    ):
        return
    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        address = None
    if address is not None and any(address in network for network in settings.metrics_allow):
        return
    raise Forbidden(
        "/metrics answers only METRICS_TOKEN (as Authorization: Bearer) or a METRICS_ALLOW address"
    )


class _Collected:
    def __init__(self, families: list) -> None:
        self.families = families

    def collect(self):
        return iter(self.families)


def _families(session, leader_timeout) -> list:
    now = utcnow()
    families = _counter_families(session)
    states = GaugeMetricFamily("ntd_reports", "Reports by state.", labels=["state"])
    by_state = select(Report.state, func.count()).group_by(Report.state)
    counts = dict(session.execute(by_state).all())
    for state in STATES:
        states.add_metric([state], counts.get(state, 0))
    due = select(func.count(), func.min(Report.next_due_at)).where(
        Report.state.in_(CHECKABLE), Report.next_due_at <= now, Report.paused.is_(False)
    )
    backlog, oldest = session.execute(due).one()
    unread = session.scalar(
        select(func.count())
        .select_from(InboundMessage)
        .where(InboundMessage.needs_reading.is_(True), InboundMessage.read_at.is_(None))
    ) + session.scalar(
        select(func.count())
        .select_from(ProviderAction)
        .where(ProviderAction.needs_reading.is_(True), ProviderAction.read_at.is_(None))
    )
    beat = session.get(Heartbeat, "scheduler")
    age = (now - beat.at).total_seconds() if beat is not None else None
    gauges = [
        ("ntd_due_reports", "Reports due for a check now.", backlog),
        (
            "ntd_due_oldest_age_seconds",
            "How long the longest-waiting due report has been due.",
            (now - oldest).total_seconds() if oldest is not None else 0,
        ),
        ("ntd_inbox_unread", "Replies and provider answers no one has marked read.", unread),
        (
            "ntd_leader_up",
            "1 when a scheduler led within LEADER_TIMEOUT.",
            int(age is not None and age <= leader_timeout.total_seconds()),
        ),
        (
            "ntd_leader_heartbeat_age_seconds",
            "Seconds since a scheduler last said it leads (-1: never).",
            -1 if age is None else age,
        ),
    ]
    families.append(states)
    for name, documentation, value in gauges:
        families.append(GaugeMetricFamily(name, documentation, value=value))
    return families


def _counter_families(session) -> list:
    plain: dict[str, list[tuple[dict, float]]] = defaultdict(list)
    histograms: dict[str, dict[tuple, dict]] = defaultdict(dict)
    for name, labels, value in counters.read(session):
        for part in ("_bucket", "_sum", "_count"):
            if name.endswith(part):
                base = name.removesuffix(part)
                bound = labels.pop("le", None)
                series = histograms[base].setdefault(
                    tuple(sorted(labels.items())), {"buckets": {}, "sum": 0.0}
                )
                if part == "_bucket":
                    series["buckets"][bound] = value
                elif part == "_sum":
                    series["sum"] = value
                break
        else:
            plain[name.removesuffix("_total")].append((labels, value))
    for name in UNLABELLED:  # shown at zero before the first pass counts them
        plain.setdefault(name, [({}, 0.0)])
    families = []
    for name, series in sorted(plain.items()):
        names = sorted({k for labels, _ in series for k in labels})
        family = CounterMetricFamily(name, HELP.get(name, name), labels=names)
        for labels, value in series:
            family.add_metric([labels.get(k, "") for k in names], value)
        families.append(family)
    for name, by_labels in sorted(histograms.items()):
        names = sorted({k for labels in by_labels for k, _ in labels})
        family = HistogramMetricFamily(name, HELP.get(name, name), labels=names)
        for labels, series in by_labels.items():
            # A bound no observation fell under has no row yet: it holds what the
            # bound below it holds (the buckets are cumulative).
            filled, held = {}, 0.0
            for bound in (*counters.DURATION_BUCKETS, "+Inf"):
                held = series["buckets"].get(str(bound), held)
                filled[str(bound)] = held
            ordered = list(filled.items())
            family.add_metric(
                [dict(labels).get(k, "") for k in names],
                buckets=[(bound, value) for bound, value in ordered],
                sum_value=series["sum"],
            )
        families.append(family)
    return families


routes = [route("/healthz", GET=healthz), route("/metrics", GET=metrics)]
