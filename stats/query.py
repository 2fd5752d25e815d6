"""The statistics' input, read from the store in one query, as columns.

A million reports must answer in under two seconds. Python's sqlite3 module builds ten
million Python objects for them, which alone takes longer than that; so on SQLite the
rows are read by the ADBC SQLite driver into Arrow columns (C all the way), in a child
process (stats.arrow_reader says why), and handed to numpy. PostgreSQL, and an in-memory
SQLite the driver cannot see, are read through the driver's own cursor, with times turned
into epoch seconds and states into codes by the database itself. Both give
``stats.compute`` the same columns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import numpy as np
from sqlalchemy.engine import make_url

from stats.columns import STATES, Columns, Factor, state_codes
from stats.figures import compute
from store.db import Store
from store.exceptions import StoreError

_EPOCH = {
    "sqlite": "(julianday({0}) - 2440587.5) * 86400.0",
    "postgresql": "EXTRACT(EPOCH FROM {0})::float8",
}
_STATE_CODE = (
    "CASE r.state "
    + " ".join(f"WHEN '{name}' THEN {code}" for code, name in enumerate(STATES))
    + " END"
)
# Each notice counted once, at its representative report: the lowest of those the
# statistics count (not rejected or closed; see stats.columns).
_NOTICES = """
    SELECT rep AS report_id, sum(bounced) AS bounced, sum(answered) AS answered FROM (
        SELECT min(nr.report_id) AS rep,
               max(CASE WHEN n.failed_at IS NOT NULL THEN 1 ELSE 0 END) AS bounced,
               max(CASE WHEN n.answered_at IS NOT NULL THEN 1 ELSE 0 END) AS answered
        FROM notices n JOIN notice_reports nr ON nr.notice_id = n.id
        JOIN reports counted ON counted.id = nr.report_id
        WHERE counted.state NOT IN ('rejected', 'closed')
        GROUP BY n.id
    ) per_notice GROUP BY rep
"""
_JOIN = f"""FROM reports r LEFT JOIN hosting h ON h.report_id = r.id
    LEFT JOIN ({_NOTICES}) ns ON ns.report_id = r.id"""

# For the Arrow reader. The driver types each column by the values of its first batch,
# so a column that is NULL all through it would be typed wrongly and fail on the first
# value further on: every column here is never NULL, with "" and -1 for "none". The
# notices' counts come from a query of their own (_ARROW_NOTICES), added up in the reader:
# SQLite would scan the grouped notices once per report to join them here.
_ARROW_SQL = """
    SELECT r.created_at, coalesce(r.first_notice_at, ''), coalesce(r.removed_at, ''),
           r.state, r.seen_online, r.reappearances, coalesce(h.asn, -1),
           coalesce(h.org, ''), coalesce(h.country, ''), r.category,
           coalesce(r.first_response_at, ''), r.id
    FROM reports r LEFT JOIN hosting h ON h.report_id = r.id
"""
_ARROW_NOTICES = """
    SELECT min(nr.report_id),
           max(CASE WHEN n.failed_at IS NOT NULL THEN 1 ELSE 0 END),
           max(CASE WHEN n.answered_at IS NOT NULL THEN 1 ELSE 0 END)
    FROM notices n JOIN notice_reports nr ON nr.notice_id = n.id
    JOIN reports counted ON counted.id = nr.report_id
    WHERE counted.state NOT IN ('rejected', 'closed')
    GROUP BY n.id
