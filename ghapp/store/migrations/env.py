"""alembic environment: always run programmatically with a connection from `migrate`."""

from __future__ import annotations

from alembic import context

from ghapp.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through ghapp.store.migrations.migrate(engine)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
