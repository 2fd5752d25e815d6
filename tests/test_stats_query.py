"""The statistics' input read from a real store: what `ntd stats` computes from.

On SQLite the reports are read by the ADBC driver into Arrow columns, in slices on
threads; elsewhere through the driver's cursor. Both must give the columns the records
would, whatever the data holds: NULLs, sub-second times, text outside ASCII.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from stats import query
from stats.columns import STATES, Columns, Record
from store.models import Hosting, Report

START = datetime(2026, 1, 1, tzinfo=UTC)


def fill(store, count: int, seed: int = 5, nulls_first: int = 0) -> list[Record]:
    """``count`` reports of every kind; the first ``nulls_first`` have no notice, no
    removal and no hosting at all. Returns them as the statistics should see them."""
    rng = random.Random(seed)
    records = []
    with store.session() as session:
        for i in range(count):
            created = START + timedelta(seconds=rng.uniform(0, 90 * 86400))
            bare = i < nulls_first
            notified = (
                None
                if bare or rng.random() < 0.3
                else created
                + timedelta(seconds=rng.uniform(0, 7200), microseconds=rng.randrange(10**6))
            )
            state = "online" if bare else rng.choice(STATES)
            removed = (
                notified + timedelta(hours=rng.uniform(1, 400))
                if notified and state == "removed"
                else None
            )
            category = rng.choice(["baseline", "A1", "B2"])
            report = Report(
                url=f"http://h{i}.test/",
                canonical_url=f"http://h{i}.test/",
                url_key=f"{i:064x}",
                category=category,
                state=state,
                seen_online=not bare and rng.random() < 0.8,
                reappearances=rng.choice([0, 0, 1, 2]),
                created_at=created,
                created_by="tester",
                first_notice_at=notified,
                removed_at=removed,
            )
            session.add(report)
            session.flush()
            asn = org = country = None
            if not bare and rng.random() < 0.9:
                asn = rng.choice([None, 64500, 64501, 4_200_000_000])
                org = rng.choice([None, "Example Hosting BV", "Hébergeur Ünïcode ✓", "ACME"])
                country = rng.choice([None, "NL", "DE", "US"])
                session.add(
                    Hosting(
                        report_id=report.id,
                        ip="127.10.0.1",
                        asn=asn,
                        org=org,
                        country=country,
                        resolved_at=created,
                    )
                )
            records.append(
                Record(
                    created.timestamp(),
                    notified.timestamp() if notified else None,
                    removed.timestamp() if removed else None,
                    state,
                    report.seen_online,
                    report.reappearances,
                    asn,
                    org,
                    country,
                    category,
                )
            )
    return records


def assert_same(got: Columns, want: Columns) -> None:
    for name in ("created_at", "first_notice_at", "removed_at"):
        # julianday() arithmetic on SQLite leaves a few microseconds of float error.
        np.testing.assert_allclose(getattr(got, name), getattr(want, name), atol=1e-3, rtol=0)
    for name in ("state", "seen_online", "reappearances"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
    for name in ("asn", "org", "country", "category"):
        got_labels, want_labels = getattr(got, name), getattr(want, name)
        assert [got_labels.labels[c] for c in got_labels.codes] == [
            want_labels.labels[c] for c in want_labels.codes
        ], name


def test_the_store_reads_as_the_records_would(store):
    records = fill(store, 300)
    assert_same(query.load_columns(store), Columns.from_records(records))


def test_an_empty_store_reads_as_no_reports(store):
    columns = query.load_columns(store)
    assert len(columns.state) == 0
    figures = query.figures(store, 5, now=START.timestamp())
    assert figures["total"] == 0


def test_sqlite_slices_on_threads_read_every_report_once(tmp_path, monkeypatch):
    from store.db import open_store

    store = open_store(f"sqlite:///{tmp_path / 'ntd.sqlite3'}")
    # Small slices and batches: four readers, and a first batch that is NULL all through
    # (the driver types a column by its first batch).
    monkeypatch.setattr(query, "_SLICE_ROWS", 50)
    monkeypatch.setattr(query, "_BATCH_ROWS", 16)
    monkeypatch.setattr(query.os, "cpu_count", lambda: 8)
    records = fill(store, 400, seed=9, nulls_first=60)
    slices = query._slices(1, 400)
    assert len(slices) == 4
    arrow = query.load_columns(store)
    assert_same(arrow, Columns.from_records(records))
    assert_same(arrow, query._cursor_columns(store))
    store.close()


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (1, 1, [(0, None)]),
        (1, 1_000_000, [(0, 500_000), (500_000, None)]),
        (101, 200, [(100, None)]),
    ],
)
def test_slices_cover_the_ids_without_overlap(first, last, expected, monkeypatch):
    monkeypatch.setattr(query.os, "cpu_count", lambda: 2)
    assert query._slices(first, last) == expected


def test_sqlite_slices_without_reports_are_skipped(tmp_path, monkeypatch):
    """Ids deleted by hand (an erasure request) leave a slice with no rows; the read
    must not trip over it."""
    from sqlalchemy import text

    from store.db import open_store

    store = open_store(f"sqlite:///{tmp_path / 'ntd.sqlite3'}")
    monkeypatch.setattr(query, "_SLICE_ROWS", 50)
    monkeypatch.setattr(query.os, "cpu_count", lambda: 8)
    records = fill(store, 400, seed=11)
    with store.session() as session:
        session.execute(text("DELETE FROM hosting WHERE report_id BETWEEN 101 AND 300"))
        session.execute(text("DELETE FROM reports WHERE id BETWEEN 101 AND 300"))
    kept = records[:100] + records[300:]
    assert_same(query.load_columns(store), Columns.from_records(kept))
    store.close()


def test_reading_the_statistics_leaves_the_store_s_write_ahead_log_alone(tmp_path):
    """The columnar read uses a second copy of SQLite; in this process it would drop the
    store's locks and delete its WAL, hiding every later commit from other processes."""
    import sqlite3

    from store.db import open_store

    path = tmp_path / "ntd.sqlite3"
    store = open_store(f"sqlite:///{path}")
    try:
        fill(store, 20)
        query.figures(store, min_group=1)
        with store.session() as session:
            session.get(Report, 1).state = "closed"
        assert Path(f"{path}-wal").exists()
        other = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            assert other.execute("SELECT state FROM reports WHERE id = 1").fetchall() == [
                ("closed",)
            ]
        finally:
            other.close()
    finally:
        store.close()
