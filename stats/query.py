"""The statistics' input, read from the store in one query, as columns.

A million reports must answer in under two seconds. Python's sqlite3 module builds ten
million Python objects for them, which alone takes longer than that; so on SQLite the
rows are read by the ADBC SQLite driver into Arrow columns (C all the way) and handed to
numpy. PostgreSQL, and an in-memory SQLite the driver cannot see, are read through the
driver's own cursor, with times turned into epoch seconds and states into codes by the
database itself. Both give ``stats.compute`` the same columns.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sqlalchemy.engine import make_url

from stats.columns import STATES, Columns, Factor, state_codes
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
# value further on: every column here is never NULL, with "" and -1 for "none".
_ARROW_SQL = f"""
    SELECT r.created_at, coalesce(r.first_notice_at, ''), coalesce(r.removed_at, ''),
           r.state, r.seen_online, r.reappearances, coalesce(h.asn, -1),
           coalesce(h.org, ''), coalesce(h.country, ''), r.category,
           coalesce(r.first_response_at, ''), coalesce(ns.bounced, 0), coalesce(ns.answered, 0)
    {_JOIN}
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
    # Imported here: pyarrow takes a few tenths of a second to import, and only the
    # statistics need it. The driver's low-level API, not its DB-API module: that one
    # imports pyarrow.dataset, and with it pandas where pandas is installed (a second).
    import adbc_driver_manager as adbc
    import adbc_driver_sqlite
    import pyarrow as pa

    def read(bounds: tuple[int, int | None]):
        low, high = bounds
        where = f"WHERE r.id > {int(low)}" + ("" if high is None else f" AND r.id <= {int(high)}")
        with adbc_driver_sqlite.connect(path) as database, adbc.AdbcConnection(database) as link:
            with adbc.AdbcStatement(link) as statement:
                # As the store's own connections wait: a checkpoint or a WAL recovery
                # under way would otherwise fail the read at once.
                statement.set_sql_query(f"PRAGMA busy_timeout = {int(busy_ms)}")
                statement.execute_update()
            with adbc.AdbcStatement(link) as statement:
                statement.set_options(**{"adbc.sqlite.query.batch_rows": str(_BATCH_ROWS)})
                # The rowid order: SQLite needs no sort for it.
                statement.set_sql_query(f"{_ARROW_SQL} {where} ORDER BY r.id")
                stream, _ = statement.execute_query()
                return pa.RecordBatchReader.from_stream(stream).read_all()

    # The driver lets go of the GIL while it reads, so slices read on threads take about
    # 1/n of the time. Each slice is its own read transaction: a report is read once,
    # though a write landing between two slices' starts may show in one and not the other.
    with ThreadPoolExecutor(len(slices)) as pool:
        tables = list(pool.map(read, slices))
    # A slice without rows (ids deleted by hand) comes back typed by no values at all, and
    # would not concatenate with the others.
    table = pa.concat_tables([t for t in tables if t.num_rows] or tables[:1])
    created, first, removed, state, seen, reappeared, asn, org, country, category = table.columns[
        :10
    ]
    responded, bounced, answered = table.columns[10:]
    states = _labels(state)
    asn_values = _numpy(asn)
    asn_labels, asn_codes = np.unique(asn_values, return_inverse=True)
    return Columns.of(
        created_at=_epoch(created),
        first_notice_at=_epoch(first),
        removed_at=_epoch(removed),
        state=state_codes(states.labels)[states.codes],
        seen_online=_numpy(seen).astype(bool),
        reappearances=_numpy(reappeared),
        asn=Factor(asn_codes.astype(np.int64), [None if a == -1 else int(a) for a in asn_labels]),
        org=_labels(org),
        country=_labels(country),
        category=_labels(category),
        first_response_at=_epoch(responded),
        notices_bounced=_numpy(bounced),
        notices_answered=_numpy(answered),
    )


def _numpy(column) -> np.ndarray:
    return column.to_numpy(zero_copy_only=False) if len(column) else np.array([], np.int64)


def _epoch(column) -> np.ndarray:
    """Stored UTC text times as epoch seconds, NaN for ""."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(column):
        return np.array([], dtype=np.float64)
    text = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
    micros = pc.cast(pc.cast(text, pa.timestamp("us")), pa.int64())
    return pc.divide(pc.cast(micros, pa.float64()), 1e6).to_numpy(zero_copy_only=False)


def _labels(column) -> Factor:
    """A text column as codes into its distinct values, "" standing for none."""
    if not len(column):
        return Factor(np.array([], dtype=np.int64), [])
    encoded = column.dictionary_encode().combine_chunks()
    labels = [value or None for value in encoded.dictionary.to_pylist()]
    return Factor(encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), labels)


def figures(store: Store, min_group: int, now: float | None = None) -> dict:
    """The `ntd stats --json` figures of everything in the store, as of ``now``."""
    return compute(
        load_columns(store), now=time.time() if now is None else now, min_group=min_group
    )
