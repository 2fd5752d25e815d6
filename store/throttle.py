"""Throttling of failed sign-ins and token look-ups, counted in the store.

Counting here rather than in memory lets every `ntd serve` process share one count, so a
guesser gains nothing from a second process or a restart. (The `limits` library, which
flask-limiter and slowapi build on, keeps its counts in memory, Redis, Memcached, MongoDB or
etcd, none of which an ntd install has; its moving windows also answer "how many in
the last minute", not "wait twice as long after each failure", which is what slows a
guesser down without locking the owner out for long.)

After ``failures`` failures for one key (``account:NAME``, ``address:IP``,
``token-address:IP``), each further try waits ``backoff``, then twice that after the
next failure, and so on up to ``most``. A try while waiting is refused before any
password is checked. A count left alone for ``most`` starts again from zero; a success
clears it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store.models import LoginThrottle
from store.writes import insert_ignoring_duplicates


@dataclass(frozen=True)
class Policy:
    failures: int
    backoff: timedelta
    most: timedelta


def key(kind: str, value: str) -> str:
    """``account:ann``; a value too long for the column (a name nobody has) as its hash."""
    value = value.strip().lower()
    if len(value) > 150:
        value = "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    return f"{kind}:{value}"


def wait(session: Session, keys: list[str], now: datetime) -> int | None:
    """Seconds to wait before trying again under any of ``keys``, or None.

    The keys' rows are locked until the transaction ends: tries at the same account or
    from the same address queue here, each seeing the failures counted before it, so
    parallel guesses get no more password checks than one after the other."""
    insert_ignoring_duplicates(
        session,
        LoginThrottle,
        [{"key": k, "failures": 0, "last_failure_at": now} for k in sorted(keys)],
    )
    rows = session.scalars(
        select(LoginThrottle)
        .where(LoginThrottle.key.in_(keys))
        .order_by(LoginThrottle.key)
        .with_for_update()
    ).all()
    until = [row.locked_until for row in rows if row.locked_until and row.locked_until > now]
    if not until:
        return None
    return max(1, math.ceil((max(until) - now).total_seconds()))


def failed(session: Session, key: str, policy: Policy, now: datetime) -> None:
    """Count one failure under ``key``; past ``policy.failures``, lock it for a while."""
    insert_ignoring_duplicates(
        session, LoginThrottle, [{"key": key, "failures": 0, "last_failure_at": now}]
    )
    row = session.scalar(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update())
    if now - row.last_failure_at > policy.most:
        row.failures = 0  # an old count is forgotten
    row.failures += 1
    row.last_failure_at = now
    beyond = row.failures - policy.failures
    if beyond >= 0:
        seconds = min(
            policy.backoff.total_seconds() * 2 ** min(beyond, 32), policy.most.total_seconds()
        )
        row.locked_until = now + timedelta(seconds=seconds)


def cleared(session: Session, keys: list[str]) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))
