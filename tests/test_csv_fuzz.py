"""CSV import never crashes on bad bytes and never stores half a file."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from intake.csvfile import BadFile, BadRow, read_reports
from intake.queueing import queue_submissions
from intake.submissions import Submission
from store.models import Report

CELLS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "http://example.com/a",
            '=HYPERLINK("x")',
            "+1",
            "@SUM(1)",
            "\x00",
            "http://exa mple.com/",
            "https://bücher.example/ä",
            "A1",
            "a" * 64,
        ]
    ),
)
ROWS = st.lists(st.lists(CELLS, min_size=0, max_size=5), max_size=8)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"])


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=ROWS, encoding=ENCODINGS, junk=st.binary(max_size=30), header=st.booleans())
def test_import_of_any_file_is_rows_or_a_clear_refusal(
    store, tmp_path, rows, encoding, junk, header
):
    lines = (["url,ref,sha256,category"] if header else []) + [
        ",".join('"' + cell.replace('"', '""') + '"' for cell in row) for row in rows
    ]
    try:
        data = "\n".join(lines).encode(encoding, errors="replace") + junk
    except UnicodeEncodeError:
        return
    path = tmp_path / "reports.csv"
    path.write_bytes(data)
    with store.session() as session:
        before = session.scalar(select(func.count()).select_from(Report))
    try:
        parsed = list(read_reports(path))
    except BadFile as error:
        assert str(error)  # refused whole: nothing was stored
        with store.session() as session:
            assert session.scalar(select(func.count()).select_from(Report)) == before
        return
    submissions = [row for row in parsed if isinstance(row, Submission)]
    assert all(isinstance(row, Submission | BadRow) for row in parsed)
    assert all(row.reason for row in parsed if isinstance(row, BadRow))
    accepted, rejected = queue_submissions(
        store, submissions, actor="fuzz", default_category="baseline"
    )
    assert all(bad.reason for bad in rejected)
    with store.session() as session:
        stored = set(session.scalars(select(Report.canonical_url)))
    assert {q.canonical_url for q in accepted} <= stored
    assert all(url.startswith(("http://", "https://")) for url in stored)
