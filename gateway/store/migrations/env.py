"""Alembic environment: runs on the connection `gateway.store.migrate()` passes in, or on
ASSAY_DATABASE_URL."""

from __future__ import annotations

from alembic import context

from gateway.store.schema import metadata

config = context.config


def _run(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from core.settings import Settings
    from core.store.db import Database

    db = Database(Settings().db_url)
    with db.engine.begin() as conn:
        _run(conn)


def run_migrations_offline() -> None:
    from core.settings import Settings
    from core.store.db import normalise_url

    context.configure(url=normalise_url(Settings().db_url), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
