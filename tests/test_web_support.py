"""What the web tests share: the app on a fresh store, users of each role, signing in,
and a history of checks, notices and removals to read statistics from.

It sits with the web tests (and is named like them) but holds no tests of its own.
"""

from __future__ import annotations

import math
import random
import re
import warnings
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST

import store.users
from intake.submissions import Submission, validate
from store import reports
from store.db import open_store
from store.models import Check, Hosting, Notice, NoticeReport, Report
from store.types import utcnow
from store.users import add_user
from tests.conftest import make_settings
from web import create_app

with warnings.catch_warnings():
    # Starlette 1.x asks for the httpx2 fork; httpx, which we have, works the same.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

PASSWORD = "correct horse battery"
ROLES = ("analyst", "manager", "admin")
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    match = _CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def cheap_passwords(monkeypatch) -> None:
    """argon2's cheapest parameters: the real ones cost a third of a second per hash, and
    these tests are about who may do what, not about the cost of guessing."""
    monkeypatch.setattr(store.users, "HASHER", PasswordHasher.from_parameters(CHEAPEST))


class Web:
    """The dashboard and API on ``database_url``, driven through Starlette's TestClient."""

    def __init__(self, database_url: str, **overrides) -> None:
        self.settings = make_settings(database_url=database_url, **overrides)
        self.store = open_store(database_url)
        self.app = create_app(self.settings, self.store)
        self.tokens: dict[str, str] = {}

    def user(self, name: str, role: str, password: str = PASSWORD) -> str:
        """Add a user; returns their API token."""
        with self.store.session() as session:
            _user, token = add_user(session, name, role, password, actor="setup", now=utcnow())
        self.tokens[name] = token
        return token

    def client(self, **headers: str) -> TestClient:
        """A client with a cookie jar of its own and no user."""
        return TestClient(self.app, headers=headers, follow_redirects=False)

    def api(self, role: str) -> TestClient:
        """A client sending the token of a user with ``role`` (one user per role)."""
        name = f"{role}-api"
        token = self.tokens.get(name) or self.user(name, role)
        return self.client(Authorization=f"Bearer {token}")

    def browser(self, role: str, name: str | None = None) -> TestClient:
        """A client signed in through the login form; ``client.csrf`` is its form token."""
        name = name or f"{role}-web"
        if name not in self.tokens:
            self.user(name, role)
        client = self.client()
        form = client.get("/login")
        answer = client.post(
            "/login",
            data={
                "name": name,
                "password": PASSWORD,
                "csrf": csrf_of(form.text),
                "next": "/reports",
            },
        )
        assert answer.status_code == 303, answer.text
        client.csrf = csrf_of(client.get("/reports").text)
        return client

    def queue(self, *urls: str, actor: str = "tester", ref: str | None = None) -> list[int]:
        entries = [validate(Submission(url, ref=ref)) for url in urls]
        with self.store.session() as session:
            queued = reports.queue(
                session, entries, actor=actor, now=utcnow(), default_category="baseline"
            )
        return [q.id for q in queued]

    def close(self) -> None:
        self.store.close()


def seed_history(store, count: int = 24) -> list[int]:
    """Reports seen online, hosted by two providers, notified over three months; most of
    them removed some hours later, the rest still online (censored)."""
    now = utcnow()
    ids = []
    with store.session() as session:
        for n in range(count):
            notified = now - timedelta(days=70 - 3 * n)
            url = f"http://site{n}.example/item/{n}.jpg"
            entry = validate(Submission(url))
            [queued] = reports.queue(
                session,
                [entry],
                actor="seed",
                now=notified - timedelta(hours=2),
                default_category="A1",
            )
            report = session.get(Report, queued.id)
            removed = n % 4 != 3
            report.state = "removed" if removed else "online"
            report.seen_online = True
            report.first_online_at = notified - timedelta(hours=1)
            report.first_notice_at = notified
            report.removed_at = notified + timedelta(hours=6 + 5 * n) if removed else None
            report.check_count = 2
            session.add(
                Check(
                    report_id=report.id,
                    at=report.first_online_at,
                    outcome="online",
                    http_status=200,
                    sha256="a" * 64,
                    ip="192.0.2.7",
                    truncated=False,
                )
            )
            asn, org = (64500, "Example Hosting") if n % 2 else (64501, "Other Net")
            _hosted_and_notified(session, report, asn, org, "NL" if n % 2 else "DE", notified)
            ids.append(report.id)
    return ids


def seed_board(store, count: int = 600, *, seed: int = 23) -> None:
    """A year of a hotline's work, as a manager's board would see it: ``count`` reports
    over 22 providers (a few big, a long tail of small ones) in 9 countries, removal times
    spread from minutes to months (one provider that hardly ever removes), about a sixth
    still online (censored), and some from the last days, too recent for a 7-day figure."""
    rng = random.Random(seed)
    now = utcnow()
    providers = [
        (64500 + n, f"Provider {chr(65 + n)} Hosting", rng.uniform(0.3, 6.0)) for n in range(22)
    ]
    providers[3] = (64503, "A Very Long Provider Name Incorporated Worldwide Ltd", 9.0)
    providers[5] = (64505, "Bulletproof Example", 2000.0)  # under half removed, ever
    weights = [40, 30, 25, 18, 14, 12, 10, 9, 8, 7, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 1]
    countries = ["NL", "DE", "US", "FR", "RU", "GB", "SE", "CA", None]
    entries = [validate(Submission(f"http://board{n}.example/item/{n}.jpg")) for n in range(count)]
    with store.session() as session:
        queued = reports.queue(session, entries, actor="seed", now=now, default_category="A1")
        for number, result in enumerate(queued):
            report = session.get(Report, result.id)
            asn, org, speed = rng.choices(providers, weights)[0]
            # Notified over the last year, more of them lately; the newest a few hours ago.
            notified = now - timedelta(days=365 * rng.random() ** 1.4 + 0.1)
            took = timedelta(hours=rng.lognormvariate(math.log(speed * 12), 1.3))
            removed = notified + took < now and rng.random() > 0.12
            report.created_at = notified - timedelta(hours=rng.uniform(0.2, 6))
            report.state = "removed" if removed else "online"
            report.seen_online = True
            report.first_online_at = notified - timedelta(minutes=20)
            report.first_notice_at = notified
            report.removed_at = notified + took if removed else None
            report.check_count = 2
            country = countries[number % len(countries)] if number % 7 else "NL"
            _hosted_and_notified(session, report, asn, org, country, notified)


def _hosted_and_notified(session, report, asn: int, org: str, country, notified) -> None:
    """The hosting a look-up would have found, and the first notice sent ``notified``."""
    session.add(
        Hosting(
            report_id=report.id,
            ip="192.0.2.7",
            asn=asn,
            org=org,
            network="192.0.2.0/24",
            country=country,
            abuse_email="abuse@example.net",
            sources={"asn": "cymru"},
            resolved_at=notified,
        )
    )
    notice = Notice(
        kind="notice",
        to="abuse@example.net",
        created_at=notified,
        sent_at=notified,
        message_id=f"<n{report.id}@hotline.example>",
    )
    session.add(notice)
    session.flush()
    session.add(NoticeReport(notice_id=notice.id, report_id=report.id))
