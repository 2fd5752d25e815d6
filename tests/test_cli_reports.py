"""``ntd add``, ``import``, ``show``, ``pause``, ``resume`` and ``close``, as PRODUCT.md says.

Each test runs on SQLite and on PostgreSQL (the ``ntd`` fixture takes ``database_url``).
"""

from __future__ import annotations

import json

from sqlalchemy import func, select

from store.db import open_store
from store.models import Event, Report, ReportRef

SHA_A = "a" * 64
SHA_B = "B" * 64


def show(ntd, key) -> dict:
    result = ntd("show", str(key), "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def count_reports(database_url) -> int:
    store = open_store(database_url)
    with store.session() as session:
        count = session.scalar(select(func.count()).select_from(Report))
    store.close()
    return count


def test_add_prints_id_and_canonical_url_in_input_order(ntd):
    result = ntd("add", "HTTP://Example.com/b#x", "http://example.com/a", "--ref", "C-1")
    assert result.exit_code == 0
    assert result.stdout == "1\thttp://example.com/b\n2\thttp://example.com/a\n"
    assert result.stderr == ""


def test_rejected_inputs_are_named_and_the_accepted_stay_queued(ntd, database_url):
    result = ntd("add", "ftp://example.com/", "http://example.com/ok", "http://exa mple.com/")
    assert result.exit_code == 1
    assert result.stdout == "1\thttp://example.com/ok\n"
    assert "'ftp://example.com/': scheme 'ftp' is not http or https" in result.stderr
    assert "'http://exa mple.com/': not a valid URL" in result.stderr
    assert count_reports(database_url) == 1
    assert show(ntd, 1)["state"] == "queued"


def test_private_addresses_are_accepted_at_intake(ntd):
    result = ntd("add", "http://0x7f.1/x", "http://[::1]/", "http://169.254.169.254/latest")
    assert result.exit_code == 0
    assert [line.split("\t")[1] for line in result.stdout.splitlines()] == [
        "http://127.0.0.1/x",
        "http://[::1]/",
        "http://169.254.169.254/latest",
    ]


def test_show_json_has_the_product_shape(ntd):
    ntd("add", "http://example.com/a", "--ref", "C-1", "--sha256", SHA_A, "--category", "A1")
    view = show(ntd, 1)
    for key in [
        "id",
        "url",
        "canonical_url",
        "ref",
        "refs",
        "category",
        "sha256",
        "reason",
        "state",
        "seen_online",
        "paused",
        "reappearances",
        "created_at",
        "first_online_at",
        "last_online_at",
        "removed_at",
        "hosting",
        "check_count",
        "checks",
        "notices",
    ]:
        assert key in view, key
    assert view["url"] == "http://example.com/a"
    assert (view["ref"], view["refs"], view["category"]) == ("C-1", ["C-1"], "A1")
    assert view["sha256"] == [SHA_A]
    assert (view["state"], view["seen_online"], view["paused"]) == ("queued", False, False)
    assert view["created_at"].endswith("Z")
    assert (view["check_count"], view["checks"], view["notices"]) == (0, [], [])


def test_show_finds_a_report_by_its_url_in_any_spelling(ntd):
    ntd("add", "http://example.com/a%20b")
    assert show(ntd, "HTTP://EXAMPLE.com:80/a b#frag")["id"] == 1


def test_show_of_a_missing_report_exits_1(ntd):
    result = ntd("show", "42")
    assert result.exit_code == 1
    assert result.stderr == "ntd: no report with id 42\n"
    result = ntd("show", "http://never.example/")
    assert result.exit_code == 1
    assert "no report tracks http://never.example/" in result.stderr


def test_the_default_category_comes_from_settings(ntd):
    ntd.env["NTD_DEFAULT_CATEGORY"] = "B2"
    ntd("add", "http://example.com/a")
    assert show(ntd, 1)["category"] == "B2"


def test_re_adding_a_tracked_url_returns_its_report_and_adds_the_ref(ntd, database_url):
    ntd("add", "http://example.com/a", "--ref", "C-1")
    result = ntd("add", "http://EXAMPLE.com/a#again", "--ref", "C-2", "--sha256", SHA_B)
    assert result.stdout == "1\thttp://example.com/a\n"
    view = show(ntd, 1)
    assert (view["ref"], view["refs"]) == ("C-1", ["C-1", "C-2"])
    assert view["sha256"] == [SHA_B.lower()]
    assert count_reports(database_url) == 1


def _set_state(database_url, report_id, state):
    store = open_store(database_url)
    with store.session() as session:
        report = session.get(Report, report_id)
        report.state, report.next_due_at = state, None
    store.close()


def test_re_adding_requeues_removed_and_closed_but_not_rejected(ntd, database_url):
    ntd(
        "add",
        "http://example.com/removed",
        "http://example.com/closed",
        "http://example.com/rejected",
    )
    _set_state(database_url, 1, "removed")
    assert ntd("close", "2", "--reason", "duplicate of another case").exit_code == 0
    _set_state(database_url, 3, "rejected")
    result = ntd(
        "add",
        "http://example.com/removed",
        "http://example.com/closed",
        "http://example.com/rejected",
    )
    assert result.exit_code == 0
    assert [show(ntd, i)["state"] for i in (1, 2, 3)] == ["queued", "queued", "rejected"]
    assert show(ntd, 2)["reason"] is None
    assert show(ntd, 1)["next_check_at"] is not None


def test_pause_resume_and_close_record_who_did_it(ntd, database_url):
    ntd("add", "http://example.com/a")
    assert ntd("pause", "1").stdout == "report 1 paused\n"
    assert show(ntd, 1)["paused"] is True
    assert ntd("pause", "1").stdout == "report 1 was already so\n"
    assert ntd("resume", "http://example.com/a").stdout == "report 1 resumed\n"
    assert ntd("close", "1", "--reason", "law enforcement request").exit_code == 0
    view = show(ntd, 1)
    assert (view["state"], view["reason"], view["next_check_at"]) == (
        "closed",
        "law enforcement request",
        None,
    )
    store = open_store(database_url)
    with store.session() as session:
        events = session.execute(
            select(Event.action, Event.actor, Event.to_state).order_by(Event.id)
        ).all()
    store.close()
    assert show(ntd, 1)["created_by"] == "analyst1"
    assert [tuple(e) for e in events] == [
        ("queued", "analyst1", None),
        ("paused", "analyst1", None),
        ("resumed", "analyst1", None),
        ("closed", "analyst1", "closed"),
    ]


def test_close_needs_a_reason(ntd):
    ntd("add", "http://example.com/a")
    assert ntd("close", "1").exit_code == 2
    assert ntd("close", "1", "--reason", "  ").exit_code == 2
    assert show(ntd, 1)["state"] == "queued"


def test_usage_errors_exit_2_and_store_nothing(ntd, database_url):
    assert ntd("add", "http://example.com/a", "--sha256", "xyz").exit_code == 2
    assert ntd("add", "http://example.com/a", "--category", "C").exit_code == 2
    assert ntd("add").exit_code == 2
    assert count_reports(database_url) == 0


def test_a_bad_setting_exits_2_naming_it(ntd):
    ntd.env["NTD_LEASE_TTL"] = "forever"
    result = ntd("add", "http://example.com/a")
    assert result.exit_code == 2
    assert "NTD_LEASE_TTL: 'forever' is not a duration" in result.stderr


def test_import_stores_valid_rows_and_names_bad_lines(ntd, tmp_path, database_url):
    csv_file = tmp_path / "reports.csv"
    csv_file.write_bytes(
        "\ufeffURL,ref,sha256,category\n"
        f"http://example.com/1,C-1,{SHA_A},A1\n"
        "ftp://example.com/2,C-2,,\n"
        "\n"
        "http://example.com/3,C-3,not-a-hash,\n"
        "http://example.com/4,C-4,,Z9\n"
        '"http://example.com/5\n",C-5,,\n'
        "http://example.com/1,C-6,,\n"
        ",C-7,,\n".encode()
        + b"http://example.com/\xff,C-8,,\n"
    )
    result = ntd("import", str(csv_file))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert "line 3: scheme 'ftp' is not http or https: 'ftp://example.com/2'" in lines[0]
    assert "line 5: 'not-a-hash' is not a SHA-256" in lines[1]
    assert "line 6: category 'Z9' is not one of baseline, A1, A2, B1, B2" in lines[2]
    assert "line 10: no url" in lines[3]
    assert "line 11: not UTF-8 text" in lines[4]
    assert result.stdout.endswith(
        "3 rows accepted (2 new, 1 already tracked, 0 queued again), 5 rejected\n"
    )
    assert count_reports(database_url) == 2
    assert show(ntd, 1)["refs"] == ["C-1", "C-6"]
    assert show(ntd, 2)["canonical_url"] == "http://example.com/5"


def test_import_reads_utf16_from_spreadsheets(ntd, tmp_path):
    csv_file = tmp_path / "reports.csv"
    csv_file.write_bytes("url,ref\nhttp://bücher.example/,C-1\n".encode("utf-16"))
    result = ntd("import", str(csv_file))
    assert result.exit_code == 0, result.stderr
    assert show(ntd, 1)["canonical_url"] == "http://xn--bcher-kva.example/"


def test_import_refuses_a_file_without_url_column_and_stores_nothing(ntd, tmp_path, database_url):
    csv_file = tmp_path / "reports.csv"
    csv_file.write_text("link,ref\nhttp://example.com/,C-1\n")
    result = ntd("import", str(csv_file))
    assert result.exit_code == 1
    assert "the header has no url column (found: link, ref)" in result.stderr
    (tmp_path / "empty.csv").write_text("")
    assert "the file is empty" in ntd("import", str(tmp_path / "empty.csv")).stderr
    assert "cannot read it" in ntd("import", str(tmp_path / "absent.csv")).stderr
    assert count_reports(database_url) == 0


def test_refs_are_not_duplicated(ntd, database_url):
    ntd("add", "http://example.com/a", "--ref", "C-1")
    ntd("add", "http://example.com/a", "--ref", "C-1")
    store = open_store(database_url)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(ReportRef)) == 1
        # Who queued it, once; the same ref again is no new event.
        assert session.scalars(select(Event.action)).all() == ["queued"]
    store.close()
