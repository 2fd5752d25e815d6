"""Statement helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_ignoring_duplicates(session: Session, model: type, rows: Sequence[dict[str, Any]]):
    """Insert ``rows``, skipping those whose primary or unique key already exists."""
    if not rows:
        return
    insert = _INSERTS[session.get_bind().dialect.name]
    session.connection().execute(insert(model.__table__).on_conflict_do_nothing(), list(rows))
