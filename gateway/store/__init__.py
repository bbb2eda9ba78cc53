"""Storage: the SQL database (SQLite by default, PostgreSQL by URL) and the blob store for image bytes."""

from gateway.store.db import Database

__all__ = ["Database"]
