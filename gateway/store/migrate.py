"""Bring a database to the newest Alembic revision; replicas starting at once take turns."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from core.errors import StoreError
from core.store.db import Database
from core.store.locks import migration_connection

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def migrate(db: Database) -> None:
    """Upgrade ``db`` to ``head`` under the migration lock (idempotent)."""
    from alembic import command  # Alembic only when migrating: CLI start-up stays light
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = db.engine
    try:
        with migration_connection(db) as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except SQLAlchemyError as exc:
        raise StoreError(f"migration failed: {str(exc).splitlines()[0]}") from exc
