"""Stores for the benchmarks: a scratch one of their own, and many reports in it.

A benchmark never writes into a database it was pointed at: given a PostgreSQL server,
it works in a fresh database of its own there and drops it at the end.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from store.types import utcnow

# The reports not due fall due over six hours, starting an hour from now: later than
# any benchmark runs.
LATER, SPREAD = 3600, 21600  # seconds


@contextlib.contextmanager
def scratch_store(server_url: str | None, directory: Path, name: str) -> Iterator[str]:
    """The URL of an empty store for ``name``, gone afterwards: a SQLite file in
    ``directory``, or, where ``server_url`` is PostgreSQL, a database ``ntd_bench_<name>``
    created on its server and dropped (with any connection left to it) at the end."""
    if server_url is None or make_url(server_url).get_backend_name() == "sqlite":
        yield f"sqlite:///{directory / name}.sqlite3"
        return
    admin_url = make_url(server_url)
    database = f"ntd_bench_{name}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            connection.execute(text(f"CREATE DATABASE {database}"))
        yield admin_url.set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        admin.dispose()


# Rows go in with one INSERT of many parameter sets, bypassing intake: a million reports
# through `ntd import` would take longer than the figure being measured.
def fill_reports(store, n: int, *, due_every: int | None = None) -> None:
    """Store ``n`` reports online on 997 hosts; one in ``due_every`` due now, the rest
    later (none due now when ``due_every`` is None)."""
    now = utcnow()

    def due(i: int):
        if due_every is not None and i % due_every == 0:
            return now - timedelta(minutes=1)
        return now + timedelta(seconds=LATER + (i * 7919) % SPREAD)

    with store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO reports (url, canonical_url, url_key, category, state, paused, "
                "seen_online, reappearances, created_at, created_by, check_count, failures, "
                "next_due_at) VALUES (:u, :u, :k, 'A1', 'online', false, true, 0, :c, "
                "'bench', 1, 0, :d)"
            ),
            [
                {
                    "u": f"http://h{i % 997}.example.test/{i}",
                    "k": f"{i:064x}",
                    "c": now,
                    "d": due(i),
                }
                for i in range(n)
            ],
        )
