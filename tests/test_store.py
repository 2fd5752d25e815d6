"""The store: migrations on first use, leases, and growth with changes rather than checks."""

from __future__ import annotations

import threading
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, inspect, select, text

from intake.exceptions import RejectedInput
from intake.submissions import Submission, validate
from store import reports
from store.checks import CheckResult, record_check
from store.db import open_store
from store.models import Check, Event, Report
from store.queue import claim_due, claim_named, release
from store.types import utcnow
from store.views import report_view

LEASE = timedelta(minutes=10)


def queue_urls(store, urls, now=None):
    now = now or utcnow()
    entries = [validate(Submission(url)) for url in urls]
    with store.session() as session:
        return reports.queue(session, entries, actor="tester", now=now, default_category="baseline")


def test_migrations_are_applied_on_first_use_and_only_once(database_url):
    first = open_store(database_url)
    tables = set(inspect(first.engine).get_table_names())
    assert {"reports", "checks", "events", "report_refs", "fingerprints"} <= tables
    queue_urls(first, ["http://example.com/a"])
    first.close()
    again = open_store(database_url)  # finds the schema current: data untouched
    with again.session() as session:
        assert session.scalar(select(func.count()).select_from(Report)) == 1
    again.close()


def test_a_claim_leases_due_reports_to_one_worker(store):
    now = utcnow()
    queue_urls(store, [f"http://example.com/{i}" for i in range(10)], now)
    with store.session() as session:
        first = claim_due(session, "worker-a", now=now, lease=LEASE, limit=6)
    with store.session() as session:
        second = claim_due(session, "worker-b", now=now, lease=LEASE, limit=6)
    assert len(first) == 6 and len(second) == 4
    assert set(first).isdisjoint(second)
    with store.session() as session:
        assert claim_due(session, "worker-c", now=now, lease=LEASE, limit=6) == []


def test_an_expired_lease_returns_the_report_to_the_queue(store):
    now = utcnow()
    queue_urls(store, ["http://example.com/a"], now)
    with store.session() as session:
        assert claim_due(session, "dead-worker", now=now, lease=LEASE, limit=10) == [1]
    with store.session() as session:
        assert claim_due(session, "other", now=now + LEASE / 2, lease=LEASE, limit=10) == []
    with store.session() as session:
        later = now + LEASE + timedelta(seconds=1)
        assert claim_due(session, "other", now=later, lease=LEASE, limit=10) == [1]


def test_named_reports_are_claimed_now_unless_leased_or_closed(store):
    now = utcnow()
    queue_urls(store, ["http://example.com/a", "http://example.com/b", "http://example.com/c"], now)
    with store.session() as session:
        reports.close(session, session.get(Report, 3), "withdrawn", actor="tester", now=now)
        session.get(Report, 1).next_due_at = now + timedelta(days=1)  # not due
        assert claim_due(session, "run", now=now, lease=LEASE, limit=10) == [2]
    with store.session() as session:
        assert claim_named(session, "manual", [1, 2, 3], now=now, lease=LEASE) == [1]
        release(session, "manual", [1])
        assert session.get(Report, 1).claimed_by is None


def test_concurrent_workers_never_claim_one_report_twice(store):
    now = utcnow()
    queue_urls(store, [f"http://example.com/{i}" for i in range(300)], now)
    claimed: dict[str, list[int]] = {}
    errors = []

    def work(name: str) -> None:
        mine = claimed.setdefault(name, [])
        try:
            while True:
                with store.session() as session:
                    batch = claim_due(session, name, now=now, lease=LEASE, limit=7)
                if not batch:
                    return
                mine.extend(batch)
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    every = [i for batch in claimed.values() for i in batch]
    assert sorted(every) == list(range(1, 301))


def check(at, outcome, **fields) -> CheckResult:
    return CheckResult(at=at, outcome=outcome, **fields)


