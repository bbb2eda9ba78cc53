"""Bring a database to the newest Alembic revision; replicas starting at once take turns."""

from __future__ import annotations

import functools
from pathlib import Path

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from core.errors import StoreError
from core.store.db import Database
from core.store.locks import migration_connection

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


@functools.cache
def head_revisions() -> frozenset[str]:
    """The head revision(s) of the migration scripts, read once per process."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


def _at_head(conn: Connection) -> bool:
    """Whether the database's ``alembic_version`` already names every head (nothing to run)."""
    from alembic.runtime.migration import MigrationContext

    return frozenset(MigrationContext.configure(conn).get_current_heads()) == head_revisions()


def migrate(db: Database) -> None:
    """Upgrade ``db`` to ``head`` under the migration lock (idempotent).

    A database already at head (every start but the first) is answered from its ``alembic_version``
    row without running Alembic's environment and scripts again.
    """
    from alembic import command  # Alembic only when migrating: CLI start-up stays light
    from alembic.config import Config

    try:
        with migration_connection(db) as conn:
            if _at_head(conn):
                return
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
            cfg.attributes["engine"] = db.engine
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except SQLAlchemyError as exc:
        raise StoreError(f"migration failed: {str(exc).splitlines()[0]}") from exc
