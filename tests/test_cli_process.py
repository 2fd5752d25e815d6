"""The installed commands, as a user runs them: ``ntd`` and ``scrapy list`` from the root."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, run_ntd


def test_exit_codes_of_the_console_script(guarded_env, tmp_path):
    env = {**guarded_env, "NTD_DATABASE_URL": f"sqlite:///{tmp_path / 'ntd.sqlite3'}"}
    ok = run_ntd("add", "http://example.com/a", env=env, cwd=tmp_path)
    assert (ok.returncode, ok.stdout) == (0, b"1\thttp://example.com/a\n")
    rejected = run_ntd("add", "gopher://example.com/", env=env, cwd=tmp_path)
    assert rejected.returncode == 1
    assert b"scheme 'gopher' is not http or https" in rejected.stderr
    missing = run_ntd("show", "7", env=env, cwd=tmp_path)
    assert (missing.returncode, missing.stderr) == (1, b"ntd: no report with id 7\n")
    usage = run_ntd("frobnicate", env=env, cwd=tmp_path)
    assert usage.returncode == 2


def test_the_default_database_is_a_sqlite_file_under_var(guarded_env, tmp_path):
    result = run_ntd("add", "http://example.com/a", env=guarded_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "ntd.sqlite3").exists()


def test_an_unreachable_database_is_a_clear_error(guarded_env, tmp_path):
    env = {**guarded_env, "NTD_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"}
    result = run_ntd("show", "1", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(b"ntd: cannot reach the database postgresql+psycopg://")
    assert b"Traceback" not in result.stderr


def test_scrapy_list_works_from_the_root(guarded_env):
    scrapy = Path(sys.executable).with_name("scrapy")
    result = subprocess.run(
        [str(scrapy), "list"], cwd=ROOT, env=guarded_env, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr.decode()


def test_import_shows_a_progress_bar_on_a_terminal(guarded_env, tmp_path):
    csv_file = tmp_path / "reports.csv"
    csv_file.write_text("url\n" + "".join(f"http://example.com/{i}\n" for i in range(3000)))
    env = {
        **{k: v for k, v in guarded_env.items() if not k.startswith("NTD_")},
        "NTD_DATABASE_URL": f"sqlite:///{tmp_path / 'ntd.sqlite3'}",
        "COLUMNS": "100",
        "TERM": "xterm",
    }
    output = _run_in_terminal(
        [str(Path(sys.executable).with_name("ntd")), "import", str(csv_file)], env, tmp_path
    )
    assert "Queueing" in output and "3000/3000" in output
    assert "3000 rows accepted (3000 new, 0 already tracked, 0 queued again)" in output


def _run_in_terminal(argv: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run ``argv`` with a pseudo-terminal as stdout and stderr; return what it printed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(argv, stdout=follower, stderr=follower, env=env, cwd=cwd)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=30)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_every_command_loads_from_the_module_the_map_names():
    """`ntd` imports a command's module only when the command runs; the map it loads
    them by must name the module each command is defined in, and every command."""
    import importlib

    from cli import COMMANDS, main

    for module in set(COMMANDS.values()):
        importlib.import_module(module)
    assert set(main.commands) == set(COMMANDS)
    defined_in = {name: command.callback.__module__ for name, command in main.commands.items()}
    assert defined_in == COMMANDS


def test_help_lists_every_command(guarded_env, tmp_path):
    from cli import COMMANDS

    result = run_ntd("--help", env=guarded_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    listed = {
        line.split()[0]
        for line in result.stdout.decode().split("Commands:")[1].splitlines()
        if line.startswith("  ")
    }
    assert listed == set(COMMANDS)
