"""`ntd stats` over 1,000,000 reports on SQLite, against the naive SQL average.

    .venv/bin/python bench/stats.py [--reports N]

Loads synthetic reports straight into a fresh store (70% notified, lognormal removal
times, a fifth still online, 200 networks in 40 countries over 24 months), then times
the full `ntd stats --json` computation as the command runs it, and the peer: the
average time to removal of closed cases in one SQL query, which is what a naive report
shows (and why it flatters: the cases still online are left out).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stats.query import figures  # noqa: E402
from store.db import open_store  # noqa: E402

NTD = Path(sys.executable).with_name("ntd")
START = 1_700_000_000.0


def load(store, n: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    created = START + rng.uniform(0, 730 * 86400, n)
    notified = rng.random(n) < 0.7
    first_notice = created + rng.exponential(3600, n)
    removal = rng.lognormal(np.log(40 * 3600), 1.2, n)
    still_online = rng.random(n) < 0.2
    asn = rng.integers(0, 200, n)
    now = START + 760 * 86400
    removed_at = np.where(still_online, np.nan, first_notice + removal)
    removed_at[removed_at > now] = np.nan
    categories = np.array(["baseline", "A1", "A2", "B1", "B2"])[rng.integers(0, 5, n)]

    def stamp(t: float) -> str | None:
        return None if t != t else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))

    raw = store.engine.raw_connection()
    cursor = raw.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    # The store's connections leave transactions to SQLAlchemy; here one is opened by
    # hand, or every row would be a transaction of its own.
    cursor.execute("BEGIN")
    # Plain Python values from here: numpy scalars in a loop cost ten times more.
    asns, created_l, removed_l = asn.tolist(), created.tolist(), removed_at.tolist()
    notified_l, first_l, categories_l = (
        notified.tolist(),
        first_notice.tolist(),
        categories.tolist(),
    )
    hour_of = [int(t // 3600) for t in first_l]
    reports, hosting, links, notices = [], [], [], {}
    now_stamp = stamp(now)
    for i in range(n):
        url = f"http://h{asns[i]}.example.test/{i}.jpg"
        removed = removed_l[i]
        reports.append(
            (
                i + 1,
                url,
                url,
                f"{i:064x}",
                categories_l[i],
                "online" if removed != removed else "removed",
                0,
                1,
                0,
                stamp(created_l[i]),
                "bench",
                1,
                0,
                stamp(removed),
                stamp(hour_of[i] * 3600) if notified_l[i] else None,
            )
        )
        hosting.append(
            (
                i + 1,
                f"127.10.{asns[i]}.1",
                64500 + asns[i],
                f"Net {asns[i]}",
                _country(asns[i]),
                now_stamp,
            )
        )
        if notified_l[i]:
            # Reports are notified in batches: one notice per network per hour.
            key = (asns[i], hour_of[i])
            links.append((notices.setdefault(key, len(notices) + 1), i + 1))
    cursor.executemany(
        "INSERT INTO reports (id, url, canonical_url, url_key, category, state, paused, "
        "seen_online, reappearances, created_at, created_by, check_count, failures, removed_at,"
        " first_notice_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        reports,
    )
    cursor.executemany(
        "INSERT INTO hosting (report_id, ip, asn, org, country, resolved_at) VALUES (?,?,?,?,?,?)",
        hosting,
    )
    cursor.executemany(
        'INSERT INTO notices (id, kind, "to", created_at, sent_at, attempts) '
        "VALUES (?, 'notice', 'abuse@net.test', ?, ?, 1)",
        [(nid, stamp(hour * 3600), stamp(hour * 3600)) for (_, hour), nid in notices.items()],
    )
    cursor.executemany("INSERT INTO notice_reports (notice_id, report_id) VALUES (?,?)", links)
    raw.commit()
    raw.close()


def _country(asn: int) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[asn % 26] + "ABCDEFGHIJKLMN"[asn % 14]


def naive(store) -> float | None:
    with store.engine.connect() as connection:
        return connection.exec_driver_sql(
            "SELECT AVG((julianday(r.removed_at) - julianday(f.first_at)) * 86400.0) "
            "FROM reports r "
            "JOIN (SELECT nr.report_id, MIN(n.sent_at) first_at FROM notice_reports nr "
            "JOIN notices n ON n.id = nr.notice_id GROUP BY nr.report_id) f "
            "ON f.report_id = r.id WHERE r.removed_at IS NOT NULL"
        ).scalar()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'stats.sqlite3'}"
        store = open_store(url)
        started = time.perf_counter()
        load(store, args.reports)
        print(f"loaded {args.reports:,} reports in {time.perf_counter() - started:.1f} s")
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            result = figures(store, 5, now=START + 760 * 86400)
            runs.append(time.perf_counter() - started)
        started = time.perf_counter()
        average = naive(store)
        peer = time.perf_counter() - started
        env = {**os.environ, "NTD_DATABASE_URL": url}
        started = time.perf_counter()
        command = subprocess.run([str(NTD), "stats", "--json"], env=env, capture_output=True)
        whole = time.perf_counter() - started
        assert command.returncode == 0, command.stderr
        json.loads(command.stdout)
        store.close()
    print(
        f"statistics (query + Kaplan–Meier + {len(result['by_provider'])} providers, "
        f"{len(result['by_country'])} countries, {len(result['by_month'])} months): "
        f"best {min(runs):.2f} s, worst {max(runs):.2f} s; in order "
        + ", ".join(f"{r:.2f}" for r in runs)
        + " s (the first pays the imports of pyarrow and the ADBC driver, and of pandas "
        "where it is installed, as lifelines installs it here: pyarrow imports it)"
    )
    print(f"`ntd stats --json` as a command, start-up included: {whole:.2f} s")
    print(
        f"peer, the naive SQL average of closed cases: {peer:.2f} s "
        f"({min(runs) / peer:.1f}x its time)"
    )
    median = result["median_time_to_removal_s"]
    print(
        f"median time to removal, Kaplan–Meier: {median / 3600:.1f} h; "
        f"naive average of closed cases: {average / 3600:.1f} h "
        f"({result['online']:,} reports still online left out by the naive figure)"
    )


if __name__ == "__main__":
    main()
