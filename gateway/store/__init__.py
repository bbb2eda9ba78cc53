"""The gateway's side of storage: the whole schema (every table module) and its Alembic migrations.

The engine, sessions and cross-replica locks are on the ground floor (:mod:`core.store`); only the
gateway knows every table, so migrating lives here.
"""

from gateway.store.migrate import MIGRATIONS_DIR, migrate

__all__ = ["MIGRATIONS_DIR", "migrate"]
