"""Statement helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session


def dialect_insert(session: Session, model: type):
    """``INSERT`` into ``model``'s table, with the dialect's ``on_conflict_*`` methods."""
    # The dialect in use only: SQLite's store never loads PostgreSQL's (and its driver).
    dialect = importlib.import_module(f"sqlalchemy.dialects.{session.get_bind().dialect.name}")
    return dialect.insert(model.__table__)


def insert_ignoring_duplicates(session: Session, model: type, rows: Sequence[dict[str, Any]]):
    """Insert ``rows``, skipping those whose primary or unique key already exists."""
    if not rows:
        return
    session.connection().execute(
        dialect_insert(session, model).on_conflict_do_nothing(), list(rows)
    )


def upsert(session: Session, model: type, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows``, or update the ones whose primary key exists, in one statement.

    A read-then-insert races when two workers write the same key (both read "absent",
    the second insert fails); the database settles this one atomically instead. Every
    row must name the same columns.
    """
    if not rows:
        return
    insert = dialect_insert(session, model)
    keys = [column.name for column in model.__table__.primary_key]
    update = {name: insert.excluded[name] for name in rows[0] if name not in keys}
    statement = insert.on_conflict_do_update(index_elements=keys, set_=update)
    session.connection().execute(statement, list(rows))
