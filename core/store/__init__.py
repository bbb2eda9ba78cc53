"""The SQL database every floor writes to: one engine per process, sessions, locks across replicas.

The schema (which tables exist) and its Alembic migrations belong to the gateway, which knows every
table module: see :mod:`gateway.store`.
"""

from core.store.db import Database, TableRows, add_rows, table_of

__all__ = ["Database", "TableRows", "add_rows", "table_of"]
