"""How a check moves a report between states, and when it is due next (PRODUCT.md).

`gone`, `nxdomain` and `changed` remove at once. `error` and `replaced` remove only
after REMOVAL_CONFIRMATIONS of them in a row, counted at least RECHECK_INTERVAL apart;
`removed_at` is then the first failing check of that run. `denied` never removes.
`blocked` rejects a report never seen online, and counts as `error` once it was.
A pass held back by the outage guard records its checks but changes no state and
counts toward no confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from settings import Settings
from store.checks import CheckResult
from store.models import CLOSED, ONLINE, QUEUED, REJECTED, REMOVED, UNREACHABLE, Report

# Outcomes of a check.
(
    OUTCOME_ONLINE,
    CHANGED,
    REPLACED,
    GONE,
    NXDOMAIN,
    BLOCKED,
    DENIED,
    ERROR,
) = ("online", "changed", "replaced", "gone", "nxdomain", "blocked", "denied", "error")
OUTCOMES = (OUTCOME_ONLINE, CHANGED, REPLACED, GONE, NXDOMAIN, BLOCKED, DENIED, ERROR)
REMOVE_AT_ONCE = (GONE, NXDOMAIN, CHANGED)
AMBIGUOUS = (ERROR, REPLACED)


@dataclass(frozen=True)
class Rules:
    """The settings the state rules read."""

    recheck_interval: timedelta
    removal_confirmations: int
    reappearance_interval: timedelta
    reappearance_window: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        return cls(
            settings.recheck_interval,
            settings.removal_confirmations,
            settings.reappearance_interval,
            settings.reappearance_window,
        )


@dataclass(frozen=True)
class Change:
    """A state change a check caused, for the events table."""

    from_state: str
    to_state: str
    action: str  # "state", or "reappeared"
    detail: str


def apply_check(
    report: Report, check: CheckResult, rules: Rules, *, held: bool, now: datetime
) -> Change | None:
    """Move ``report`` as ``check`` says, unless ``held``; set when it is due next.

    ``now`` is when the check is written. A check asked for while this one was under
    way (a "re-check now", a provider's "Removed", the police's clearance: each makes
    the report due at the moment it is asked) is still owed, since this fetch came
    before it: the report stays due then.
    """
    asked = report.next_due_at
    before = report.state
    action = None
    if not held and before not in (REJECTED, CLOSED):
        action = _apply(report, check, rules)
    due = next_due(report, check.at, rules)
    if due is not None and asked is not None and check.at < asked <= now and asked < due:
        due = asked
    report.next_due_at = due
    if report.state == before and action is None:
        return None
    return Change(before, report.state, action or "state", check.outcome)


def _apply(report: Report, check: CheckResult, rules: Rules) -> str | None:
    outcome = check.outcome
    if outcome == BLOCKED:
        if not report.seen_online:
            report.state, report.reason = REJECTED, check.detail
            return None
        outcome = ERROR
    if outcome == OUTCOME_ONLINE:
        return _online(report, check)
    if outcome in REMOVE_AT_ONCE:
        _reset_failures(report)
        if report.state != REMOVED:
            report.state, report.removed_at = REMOVED, check.at
        return None
    if report.state == REMOVED:  # only content seen again reopens a removed report
        return None
    if outcome in AMBIGUOUS:
        _count_failure(report, check.at, rules)
        if report.failures >= rules.removal_confirmations:
            report.state, report.removed_at = REMOVED, report.failing_since
            return None
    report.state = UNREACHABLE  # an ambiguous failure not yet confirmed, or denied
    return None


def _online(report: Report, check: CheckResult) -> str | None:
    reappeared = report.state == REMOVED and report.seen_online
    if not report.seen_online:
        report.seen_online, report.first_online_at = True, check.at
    if report.first_sha256 is None and not check.truncated:
        # The first complete body seen online: what soft-404 answers are told from.
        report.first_sha256 = check.sha256
    if report.first_content_type is None:
        report.first_content_type = check.content_type
    report.last_online_at = check.at
    report.state = ONLINE
    _reset_failures(report)
    if reappeared:
        report.reappearances += 1
        report.removed_at = None
        return "reappeared"
    return None


def _count_failure(report: Report, at: datetime, rules: Rules) -> None:
    if report.failing_since is None:
        report.failing_since = at
    last = report.last_failure_counted_at
    if last is None or at - last >= rules.recheck_interval:
        report.failures += 1
        report.last_failure_counted_at = at


def _reset_failures(report: Report) -> None:
    report.failures = 0
    report.failing_since = report.last_failure_counted_at = None


def next_due(report: Report, at: datetime, rules: Rules) -> datetime | None:
    """When ``report`` should next be checked, after a check at ``at``; None for never."""
    if report.state == QUEUED:
        return at
    if report.state in (ONLINE, UNREACHABLE):
        return at + rules.recheck_interval
    if report.state == REMOVED:
        following = at + rules.reappearance_interval
        removed_at = report.removed_at or at
        return following if following <= removed_at + rules.reappearance_window else None
    return None
