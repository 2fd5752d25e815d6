"""The due-selection query at scale: its plan must use the index on next_due_at.

    .venv/bin/python bench/due_query.py [--reports N] [--database-url URL]

Fills a fresh store with N reports (most not due, as in a steady state), then prints
the database's plan for the claim statement and times a claim of one batch. The store
is a SQLite file, or with a PostgreSQL URL a database of its own on that server,
dropped at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _stores import fill_reports, scratch_store  # noqa: E402

from store.db import open_store  # noqa: E402
from store.queue import claim_due  # noqa: E402
from store.types import utcnow  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite)")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_store(args.database_url, Path(tmp), "due") as url,
    ):
        store = open_store(url)
        started = time.perf_counter()
        fill_reports(store, args.reports, due_every=1000)  # one in a thousand due now
        print(
            f"{args.reports:,} reports stored in {time.perf_counter() - started:.0f} s "
            f"({store.dialect})"
        )
        now = utcnow()
        with store.engine.connect() as connection:
            due = (
                "SELECT id FROM reports WHERE next_due_at <= :now AND (lease_until IS NULL "
                "OR lease_until < :now) ORDER BY next_due_at LIMIT 256"
            )
            explain = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
            for row in connection.execute(text(explain + due), {"now": _bind(store, now)}):
                print("  plan:", " | ".join(str(c) for c in row))
        with store.session() as session:
            started = time.perf_counter()
            claimed = claim_due(session, "bench", now=now, lease=timedelta(minutes=10), limit=256)
            took = time.perf_counter() - started
        print(f"claimed {len(claimed)} due reports in {took * 1000:.1f} ms")
        store.close()


def _bind(store, now):
    return now.replace(tzinfo=None).isoformat(sep=" ") if store.dialect == "sqlite" else now


if __name__ == "__main__":
    main()
