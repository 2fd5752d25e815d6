"""Writing checks to the store, in windows, behind the outage guard.

Checks are kept in memory until a window is full (or the pass ends), then written in
one transaction. Before a window is written, the outage guard looks at it: when our own
resolver fails its probe, or when at least OUTAGE_MIN_CHECKS checks ran and at least
OUTAGE_SHARE of them came out `error` or `nxdomain`, the window's checks are recorded
but change no state and count toward no confirmation. A pass smaller than one window,
which is most passes, is judged whole, as PRODUCT.md says; a larger one is judged
window by window, so that memory stays flat however many reports are due.

A window whose write fails because the database connection dropped is written again,
whole, on a fresh connection (DATABASE_RETRIES, DATABASE_RETRY). When that fails too,
the recorder stops: the window and every later check are dropped unrecorded, and their
reports keep their leases until LEASE_TTL runs out, to be checked again by a later pass.
Nothing is ever decided on the strength of a write that did not happen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from types import SimpleNamespace

from sqlalchemy import bindparam, insert, inspect, select, update

from settings import Settings
from store import audit
from store.checks import CheckResult, record_check
from store.db import Store
from store.exceptions import StoreUnavailable
from store.lifecycle import ERROR, NXDOMAIN, OUTCOME_ONLINE, Rules, apply_check
from store.models import Check, Report
from store.types import utcnow

logger = logging.getLogger(__name__)
WINDOW = 1000
ACTOR = "crawler"

# The write path works on Core rows, not ORM objects: loading, tracking and flushing
# 1,000 instrumented Reports per window cost about 1 ms of CPU per check, as much as the
# fetch itself (bench/verify --profile). The rules stay in one place: record_check() and
# apply_check() run unchanged, on plain stand-ins with the same attributes.
_REPORT_COLUMNS = {attr.key: attr.columns[0] for attr in inspect(Report).column_attrs}
assert next(iter(_REPORT_COLUMNS)) == "id"  # _write keys the loaded rows by the first
_CHECK_COLUMNS = tuple(attr.key for attr in inspect(Check).column_attrs if attr.key != "id")
_REPORTS = Report.__table__


@dataclass(frozen=True)
class Window:
    """Checks taken from the recorder to be written together."""

    checks: list[tuple[int, CheckResult]]
    reason: str | None  # why the outage guard holds back their state changes, if it does


@dataclass
class PassTally:
    """What a pass did, for the command's summary and exit code."""

    checks: int = 0
    unrecorded: int = 0  # checks made but dropped, the store having failed
    changes: int = 0
    windows: int = 0
    held_windows: int = 0
    held_reasons: list[str] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def all_held(self) -> bool:
        """Whether the outage guard held back every state change of the pass."""
        return self.windows > 0 and self.held_windows == self.windows

    @property
    def held_back(self) -> bool:
        """Whether the outage guard kept the pass from changing anything: it held back
        every window, or checked nothing because our own resolver was failing. The
        commands that run a pass then exit with EXIT_HELD."""
        return bool(self.held_reasons) and (self.all_held or self.checks == 0)


EXIT_HELD = 3  # the exit code of `ntd check` and `scrapy crawl verify` when held_back


