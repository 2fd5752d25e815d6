"""The database failing in the middle of a crawler pass: nothing lost, nothing falsely removed.

The faults are real ones, made by another connection at the moment every check of the
pass has been fetched and none recorded yet (a slow host holds the pass open):

- PostgreSQL: the pass's backend is terminated (``pg_terminate_backend``, found by the
  pass's own application_name, so that nobody else's connections are touched) while its
  window of checks waits on a row lock this test holds. The lock only pins the moment:
  the statement is under way when its connection dies.
- SQLite: another connection holds the write lock longer than SQLITE_BUSY_TIMEOUT, so
  the pass's write fails with "database is locked".

A short fault is outlived by the retries; a lasting one stops the pass with exit 1, and
the next pass after LEASE_TTL checks everything, each report exactly once.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from crawler.recorder import Recorder
from store.checks import CheckResult
from store.models import Check, Report
from store.types import utcnow
from tests.conftest import ROOT

# What both faulty passes run with: fast retries, a short busy timeout, a short lease.
FAULT_SETTINGS = {
    "database_retries": "2",
    "database_retry": "0.2s",
    "sqlite_busy_timeout": "0.3s",
    "lease_ttl": "4s",
}
ONLINE = ("/a.jpg", "/b.jpg", "/c.jpg")
DEADLINE = 30  # seconds any wait below may take before the test fails


def test_a_write_whose_connection_drops_is_made_again_and_records_each_check_once(world):
    pages = _Pages(world)
    world.check()
    pages.take_down_one()
    url = _tagged(world.database_url)

    def struck() -> bool:
        fault.strike()
        return warnings.seen

    def strike_once() -> None:
        _wait_for(lambda: pages.fetched_in_every_path(2), "the pass's fetches")
        fault.begin(pages.ids[-1])
        _wait_for(struck, "the pass's write to fail")
        fault.end()

    with (
        _RetryWarnings() as warnings,
        _Fault(world.database_url, url) as fault,
        ThreadPoolExecutor(1) as pool,
    ):
        striking = pool.submit(strike_once)
        tally = world.check(**{**FAULT_SETTINGS, "database_url": url})
        striking.result(timeout=DEADLINE)
    assert re.search(fault.reason, warnings.messages[0])
    assert (tally.checks, tally.unrecorded) == (5, 0)
    pages.assert_recorded(world, passes=2, removed=True)


# How an operator or cron runs a pass, and how it words the stop (exit 1 for both).
COMMANDS = {
    "ntd check": (["ntd", "check"], "ntd: "),
    "scrapy crawl verify": (["scrapy", "crawl", "verify"], "scrapy crawl: "),
}


@pytest.mark.parametrize("command_name", COMMANDS)
def test_a_database_that_stays_down_stops_the_pass_and_the_next_one_checks_all(
    world, guarded_env, command_name
):
    argv, prefix = COMMANDS[command_name]
    pages = _Pages(world)
    world.check()
    pages.take_down_one()
    url = _tagged(world.database_url)
    started = time.monotonic()
    with _Fault(world.database_url, url) as fault:
        command = _start_pass(world, url, guarded_env, argv)
        _wait_for(lambda: pages.fetched_in_every_path(2), "the pass's fetches")
        fault.begin(pages.ids[-1])
        while command.poll() is None and time.monotonic() - started < DEADLINE:
            fault.strike()
            time.sleep(0.02)
        fault.end()
    out, err = command.communicate(timeout=DEADLINE)
    assert command.returncode == 1, err.decode()
    message = err.decode().strip().splitlines()[-1]
    assert message.startswith(f"{prefix}the pass stopped: the database failed 3 times in a row: ")
    assert re.search(fault.reason, message)
    assert "0 of its 5 checks were recorded; the 5 others are checked again once their " in message
    assert "LEASE_TTL 4 s" in message
    if command_name == "ntd check":  # Scrapy logs as it goes, to stderr
        assert b"Traceback" not in err and out == b""
    # Nothing of the stopped pass was stored, the taken-down page is not removed on the
    # strength of a check never recorded, and its reports wait for their leases.
    pages.assert_recorded(world, passes=1, removed=False, fetches=2)
    leases = pages.leases(world)
    assert all(worker is not None for worker, _ in leases)
    time.sleep(max(0, (max(until for _, until in leases) - utcnow()).total_seconds()) + 0.2)

    pages.slow.latency = 0
    tally = world.check()
    assert (tally.checks, tally.unrecorded) == (5, 0)
    pages.assert_recorded(world, passes=2, removed=True, fetches=3)


def test_a_window_whose_commit_went_through_unanswered_is_not_recorded_twice(world):
    """The connection can drop after COMMIT succeeded and before its answer arrived: the
    try again then finds the window stored, and must not count it a second time."""
    [report] = world.add("http://shop.test/a.jpg")
    recorder = Recorder(world.store, world.settings(), worker="w")
    check = CheckResult(at=utcnow(), outcome="gone", http_status=404)
    for _ in range(2):  # the try whose answer was lost, then the try again
        recorder.add(report, check)
        recorder.flush()
    view = world.show(report)
    assert (view["check_count"], len(view["checks"]), view["state"]) == (1, 1, "removed")
    assert recorder.tally.changes == 1


class _Pages:
    """Three pages that stay online, one taken down later, one on a slow host."""

    def __init__(self, world) -> None:
        self.shop = world.net.site("shop.test")
        self.slow = world.net.site("slow.test")
        for path in (*ONLINE, "/gone.jpg"):
            self.shop.page(path)
        self.slow.page("/slow.jpg")
        self.ids = world.add(*(self.shop.url(p) for p in (*ONLINE, "/gone.jpg")))
        self.ids += world.add(self.slow.url("/slow.jpg"))

    def take_down_one(self) -> None:
        """The next pass sees /gone.jpg gone; the slow host keeps that pass open a second."""
        self.shop.take_down("/gone.jpg", status=404)
        self.slow.latency = 1.0

    def fetched(self) -> Counter:
        requests = self.shop.requests + self.slow.requests
        return Counter(r.path for r in requests if not r.path.startswith("/ntd-probe"))

    def fetched_in_every_path(self, times: int) -> bool:
        return len(self.fetched()) == 5 and min(self.fetched().values()) >= times

    def leases(self, world) -> list[tuple]:
        with world.store.session() as session:
            rows = session.execute(
                select(Report.claimed_by, Report.lease_until).where(Report.id.in_(self.ids))
            )
            return [tuple(row) for row in rows]

    def assert_recorded(self, world, *, passes: int, removed: bool, fetches: int | None = None):
        """What an operator checks: one check per report per recorded pass, right states."""
        views = [world.show(i) for i in self.ids]
        assert [v["check_count"] for v in views] == [passes] * 5
        assert [v["state"] for v in views[:3] + views[4:]] == ["online"] * 4
        gone = views[3]
        with world.store.session() as session:
            stored = session.scalars(select(Check.outcome).where(Check.report_id == self.ids[3]))
            outcomes = list(stored)
        if removed:
            assert gone["state"] == "removed" and outcomes == ["online", "gone"]
            assert gone["removed_at"] == gone["checks"][-1]["at"]
        else:
            assert gone["state"] == "online" and outcomes == ["online"]
        assert set(self.fetched().values()) == {fetches or passes}


class _Fault:
    """Another connection in the way of the pass's writes, until ``end()``."""

    def __init__(self, admin_url: str, pass_url: str) -> None:
        self.sqlite = make_url(admin_url).get_backend_name() == "sqlite"
        self.admin_url = admin_url
        self.application_name = make_url(pass_url).query.get("application_name")
        # How the driver words it: SQLite's lock, or psycopg's read of a killed backend.
        self.reason = "database is locked" if self.sqlite else "(terminating|closed the) connection"
        self._connection = self._transaction = None
        self.killed: list[int] = []

    def __enter__(self) -> _Fault:
        if self.sqlite:
            path = make_url(self.admin_url).database
            self._connection = sqlite3.connect(
                path, isolation_level=None, timeout=DEADLINE, check_same_thread=False
            )
        else:
            self._engine = create_engine(self.admin_url)
            self._connection = self._engine.connect()
        return self

    def begin(self, report_id: int) -> None:
        """SQLite: take the write lock. PostgreSQL: lock one report's row."""
        if self.sqlite:
            self._connection.execute("BEGIN EXCLUSIVE")
            return
        self._transaction = self._connection.begin()
        statement = text("SELECT id FROM reports WHERE id = :id FOR UPDATE")
        self._connection.execute(statement, {"id": report_id})

    def strike(self) -> None:
        """PostgreSQL: terminate every backend of the pass that waits on our lock."""
        if self.sqlite:
            return
        with self._engine.connect() as connection:
            killed = connection.execute(
                text(
                    "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name AND wait_event_type = 'Lock'"
                ),
                {"name": self.application_name},
            )
            self.killed += killed.scalars().all()
            connection.rollback()

    def end(self) -> None:
        if self.sqlite:
            self._connection.execute("COMMIT")
        elif self._transaction is not None:
            self._transaction.rollback()
            self._transaction = None

    def __exit__(self, *_exc) -> None:
        if self.sqlite:
            if self._connection.in_transaction:
                self._connection.execute("ROLLBACK")
            self._connection.close()
            return
        self._connection.close()
        self._engine.dispose()


