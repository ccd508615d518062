"""Alembic environment: run with the connection portside hands over in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from portside.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
