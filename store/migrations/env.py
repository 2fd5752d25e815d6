"""Alembic environment: migrations run on the connection ``store.db.migrate`` hands over."""

from alembic import context

import store.users  # noqa: F401  (its tables are on Base too: autogenerate must see them)
from store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through store.db.migrate, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
