"""Alembic environment: runs on the connection ``Database.upgrade`` passes in.

Run migrations with ``rootcause db upgrade`` (or let the service apply them at start-up);
there is no alembic.ini: the configuration is built in ``rootcause.storage.db``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from rootcause.storage.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run migrations through rootcause.storage.Database.upgrade()")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
