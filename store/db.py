"""Opening the store: the engine, its sessions, and migrations applied on first use.

`Store.transaction()` is the write that survives a dropped connection: it runs again,
whole, on a fresh one.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from store.exceptions import StoreUnavailable

if TYPE_CHECKING:
    from settings import Settings

MIGRATIONS = Path(__file__).with_name("migrations")
# Any fixed number: schedulers and workers that start together migrate one at a time.
_MIGRATION_LOCK = 0x6E7464_01
BUSY_TIMEOUT = timedelta(seconds=30)
T = TypeVar("T")
logger = logging.getLogger(__name__)


class Store:
    """The database, migrated to the newest schema.

    Reads ``DATABASE_URL``; the commands also pass ``SQLITE_BUSY_TIMEOUT``.
    """

    def __init__(self, url: str, *, busy_timeout: timedelta = BUSY_TIMEOUT) -> None:
        self.url = url
        self.busy_timeout = busy_timeout
        self.engine = _create_engine(url, busy_timeout)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        from store.audit import install

        install(self._sessions)  # every transaction seals the events it wrote

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions.begin() as session:
            yield session

    def transaction(self, work: Callable[[Session], T], *, retries: int, backoff: timedelta) -> T:
        """``work(session)`` in one transaction, tried again when the database fails.

        A try whose connection dropped, or that stayed locked out (SQLite busy), is rolled
        back by the database and runs again from the start on a fresh connection (the
        pool drops a dead connection, and pre-pings the rest), after ``backoff``, then
        twice as long each time, up to ``retries`` times. ``work`` must keep nothing
        outside the session, so that a try that failed leaves no trace. When the last try
        fails too, raises StoreUnavailable.
        """
        wait = backoff.total_seconds()
        for tries in itertools.count(1):
            try:
                with self.session() as session:
                    return work(session)
            except DBAPIError as error:
                if not _is_retryable(error):
                    raise
                if tries > retries:
                    times = "once" if tries == 1 else f"{tries} times in a row"
                    raise StoreUnavailable(
                        f"the database failed {times}: {_reason(error)}"
                    ) from error
                logger.warning(
                    "database write failed (%s); trying again in %gs (%d of %d)",
                    _reason(error),
                    wait,
                    tries,
                    retries,
                )
                # Blocks the pass on purpose: while the store takes no writes, fetching
                # more would only pile up checks that cannot be recorded.
                time.sleep(wait)
                wait *= 2

    def close(self) -> None:
        self.engine.dispose()


def open_store_for(settings: Settings) -> Store:
    """The store DATABASE_URL names, its writes waiting SQLITE_BUSY_TIMEOUT for a lock."""
    return open_store(settings.database_url, busy_timeout=settings.sqlite_busy_timeout)


def open_store(url: str, *, busy_timeout: timedelta = BUSY_TIMEOUT) -> Store:
    """Open the store at ``url``, creating and migrating it if needed."""
    store = Store(url, busy_timeout=busy_timeout)
    try:
        migrate(store.engine)
    except Exception as error:
        store.close()
        if _is_connection_error(error):
            raise StoreUnavailable(f"cannot reach the database {_safe(url)}: {error}") from None
        raise
    return store


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; cheap when it already is.

    The check needs no Alembic: importing it and reading every migration would cost
    every command a fifth of a second for nothing, most of the time.
    """
    if current_revision(engine) == head_revision():
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Released at commit; a second process waits, then finds nothing to do.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:k, hashtext(current_schema()))"),
                {"k": _MIGRATION_LOCK},
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def head_revision() -> str:
    """The newest migration's revision: each file is named after its revision, 0001_…."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("*_*.py"))


def current_revision(engine: Engine) -> str | None:
    """The store's revision, or None for a store not made yet."""
    with engine.connect() as connection:
        try:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except (OperationalError, ProgrammingError):  # no such table: a new store
            return None


def _create_engine(url: str, busy_timeout: timedelta) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    busy_seconds = busy_timeout.total_seconds()
    engine = create_engine(url, connect_args={"timeout": busy_seconds})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        # SQLite has one writer. Taking the write lock when a transaction begins makes
        # writers queue behind each other (busy_timeout) instead of failing half-way
        # with "database is locked" when a read turns into a write.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _is_connection_error(error: Exception) -> bool:
    return isinstance(error, OperationalError)


def _is_retryable(error: DBAPIError) -> bool:
    # A dropped connection (psycopg: AdminShutdown, "server closed the connection"), a
    # lock never granted (SQLite: "database is locked"), a deadlock or serialisation
    # failure: all OperationalError, all worth a fresh try. A wrong statement is not.
    return error.connection_invalidated or isinstance(error, OperationalError)


def _reason(error: DBAPIError) -> str:
    original = error.orig if error.orig is not None else error
    lines = str(original).strip().splitlines() or [""]
    return f"{type(original).__name__}: {lines[0]}"


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