class _RetryWarnings(logging.Handler):
    """The store's "trying again" warnings, as an operator reads them in the log."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self._seen = threading.Event()

    @property
    def seen(self) -> bool:
        return self._seen.is_set()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self._seen.set()

    def __enter__(self) -> _RetryWarnings:
        logging.getLogger("store.db").addHandler(self)
        return self

    def __exit__(self, *_exc) -> None:
        logging.getLogger("store.db").removeHandler(self)


def _tagged(database_url: str) -> str:
    """The URL the pass connects with: on PostgreSQL, with a name of its own to find it by."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return database_url
    tagged = url.update_query_dict({"application_name": f"ntd-fault-{uuid.uuid4().hex[:8]}"})
    return tagged.render_as_string(hide_password=False)


def _start_pass(world, url: str, guarded_env: dict, argv: list[str]) -> subprocess.Popen:
    """``argv`` (`ntd check` or `scrapy crawl verify`) in its own process, from the
    repository's root, as an operator or cron runs it."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NTD_")},
        **guarded_env,
        **world.environ(
            database_url=url, recheck_interval="0s", dns_timeout="1s", **FAULT_SETTINGS
        ),
    }
    program = Path(sys.executable).with_name(argv[0])
    return subprocess.Popen(
        [str(program), *argv[1:]],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {DEADLINE} s for {what}")
        time.sleep(0.02)
