"""Fixtures every test shares: the store on SQLite and PostgreSQL, settings, the CLI.

Store-touching tests take the ``database_url`` (or ``store``) fixture and so run twice:
on a fresh SQLite file and on a fresh schema of the PostgreSQL test database. Without a
reachable PostgreSQL the second run is skipped, saying why; CI sets TEST_POSTGRES_REQUIRED
so that there it fails instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import settings
from store.db import Store, open_store

# Fails any test that connects, sends or asks DNS anywhere but loopback.
pytest_plugins = ["tests.netguard.plugin"]

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ntd_test"
)


def shared_file(relative: str) -> Path:
    """A published reference from ../shared/, or skip the test where it is absent."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"../shared/{relative} is not here")
    return path


@pytest.fixture(scope="session")
def postgres_admin(request):
    """An engine on the PostgreSQL test database, or a skip saying why there is none.

    Where the server answers but the test database is not there yet (a new clone on a
    machine with PostgreSQL running), it is created, and the run says so.
    """
    try:
        created = _create_test_database()
    except Exception as error:  # any failure to connect means: no PostgreSQL here
        message = f"PostgreSQL at {_safe_url(POSTGRES_URL)} is unreachable ({_first_line(error)})"
        if os.environ.get("TEST_POSTGRES_REQUIRED"):
            pytest.fail(message + " and TEST_POSTGRES_REQUIRED is set")
        pytest.skip(message + "; set TEST_POSTGRES_URL to run these tests")
    if created:
        plugins = request.config.pluginmanager
        reporter, capture = (
            plugins.get_plugin("terminalreporter"),
            plugins.get_plugin("capturemanager"),
        )
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(f"created the PostgreSQL test database {created!r}")
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _create_test_database() -> str | None:
    """Create TEST_POSTGRES_URL's database when its server answers without it; its name
    if it was created, None if it was there. Raises when the server cannot be reached."""
    url = make_url(POSTGRES_URL)
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            ).scalar()
            if exists:
                return None
            quoted = connection.dialect.identifier_preparer.quote(url.database)
            connection.execute(text(f"CREATE DATABASE {quoted}"))
            return url.database
    finally:
        server.dispose()


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> Iterator[str]:
    """A URL to an empty database of each kind; PostgreSQL gets a schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ntd.sqlite3'}"
        return
    admin = request.getfixturevalue("postgres_admin")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with admin.connect() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture
def store(database_url) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.close()


def make_settings(**overrides) -> settings.Settings:
    """Settings from the declared defaults and ``overrides`` only, never the environment."""
    return settings.load({}, **overrides)


class Ntd:
    """Runs ``ntd`` commands in this process against the test's database."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, input: bytes | str | None = None):
        from cli import main

        return CliRunner(env=self.env).invoke(main, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def ntd(database_url, tmp_path, monkeypatch) -> Ntd:
    for name in [n for n in os.environ if n.startswith("NTD_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return Ntd({"NTD_DATABASE_URL": database_url, "NTD_ACTOR": "analyst1"})


def run_ntd(*args: str, env: dict[str, str], cwd: Path, input: bytes | None = None):
    """Run the installed ``ntd`` console script in a subprocess.

    ``env`` should start from the ``guarded_env`` fixture, so that the network guard
    watches the subprocess too; our own settings variables are cleared first.
    """
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NTD_")}
    ntd = Path(sys.executable).with_name("ntd")
    return subprocess.run(
        [str(ntd), *args],
        env={**clean, **env},
        cwd=cwd,
        input=input,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture(scope="session")
def reactor_thread():
    """The session's one asyncio reactor, on its own thread (see tests/reactor.py)."""
    from tests.reactor import ReactorThread

    thread = ReactorThread()
    yield thread
    thread.stop()


@pytest.fixture
def world(reactor_thread, database_url):
    """The simulated internet, a store, and passes of the crawler against both."""
    from simnet import Internet
    from tests.world import World

    with Internet() as net:
        world = World(net, database_url, reactor_thread)
        yield world
        world.store.close()


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on loopback, playing the hotline's mail relay."""
    from simnet.smtp import SmtpServer

    with SmtpServer() as server:
        yield server


@pytest.fixture
def mailroom(world, smtp):
    """Reports online with a known abuse desk, and the notifier on them (tests.mailroom)."""
    from tests.mailroom import Mailroom

    return Mailroom(world, smtp)