class Recorder:
    """Buffers a pass's checks and writes them window by window.

    ``on_stored``, when given, is called with the ids of each stored window's reports
    seen online, so that their hosting can be resolved while the pass
    goes on. Reads OUTAGE_MIN_CHECKS, OUTAGE_SHARE, DATABASE_RETRIES, DATABASE_RETRY and
    the state rules' settings.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        worker: str,
        on_stored: Callable[[list[int]], None] | None = None,
    ) -> None:
        self.store = store
        self.worker = worker
        self.on_stored = on_stored
        self.rules = Rules.from_settings(settings)
        self.min_checks = settings.outage_min_checks
        self.share = settings.outage_share
        self.window_size = max(WINDOW, self.min_checks)
        self.retries = settings.database_retries
        self.backoff = settings.database_retry
        self.failure: StoreUnavailable | None = None  # set once a window could not be written
        self.tally = PassTally()
        self._window: list[tuple[int, CheckResult]] = []
        self._failing = 0  # error or nxdomain checks in the pass so far
        self.unstored: set[int] = set()  # reports checked, whose window is not stored yet
        self._taken = 0  # windows taken to be written

    def add(self, report_id: int, check: CheckResult) -> bool:
        """Keep a check; True when the window is full and should be flushed."""
        self.tally.checks += 1
        self.tally.outcomes[check.outcome] = self.tally.outcomes.get(check.outcome, 0) + 1
        if self.failure is not None:  # the pass is stopping: this check cannot be kept
            self.tally.unrecorded += 1
            return False
        self._window.append((report_id, check))
        self.unstored.add(report_id)
        self._failing += check.outcome in (ERROR, NXDOMAIN)
        return len(self._window) >= self.window_size

    def in_windows(self) -> bool:
        """Whether this pass is judged window by window: a full window has been taken.
        A pass smaller than one is judged whole, and so written whole, at its end."""
        return self._taken > 0

    def flush(self, resolver_failure: str | None = None) -> None:
        """Write the window now; ``resolver_failure`` is the probe's reason, if it failed.

        Raises StoreUnavailable when the window could not be written, even tried again.
        The spider splits this in three (take, write on its store thread, stored), so
        that fetching goes on while the window is written.
        """
        window = self.take(resolver_failure)
        if window is None:
            return
        try:
            changes = self.write(window)
        except StoreUnavailable:
            self.lost(window)
            raise
        self.stored(window, changes)

    def take(self, resolver_failure: str | None = None) -> Window | None:
        """The checks kept so far, judged by the outage guard, and an empty window for
        the next ones; None when there are none."""
        checks, self._window = self._window, []
        if not checks:
            return None
        self._taken += 1
        reason = resolver_failure and f"our resolver is failing: {resolver_failure}"
        return Window(checks, reason or self._share_reason(checks))

    def write(self, window: Window) -> int:
        """Store a taken window in one transaction; returns its state changes.

        Touches nothing of the recorder but ``failure``, so it may run on another thread.
        Windows are written in the order they were taken: once one could not be, no later
        one is (StoreUnavailable again).
        """
        if self.failure is not None:
            raise self.failure
        write = partial(self._write, window=window.checks, held=window.reason is not None)
        try:
            return self.store.transaction(write, retries=self.retries, backoff=self.backoff)
        except StoreUnavailable as error:
            self.failure = error
            raise

    def lost(self, window: Window) -> None:
        """A taken window could not be written: its checks count as unrecorded."""
        self.tally.unrecorded += len(window.checks)
        self.unstored.difference_update(report_id for report_id, _ in window.checks)

    def stored(self, window: Window, changes: int) -> None:
        """Count a written window and hand on its reports seen online."""
        # Counted once stored: a try that failed was rolled back, and counts for nothing.
        self.unstored.difference_update(report_id for report_id, _ in window.checks)
        self.tally.changes += changes
        self.tally.windows += 1
        if window.reason:
            self.tally.held_windows += 1
            self.tally.held_reasons.append(window.reason)
            logger.warning(
                "outage guard: holding back %d checks: %s", len(window.checks), window.reason
            )
        # Hosting names who serves the content: only reports seen online now are handed on
        # (a removed one keeps the hosting it had, whatever its address answers today).
        online = [
            report_id
            for report_id, check in window.checks
            if check.outcome == OUTCOME_ONLINE and check.ip is not None
        ]
        if self.on_stored is not None and online:
            try:
                self.on_stored(online)
            except Exception:  # the window is stored: what listens must not stop the pass
                logger.exception("after storing a window")

    def drop_unwritten(self) -> None:
        """The pass stopped on a failed write: what is still buffered is never stored."""
        self.tally.unrecorded += len(self._window)
        self.unstored.difference_update(report_id for report_id, _ in self._window)
        self._window = []

    def _share_reason(self, window: list[tuple[int, CheckResult]]) -> str | None:
        failing = sum(check.outcome in (ERROR, NXDOMAIN) for _, check in window)
        total = len(window)
        if total < self.min_checks:  # too few to judge alone: judge the pass so far
            failing, total = self._failing, self.tally.checks
        if total >= self.min_checks and failing >= self.share * total:
            return f"{failing} of {total} checks failed (error or nxdomain)"
        return None

    def _write(self, session, *, window: list[tuple[int, CheckResult]], held: bool) -> int:
        """One window in the session's transaction; returns its state changes."""
        ids = [report_id for report_id, _ in window]
        keys = tuple(_REPORT_COLUMNS)
        rows = session.execute(select(*_REPORT_COLUMNS.values()).where(_REPORTS.c.id.in_(ids)))
        loaded = {row[0]: dict(zip(keys, row, strict=True)) for row in rows}
        reports: dict[int, SimpleNamespace] = {}
        new_checks = _Collector()
        events: list[dict] = []
        now = utcnow()
        for report_id, check in window:
            before = loaded.get(report_id)
            if before is None:  # deleted while we checked it
                continue
            if before["last_checked_at"] == check.at:
                # Already stored: a try whose COMMIT went through but whose answer was
                # lost with the connection. Recording it again would count it twice.
                continue
            # A report checked twice in one window (named twice) builds on itself.
            report = reports.setdefault(report_id, SimpleNamespace(**before))
            record_check(new_checks, report, check)
            change = apply_check(report, check, self.rules, held=held, now=now)
            if report.claimed_by == self.worker:
                report.claimed_by = report.lease_until = None
            if change is not None:
                events.append(
                    {
                        "at": check.at,
                        "actor": ACTOR,
                        "report_id": report_id,
                        "action": change.action,
                        "from_state": change.from_state,
                        "to_state": change.to_state,
                        "detail": change.detail,
                    }
                )
        _update_changed(session, loaded, reports)
        if new_checks.rows:
            session.execute(insert(Check.__table__), new_checks.rows)
        audit.record(session, events)
        return len(events)


class _Collector:
    """Takes the Check rows record_check() adds, as Core parameter sets."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, check: Check) -> None:
        # What was set, as the ORM would have inserted it (unset columns keep defaults).
        state = vars(check)
        self.rows.append({key: state[key] for key in _CHECK_COLUMNS if key in state})


def _update_changed(session, loaded: dict[int, dict], reports: dict[int, SimpleNamespace]):
    """UPDATE each report's changed columns only, as the ORM's flush did, with one
    executemany per set of changed columns (most of a window shares one)."""
    groups: dict[tuple[str, ...], list[dict]] = {}
    for report_id, report in reports.items():
        before = loaded[report_id]
        # Bind names must differ from column names in an UPDATE's SET: hence "v_".
        values = {
            f"v_{key}": value
            for key, value in vars(report).items()
            if value != before.get(key, value)
        }
        if values:
            values["report_id"] = report_id
            groups.setdefault(tuple(sorted(values)), []).append(values)
    for keys, rows in groups.items():
        statement = (
            update(_REPORTS)
            .where(_REPORTS.c.id == bindparam("report_id"))
            .values({_REPORT_COLUMNS[k[2:]].name: bindparam(k) for k in keys if k != "report_id"})
        )
        session.execute(statement, rows)
