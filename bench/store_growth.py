"""Bytes the store takes per report and per re-check, against a row-per-check store.

    .venv/bin/python bench/store_growth.py [--reports N] [--rechecks K] [--database-url URL]

Queues N reports, then records K re-checks of each with an unchanged outcome, as a URL
re-checked hourly does, then one change of outcome each. The peer, measured in the same
run on the same database kind, is the obvious design: one ``checks`` row per fetch.
Each design gets a store of its own: a SQLite file, or with a PostgreSQL URL a database
of its own on that server, dropped at the end.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _stores import scratch_store  # noqa: E402

from intake.submissions import Submission, validate  # noqa: E402
from store import reports  # noqa: E402
from store.checks import CHECK_FIELDS, CheckResult, record_check  # noqa: E402
from store.db import open_store  # noqa: E402
from store.models import Check, Report  # noqa: E402
from store.types import utcnow  # noqa: E402


def size_of(store) -> int:
    if store.dialect == "sqlite":
        # Outside SQLAlchemy: our engine opens every transaction with BEGIN IMMEDIATE,
        # and a checkpoint cannot run inside one.
        connection = sqlite3.connect(store.engine.url.database, isolation_level=None)
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, free, size = (
            connection.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("page_count", "freelist_count", "page_size")
        )
        connection.close()
        return (pages - free) * size
    with store.engine.connect() as connection:
        return connection.execute(
            text(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            )
        ).scalar()


def check(at, outcome) -> CheckResult:
    return CheckResult(
        at=at,
        outcome=outcome,
        http_status=200 if outcome == "online" else 404,
        final_url="http://host.example/p/1.jpg",
        content_type="image/jpeg",
        bytes=48213,
        sha256="9f" * 32,
        ip="192.0.2.10",
        elapsed_ms=412,
    )


def fill(store, n: int, rechecks: int, row_per_check: bool) -> tuple[int, int, int]:
    start = utcnow()
    entries = [validate(Submission(f"http://host{i % 97}.example/p/{i}.jpg")) for i in range(n)]
    base = size_of(store)
    with store.session() as session:
        reports.queue(session, entries, actor="bench", now=start, default_category="A1")
    queued = size_of(store)
    for k in range(rechecks + 1):
        outcome = "online" if k < rechecks else "gone"
        at = start + timedelta(hours=k)
        with store.session() as session:
            if row_per_check:
                values = [
                    {
                        "report_id": i,
                        **{f: getattr(check(at, outcome), f) for f in ("at", *CHECK_FIELDS)},
                        "redirects": None,  # as ntd stores an empty chain
                    }
                    for i in range(1, n + 1)
                ]
                session.connection().execute(insert(Check.__table__), values)
            else:
                for report in session.query(Report).yield_per(1000):
                    record_check(session, report, check(at, outcome))
    return base, queued, size_of(store)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--rechecks", type=int, default=100)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite)")
    args = parser.parse_args()
    n, k = args.reports, args.rechecks
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for design in ("ntd", "row per check"):
            slug = "growth_" + design.replace(" ", "_")
            with scratch_store(args.database_url, Path(tmp), slug) as url:
                store = open_store(url)
                started = time.perf_counter()
                base, queued, final = fill(store, n, k, design != "ntd")
                results[design] = (queued - base, final - queued, time.perf_counter() - started)
                dialect = store.dialect
                store.close()
    print(
        f"{n:,} reports, each re-checked {k} times unchanged, then once changed "
        f"({n * (k + 1):,} checks), on {dialect}"
    )
    for design, (queued, checks, seconds) in results.items():
        print(
            f"  {design:<14} {queued / n:8.0f} bytes per report   "
            f"{checks / (n * (k + 1)):8.1f} bytes per re-check   ({seconds:.1f} s)"
        )
    ours, peer = results["ntd"][1], results["row per check"][1]
    print(
        f"  ratio: the row-per-check store grows {peer / max(ours, 1):.0f}x faster with re-checks"
    )


if __name__ == "__main__":
    main()
