"""``ntd users`` and ``ntd serve``: the first admin, tokens printed once, accounts locked."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli import main
from store.db import open_store
from store.models import Event
from tests.test_web_support import PASSWORD, Web, cheap_passwords


@pytest.fixture(autouse=True)
def _cheap_passwords(monkeypatch):
    cheap_passwords(monkeypatch)


def test_users_add_prints_only_the_token_on_stdout(ntd, database_url):
    result = CliRunner(env={**ntd.env, "NTD_PASSWORD": PASSWORD}).invoke(
        main, ["users", "add", "root", "--role", "admin"]
    )
    assert result.exit_code == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("ntd_") and "\n" not in token
    assert result.stderr == "user root added as admin; API token (shown once):\n"
    web = Web(database_url)
    try:
        client = web.client(Authorization=f"Bearer {token}")
        assert client.get("/api/reports").status_code == 200
        assert client.get("/admin/users").status_code == 200
    finally:
        web.close()
    store = open_store(database_url)
    with store.session() as session:
        assert session.execute(select(Event.actor, Event.action, Event.detail)).all() == [
            ("analyst1", "user_added", "root as admin")
        ]
    store.close()


def test_without_ntd_password_it_is_asked_for_twice(ntd):
    runner = CliRunner(env=ntd.env)
    result = runner.invoke(
        main, ["users", "add", "ann", "--role", "analyst"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.stderr
    assert "Password" in result.stderr and result.stdout.startswith("ntd_")


def test_bad_users_are_refused_with_exit_1(ntd):
    env = {**ntd.env, "NTD_PASSWORD": PASSWORD}
    runner = CliRunner(env=env)
    assert runner.invoke(main, ["users", "add", "ann", "--role", "analyst"]).exit_code == 0
    again = runner.invoke(main, ["users", "add", "ann", "--role", "admin"])
    assert (again.exit_code, again.stderr) == (1, "ntd: there already is a user 'ann'\n")
    short = CliRunner(env={**env, "NTD_PASSWORD": "short"}).invoke(
        main, ["users", "add", "bob", "--role", "analyst"]
    )
    assert short.exit_code == 1 and "at least 12 characters" in short.stderr
    name = runner.invoke(main, ["users", "add", "<b>", "--role", "analyst"])
    assert name.exit_code == 1 and "is not a user name" in name.stderr
    role = runner.invoke(main, ["users", "add", "cy", "--role", "root"])
    assert role.exit_code == 2


def test_users_list_disable_enable_and_token(ntd):
    runner = CliRunner(env={**ntd.env, "NTD_PASSWORD": PASSWORD})
    first = runner.invoke(main, ["users", "add", "ann", "--role", "manager"]).stdout.strip()
    assert ntd("users", "disable", "ann").stdout == "user ann disabled\n"
    assert ntd("users", "list").stdout == "ann\tmanager\tdisabled\n"
    assert ntd("users", "enable", "ann").stdout == "user ann enabled\n"
    second = ntd("users", "token", "ann").stdout.strip()
    assert second.startswith("ntd_") and second != first
    missing = ntd("users", "disable", "zed")
    assert (missing.exit_code, missing.stderr) == (1, "ntd: no user 'zed'\n")


def test_serve_listens_on_loopback_port_8000_by_default(ntd):
    result = ntd("serve", "--help")
    assert "default: 127.0.0.1" in result.stdout and "default: 8000" in result.stdout
