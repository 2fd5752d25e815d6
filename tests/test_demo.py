"""`ntd demo` runs the whole loop with no set-up, on its own database."""

from __future__ import annotations

from simnet import MARKER, files_containing_marker
from tests.conftest import run_ntd


def test_the_demo_runs_the_whole_loop_on_its_own_database(guarded_env, tmp_path):
    env = {k: v for k, v in guarded_env.items() if not k.startswith("NTD_")}
    result = run_ntd("demo", env=env, cwd=tmp_path)
    output = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    for step in (
        "Reports come in",
        "A member of the public reports 2 URLs",
        "it counts as another sighting",
        "police first: it becomes report 12",
        "report 12, from the public report, is held for the police: no notice",
        "told it was assessed (1 message, no URL in it)",
        "a check finds report 12 still online",
        "to abuse@quickserve.test: 1 report (12): first notice",
        "Public reports: 2 URLs, 1 already tracked, 1 assessed illegal",
        "Every URL is checked",
        "Who hosts it",
        "Notices go out",
        "The providers answer",
        "its bounce comes back to <notices+ntd-",
        "marked bouncing",
        "fallback after a bounce",
        "quoting its own ticket Ticket#EH-20417",
        'clicks "Removed" for report 4',
        "report 4, which Nimbus Cloud said was removed: removed",
        "Some content comes down",
        "Reminders for what is still up",
        "Time to removal",
        "export NTD_DATABASE_URL=sqlite:///var/demo.sqlite3",
    ):
        assert step in output
    assert "refused by the safety policy" in output
    assert (tmp_path / "var" / "demo.sqlite3").exists()
    assert not (tmp_path / "var" / "ntd.sqlite3").exists()  # the default store is untouched
    notices = sorted((tmp_path / "var" / "demo-outbox").glob("*.eml"))
    assert len(notices) >= 5  # three first notices, a fallback and reminders
    assert MARKER not in output
    assert files_containing_marker([p for p in tmp_path.rglob("*") if p.is_file()]) == []
    shown = run_ntd(
        "show", "1", env={**env, "NTD_DATABASE_URL": "sqlite:///var/demo.sqlite3"}, cwd=tmp_path
    )
    assert shown.returncode == 0 and b"Report 1" in shown.stdout
