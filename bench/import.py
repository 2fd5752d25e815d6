"""`ntd import` of 100,000 rows, against a bare executemany of the same rows.

    .venv/bin/python bench/import.py [--rows N] [--database-url URL]

The peer is the floor of any importer: sqlite3's executemany of pre-canonicalised rows
into one table with one unique index, with no validation, refs, fingerprints or events.
`ntd import` writes into a SQLite file, or with a PostgreSQL URL into a database of its
own on that server, dropped at the end.
"""

from __future__ import annotations

import argparse
import csv
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _stores import scratch_store  # noqa: E402

NTD = Path(sys.executable).with_name("ntd")


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["url", "ref", "sha256", "category"])
        for i in range(rows):
            # 1 row in 100 is bad, as in a real export with typos.
            url = f"htp:/bad-{i}" if i % 100 == 99 else f"http://host{i % 997}.example/p/{i}.jpg"
            writer.writerow([url, f"HL-{i // 10}", f"{i:064x}" if i % 3 == 0 else "", "A1"])


def run_ntd(csv_path: Path, database_url: str, workdir: Path) -> float:
    env = {**os.environ, "NTD_DATABASE_URL": database_url}
    started = time.perf_counter()
    result = subprocess.run(
        [str(NTD), "import", str(csv_path)], env=env, cwd=workdir, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        sys.exit(f"ntd import failed: {result.stderr[-2000:]}")
    print(f"  ntd says: {result.stdout.strip()}")
    return elapsed


def run_floor(csv_path: Path, workdir: Path) -> float:
    started = time.perf_counter()
    connection = sqlite3.connect(workdir / "floor.sqlite3")
    connection.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, url TEXT UNIQUE, ref TEXT)")
    with csv_path.open(newline="") as file:
        reader = csv.reader(file)
        next(reader)
        rows = [(row[0], row[1]) for row in reader]
    connection.executemany("INSERT OR IGNORE INTO r (url, ref) VALUES (?, ?)", rows)
    connection.commit()
    connection.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        csv_path = workdir / "reports.csv"
        write_csv(csv_path, args.rows)
        with scratch_store(args.database_url, workdir, "import") as database_url:
            print(f"importing {args.rows:,} rows into {database_url.split('?')[0]}")
            ntd = run_ntd(csv_path, database_url, workdir)
        floor = run_floor(csv_path, workdir)
    print(f"ntd import:          {ntd:6.2f} s  {args.rows / ntd:9,.0f} rows/s")
    print(f"bare executemany:    {floor:6.2f} s  {args.rows / floor:9,.0f} rows/s")
    print(f"ratio ntd/floor:     {ntd / floor:6.1f}x the time")


if __name__ == "__main__":
    main()
