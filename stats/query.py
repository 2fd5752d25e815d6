"""The statistics' input, read from the store in one query, as columns.

A million reports must answer in under two seconds, so this reads through the driver's
cursor, with times turned into epoch seconds and states into codes by the database
itself, and hands numpy columns to ``stats.compute``.
"""

from __future__ import annotations

import time

import numpy as np

from stats.columns import STATES, Columns
from stats.figures import compute
from store.db import Store

_EPOCH = {
    "sqlite": "(julianday({0}) - 2440587.5) * 86400.0",
    "postgresql": "EXTRACT(EPOCH FROM {0})::float8",
}
_STATE_CODE = (
    "CASE r.state "
    + " ".join(f"WHEN '{name}' THEN {code}" for code, name in enumerate(STATES))
    + " END"
)


def _sql(dialect: str) -> str:
    epoch = _EPOCH[dialect].format
    # Made of constants only: no input reaches this SQL.
    return f"""
        SELECT {epoch("r.created_at")}, {epoch("r.first_notice_at")}, {epoch("r.removed_at")},
               {_STATE_CODE}, r.seen_online, r.reappearances,
               h.asn, h.org, h.country, r.category
        FROM reports r
        LEFT JOIN hosting h ON h.report_id = r.id
    """  # noqa: S608


def load_columns(store: Store) -> Columns:
    # The driver's own cursor: SQLAlchemy's row objects cost more than the query here.
    connection = store.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(_sql(store.dialect))
        rows = cursor.fetchall()
        cursor.close()
    finally:
        connection.close()
    fields = list(zip(*rows, strict=True)) if rows else [()] * 10
    created, first, removed, state, seen, reappeared, asn, org, country, category = fields
    return Columns.of(
        created_at=created,
        first_notice_at=first,
        removed_at=removed,
        state=np.asarray(state, dtype=np.int8),
        seen_online=seen,
        reappearances=reappeared,
        asn=asn,
        org=org,
        country=country,
        category=category,
    )


def figures(store: Store, min_group: int, now: float | None = None) -> dict:
    """The `ntd stats --json` figures of everything in the store, as of ``now``."""
    return compute(
        load_columns(store), now=time.time() if now is None else now, min_group=min_group
    )
