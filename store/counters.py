"""Running totals kept in the store, for /metrics.

The work happens in `ntd run`, `ntd check` and the mail ways in; /metrics is answered by
`ntd serve`, another process, perhaps on another machine. So each piece of work adds what
it did to a row of ``counters`` (name, labels) in its own transaction, and /metrics reads
them: counters survive restarts, as Prometheus expects of a counter, and several workers
add up. Histograms are counters too: a ``_bucket`` row per bound, ``_sum`` and ``_count``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter as Tally
from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Counter
from store.writes import dialect_insert

logger = logging.getLogger(__name__)

# Pass durations, seconds: from a pass of a few reports to one of a million.
DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


def key(name: str, **labels: object) -> tuple[str, str]:
    return name, json.dumps({k: str(v) for k, v in sorted(labels.items())})


def add(session: Session, amounts: Mapping[tuple[str, str], float]) -> None:
    """Add each amount to its counter, made at zero when new, in one statement."""
    # In key order: two workers adding to the same rows then lock them in the same order
    # and cannot deadlock.
    rows = [
        {"name": n, "labels": lab, "value": float(v)}
        for (n, lab), v in sorted(amounts.items())
        if v
    ]
    if not rows:
        return
    insert = dialect_insert(session, Counter)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["name", "labels"],
            set_={"value": Counter.__table__.c.value + insert.excluded.value},
        ),
        rows,
    )


def observe(amounts: Tally, name: str, seconds: float, **labels: object) -> None:
    """Count one observation of a histogram into ``amounts`` (for ``add``)."""
    for bound in (*DURATION_BUCKETS, "+Inf"):
        if bound == "+Inf" or seconds <= bound:
            amounts[key(f"{name}_bucket", le=bound, **labels)] += 1
    amounts[key(f"{name}_sum", **labels)] += seconds
    amounts[key(f"{name}_count", **labels)] += 1


def record(store, amounts: Mapping[tuple[str, str], float]) -> None:
    """``add`` in a transaction of its own; a failure is logged, never the caller's."""
    try:
        with store.session() as session:
            add(session, amounts)
    except Exception as error:
        logger.warning("counters not updated: %s", error)


def read(session: Session) -> Iterable[tuple[str, dict[str, str], float]]:
    for row in session.scalars(select(Counter).order_by(Counter.name, Counter.labels)):
        yield row.name, json.loads(row.labels), row.value