def test_the_store_keeps_first_changes_and_latest_check(store):
    start = utcnow()
    queue_urls(store, ["http://example.com/a"], start)
    outcomes = ["online"] * 50 + ["gone"] * 30 + ["online"] * 20
    with store.session() as session:
        report = session.get(Report, 1)
        for n, outcome in enumerate(outcomes):
            record_check(
                session,
                report,
                check(start + timedelta(hours=n), outcome, http_status=200, sha256="c" * 64),
            )
    with store.session() as session:
        report = session.get(Report, 1)
        rows = session.scalar(select(func.count()).select_from(Check))
        view = report_view(session, report)
    assert rows == 3
    assert view["check_count"] == 100
    assert [c["outcome"] for c in view["checks"]] == ["online", "gone", "online", "online"]
    assert [c["at"] for c in view["checks"]][-1] == view["checks"][-1]["at"]
    hours = [c["at"] for c in view["checks"]]
    assert hours[1] > hours[0] and hours[-1] > hours[-2]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    inputs=st.lists(
        st.one_of(st.text(max_size=60), st.from_regex(r"https?://[ -~]{0,30}")), max_size=8
    )
)
def test_intake_never_stores_a_rejected_input(store, inputs):
    valid, expected = [], set()
    for raw in inputs:
        try:
            entry = validate(Submission(raw))
        except RejectedInput:
            continue
        valid.append(entry)
        expected.add(entry.canonical_url)
    with store.session() as session:
        before = set(session.scalars(select(Report.canonical_url)))
        reports.queue(session, valid, actor="tester", now=utcnow(), default_category="baseline")
        after = set(session.scalars(select(Report.canonical_url)))
    assert after - before == expected - before
    assert all(url.startswith(("http://", "https://")) for url in after)


def test_the_head_revision_is_alembics():
    """migrate() names the newest revision from the file names, without Alembic."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from store.db import MIGRATIONS, head_revision

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_the_migrated_schema_is_the_models_schema(database_url):
    # A migration written by hand must build exactly what the models declare.
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from store.models import Base

    opened = open_store(database_url)
    try:
        with opened.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            differences = compare_metadata(context, Base.metadata)
    finally:
        opened.close()
    assert differences == []


def test_upgrading_seals_the_events_already_there_and_records_who_queued(tmp_path):
    """A store from before the audit chain: its events are sealed, in order, and each
    queue batch (one actor, one moment) gets its ``queued`` event."""
    from alembic import command
    from alembic.config import Config

    from store import audit
    from store.db import MIGRATIONS, migrate

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0009")
        for n, (at, who) in enumerate(
            [("2025-01-01 10:00:00.000000", "ann")] * 3 + [("2025-01-02 09:00:00.000000", "bob")],
            1,
        ):
            connection.execute(
                text(
                    "INSERT INTO reports (id, url, canonical_url, url_key, category, state,"
                    " paused, seen_online, reappearances, created_at, created_by, check_count,"
                    " failures) VALUES (:n, :u, :u, :k, 'A1', 'queued', 0, 0, 0, :at, :who, 0, 0)"
                ),
                {"n": n, "u": f"http://example.com/{n}", "k": f"{n:064x}", "at": at, "who": who},
            )
        connection.execute(
            text(
                "INSERT INTO events (at, actor, report_id, action, detail) VALUES"
                " ('2025-01-03 00:00:00.000000', 'ann', 2, 'closed', 'mistake')"
            )
        )
    migrate(engine)
    engine.dispose()
    store = open_store(url)
    try:
        with store.session() as session:
            verdict = audit.verify(session)
            rows = session.execute(
                select(Event.seq, Event.actor, Event.action, Event.detail).order_by(Event.seq)
            ).all()
    finally:
        store.close()
    assert verdict.intact and verdict.events == 3
    assert [tuple(r) for r in rows] == [
        (1, "ann", "closed", "mistake"),
        (2, "ann", "queued", "3 reports: 1-3"),
        (3, "bob", "queued", "1 reports: 4"),
    ]
