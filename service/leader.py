"""Only one scheduler leads; a standby takes over within LEADER_TIMEOUT of its death.

On PostgreSQL the leader holds a session advisory lock on a connection of its own: the
database releases it the moment that connection dies with the process. On SQLite, which
serves one machine, an exclusive ``flock`` on a file beside the database does the same.
A leader that loses its lock connection stops leading at the next look.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from store.db import Store

logger = logging.getLogger(__name__)
LOCK_KEY = 0x6E7464_02  # any fixed number, distinct from the migration lock


class Leadership:
    """Take, keep and check the leader's lock. Reads DATABASE_URL (through the store)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.leading = False
        self._connection: Connection | None = None
        self._file: int | None = None

    def try_lead(self) -> bool:
        """Take the lock if it is free; True when this process leads now."""
        if self.leading:
            return self.still_leading()
        if self.store.dialect == "postgresql":
            self.leading = self._try_postgres()
        else:
            self.leading = self._try_file()
        if self.leading:
            logger.warning("scheduler %d: leading", os.getpid())
        return self.leading

    def still_leading(self) -> bool:
        if self.leading and self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
            except Exception as error:  # the lock went with the connection
                logger.warning("scheduler %d: lost the lead: %s", os.getpid(), error)
                self._drop_connection()
                self.leading = False
        return self.leading

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(
                    text("SELECT pg_advisory_unlock(:k, hashtext(current_schema()))"),
                    {"k": LOCK_KEY},
                )
            finally:
                self._drop_connection()
        if self._file is not None:
            os.close(self._file)  # closing drops the flock
            self._file = None
        self.leading = False

    def _try_postgres(self) -> bool:
        if self._connection is None:
            # Autocommit: the lock belongs to the session, not to a transaction.
            self._connection = self.store.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            )
        got = self._connection.execute(
            # Per schema: two installations sharing one database (in schemas of their own,
            # as the tests' are) must not wait for each other's leader.
            text("SELECT pg_try_advisory_lock(:k, hashtext(current_schema()))"),
            {"k": LOCK_KEY},
        ).scalar()
        return bool(got)

    def _drop_connection(self) -> None:
        with contextlib.suppress(Exception):  # already gone with the server
            self._connection.invalidate()
        self._connection = None

    def _try_file(self) -> bool:
        path = Path(self.store.engine.url.database or "ntd").with_suffix(".leader")
        if self._file is None:
            self._file = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
