"""The due-selection query at scale: its plan must use the index on next_due_at.

    .venv/bin/python bench/due_query.py [--reports N] [--database-url URL]

Fills a fresh store with N reports (most not due, as in a steady state), then prints
the database's plan for the claim statement and times a claim of one batch.
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

from store.db import open_store  # noqa: E402
from store.queue import claim_due  # noqa: E402
from store.types import utcnow  # noqa: E402


def fill(store, n: int) -> None:
    now = utcnow()
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO reports (url, canonical_url, url_key, category, state, paused, "
                "seen_online, reappearances, created_at, created_by, check_count, failures, "
                "next_due_at) VALUES (:u, :u, :k, 'A1', 'online', false, true, 0, :c, 'bench', "
                "1, 0,"
                " :d)"
            ),
            [
                {
                    "u": f"http://h{i % 997}.example.test/{i}",
                    "k": f"{i:064x}",
                    "c": now,
                    # One report in a thousand is due now; the rest within the next six hours.
                    "d": now - timedelta(minutes=1)
                    if i % 1000 == 0
                    else now + timedelta(seconds=(i * 7919) % 21600),
                }
                for i in range(n)
            ],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(args.database_url or f"sqlite:///{Path(tmp) / 'due.sqlite3'}")
        started = time.perf_counter()
        fill(store, args.reports)
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
