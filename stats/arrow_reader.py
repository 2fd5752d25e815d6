"""The statistics' columnar read of a SQLite store, run in a process of its own.

The ADBC driver carries its own copy of SQLite. Two copies of SQLite must never open the
same database in one process: POSIX locks belong to the process, so when one copy closes
its file it drops the other's locks, and the last to close deletes the write-ahead log
the other still writes to, making its later commits invisible to every other process.
`ntd serve` and the commands hold the store open through Python's sqlite3, so the read
runs here, in a child process (``python -m stats.arrow_reader``), which hands its columns
back as one Arrow IPC stream on stdout: times as epoch seconds, labels dictionary-encoded.

Input, on stdin: JSON ``{"path", "sql", "notices_sql", "slices", "busy_ms", "batch_rows"}``:
``sql`` reads the reports (its last column their id), ``notices_sql`` each notice's
representative report with whether it bounced and was answered, summed here per report.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor

TIMES = (0, 1, 2, 10)  # created_at, first_notice_at, removed_at, first_response_at
LABELS = (3, 7, 8, 9)  # state, org, country, category


def read(path: str, sql: str, slices: list, busy_ms: int, batch_rows: int, notices_sql: str):
    """(the reports' table, the notices' table), each read in its own transaction."""
    # The driver's low-level API, not its DB-API module: that one imports
    # pyarrow.dataset, and with it pandas where pandas is installed (a second).
    import adbc_driver_manager as adbc
    import adbc_driver_sqlite
    import pyarrow as pa

    def one(bounds):
        if bounds is None:
            return query(notices_sql)
        low, high = bounds
        where = f"WHERE r.id > {int(low)}" + ("" if high is None else f" AND r.id <= {int(high)}")
        # The rowid order: SQLite needs no sort for it.
        return query(f"{sql} {where} ORDER BY r.id")

    def query(text: str):
        with adbc_driver_sqlite.connect(path) as database, adbc.AdbcConnection(database) as link:
            with adbc.AdbcStatement(link) as statement:
                # As the store's own connections wait: a checkpoint or a WAL recovery
                # under way would otherwise fail the read at once.
                statement.set_sql_query(f"PRAGMA busy_timeout = {int(busy_ms)}")
                statement.execute_update()
            with adbc.AdbcStatement(link) as statement:
                statement.set_options(**{"adbc.sqlite.query.batch_rows": str(int(batch_rows))})
                statement.set_sql_query(text)
                stream, _ = statement.execute_query()
                return pa.RecordBatchReader.from_stream(stream).read_all()

    # The driver lets go of the GIL while it reads, so slices read on threads take about
    # 1/n of the time. Each slice is its own read transaction: a report is read once,
    # though a write landing between two slices' starts may show in one and not the other.
    with ThreadPoolExecutor(len(slices) + 1) as pool:
        *tables, notices = list(pool.map(one, [*slices, None]))
    # A slice without rows (ids deleted by hand) comes back typed by no values at all, and
    # would not concatenate with the others.
    return pa.concat_tables([t for t in tables if t.num_rows] or tables[:1]), notices


def encode(table, notices):
    """Times as epoch seconds (NaN for none), labels as dictionaries, and each report's
    count of the notices it represents that bounced and were answered."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for index, column in enumerate(table.columns[:-1]):
        if not len(column):  # no rows: the driver typed the columns by no values at all
            kind = pa.float64() if index in TIMES else pa.int64()
            kind = pa.dictionary(pa.int32(), pa.string()) if index in LABELS else kind
            columns.append(pa.array([], type=kind))
            continue
        if index in TIMES:
            text = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
            micros = pc.cast(pc.cast(text, pa.timestamp("us")), pa.int64())
            column = pc.fill_null(pc.divide(pc.cast(micros, pa.float64()), 1e6), float("nan"))
        elif index in LABELS:
            column = column.cast(pa.string()).dictionary_encode()
        columns.append(column.combine_chunks())
    ids = table.columns[-1].to_numpy() if table.num_rows else np.array([], dtype=np.int64)
    bounced, answered = np.zeros(len(ids), np.int64), np.zeros(len(ids), np.int64)
    if notices.num_rows and len(ids):
        rep, failed, replied = (c.to_numpy().astype(np.int64) for c in notices.columns)
        at = np.searchsorted(ids, rep)  # ids ascend: the reports were read in id order
        found = (at < len(ids)) & (ids[np.minimum(at, len(ids) - 1)] == rep)
        np.add.at(bounced, at[found], failed[found])
        np.add.at(answered, at[found], replied[found])
    columns += [pa.array(bounced), pa.array(answered)]
    return pa.table(columns, names=[f"c{i}" for i in range(len(columns))])


def main() -> None:
    import pyarrow as pa

    job = json.load(sys.stdin)
    table = encode(
        *read(
            job["path"],
            job["sql"],
            job["slices"],
            job["busy_ms"],
            job["batch_rows"],
            job["notices_sql"],
        )
    )
    with pa.ipc.new_stream(sys.stdout.buffer, table.schema) as writer:
        writer.write_table(table)


if __name__ == "__main__":
    main()