"""
_BATCH_ROWS = 131_072
_SLICE_ROWS = 250_000  # fewer reports per reader are not worth a thread
_MOST_READERS = 4


def _sql(dialect: str) -> str:
    epoch = _EPOCH[dialect].format
    # Made of constants only: no input reaches this SQL.
    return f"""
        SELECT {epoch("r.created_at")}, {epoch("r.first_notice_at")}, {epoch("r.removed_at")},
               {_STATE_CODE}, r.seen_online, r.reappearances,
               h.asn, h.org, h.country, r.category, {epoch("r.first_response_at")},
               coalesce(ns.bounced, 0), coalesce(ns.answered, 0)
        {_JOIN}
        ORDER BY r.id
    """  # noqa: S608


def load_columns(store: Store) -> Columns:
    path = make_url(store.url).database if store.dialect == "sqlite" else None
    if path and path != ":memory:" and not path.startswith("file:"):
        with store.engine.connect() as connection:
            first, last = connection.exec_driver_sql("SELECT min(id), max(id) FROM reports").one()
        busy_ms = int(store.busy_timeout.total_seconds() * 1000)
        return _arrow_columns(path, _slices(first or 0, last or 0), busy_ms)
    return _cursor_columns(store)


def _slices(first: int, last: int) -> list[tuple[int, int | None]]:
    """Report id ranges to read side by side, one per core up to four; the last one is
    open-ended so that nothing added meanwhile falls between two."""
    count = min(os.cpu_count() or 1, _MOST_READERS, max(1, (last - first + 1) // _SLICE_ROWS))
    bounds = [first - 1 + (last - first + 1) * k // count for k in range(count)]
    return [(low, high) for low, high in zip(bounds, [*bounds[1:], None], strict=True)]


def _cursor_columns(store: Store) -> Columns:
    # The driver's own cursor: SQLAlchemy's row objects cost more than the query here.
    connection = store.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(_sql(store.dialect))
        rows = cursor.fetchall()
        cursor.close()
    finally:
        connection.close()
    fields = list(zip(*rows, strict=True)) if rows else [()] * 13
    created, first, removed, state, seen, reappeared, asn, org, country, category = fields[:10]
    responded, bounced, answered = fields[10:]
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
        first_response_at=responded,
        notices_bounced=bounced,
        notices_answered=answered,
    )


def _arrow_columns(path: str, slices: list[tuple[int, int | None]], busy_ms: int) -> Columns:
    # In a child process: see stats.arrow_reader for why it must not be this one.
    import pyarrow as pa

    job = {
        "path": path,
        "sql": _ARROW_SQL,
        "notices_sql": _ARROW_NOTICES,
        "slices": slices,
        "busy_ms": busy_ms,
        "batch_rows": _BATCH_ROWS,
    }
    child = subprocess.run(
        [sys.executable, "-m", "stats.arrow_reader"],
        input=json.dumps(job).encode(),
        capture_output=True,
        check=False,
    )
    if child.returncode != 0:
        last = (child.stderr.decode("utf-8", "replace").strip().splitlines() or ["(nothing)"])[-1]
        raise StoreError(f"the statistics could not read {path}: {last}")
    table = pa.ipc.open_stream(child.stdout).read_all()
    created, first, removed, state, seen, reappeared, asn, org, country, category = table.columns[
        :10
    ]
    responded, bounced, answered = table.columns[10:]
    states = _labels(state)
    asn_values = _numpy(asn)
    asn_labels, asn_codes = np.unique(asn_values, return_inverse=True)
    return Columns.of(
        created_at=_numpy(created),
        first_notice_at=_numpy(first),
        removed_at=_numpy(removed),
        state=state_codes(states.labels)[states.codes],
        seen_online=_numpy(seen).astype(bool),
        reappearances=_numpy(reappeared),
        asn=Factor(asn_codes.astype(np.int64), [None if a == -1 else int(a) for a in asn_labels]),
        org=_labels(org),
        country=_labels(country),
        category=_labels(category),
        first_response_at=_numpy(responded),
        notices_bounced=_numpy(bounced),
        notices_answered=_numpy(answered),
    )


def _numpy(column) -> np.ndarray:
    return column.to_numpy(zero_copy_only=False) if len(column) else np.array([], np.int64)


def _labels(column) -> Factor:
    """A dictionary column as codes into its distinct values, "" standing for none."""
    if not len(column):
        return Factor(np.array([], dtype=np.int64), [])
    encoded = column.combine_chunks()
    labels = [value or None for value in encoded.dictionary.to_pylist()]
    return Factor(encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), labels)


def figures(store: Store, min_group: int, now: float | None = None) -> dict:
    """The `ntd stats --json` figures of everything in the store, as of ``now``."""
    from stats import submissions

    now = time.time() if now is None else now
    result = compute(load_columns(store), now=now, min_group=min_group)
    with store.session() as session:
        result["submissions"] = submissions.figures(session, datetime.fromtimestamp(now, UTC))
    return result
