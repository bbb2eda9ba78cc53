"""The SQL database: one engine per process and its sessions.

SQLite (the default, a file under the data dir) runs in WAL mode with a busy timeout so that
readers never block the ledger's writer; PostgreSQL is used by URL (``ASSAY_DATABASE_URL``,
``postgresql+psycopg://...``). Tables are SQLModel classes that live beside the code that owns
them; :mod:`gateway.store.schema` imports them all so that Alembic sees one metadata,
and :func:`gateway.store.migrate` brings a database to the newest schema.
Database errors are translated to :class:`StoreError` here, at one boundary.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, create_engine

from core.errors import ConfigError, StoreError


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a ``table=True`` SQLModel class, typed (SQLModel does not type ``__table__``):
    for ``insert``/``update`` statements and column access on the table itself."""
    table = sa_inspect(model).local_table
    if not isinstance(table, Table):  # pragma: no cover - every table=True model maps one Table
        raise TypeError(f"{model.__name__} is not a table=True SQLModel class")
    return table


@dataclass(frozen=True)
class TableRows:
    """Many rows of one table as plain values: inserted in one statement, without building an ORM
    object per row (~40 us each: a thousand index keys would cost 40 ms). Goes wherever SQLModel
    rows go with a ledger append (``with_rows``); :func:`add_rows` stores both kinds in a session."""

    model: type[SQLModel]
    values: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.values)


def add_rows(session: Session, rows: Sequence[SQLModel | TableRows]) -> None:
    """Add SQLModel rows and insert :class:`TableRows` in ``session`` (committed with it)."""
    for r in rows:
        if isinstance(r, TableRows):
            if r.values:
                session.execute(table_of(r.model).insert(), r.values)
        else:
            session.add(r)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class Database:
    """Engine + session factory for one database URL."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        try:
            parsed = make_url(self.url)
        except Exception as exc:  # noqa: BLE001 - sqlalchemy raises ArgumentError and others
            raise ConfigError(f"ASSAY_DATABASE_URL is not a database URL: {exc}") from exc
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise ConfigError(f"unsupported database {self.dialect!r}: use sqlite or postgresql")
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
        else:
            kwargs.update(pool_size=10, max_overflow=20, connect_args={"connect_timeout": 5})
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success, rolls back on error, and maps DB errors to StoreError."""
        try:
            with Session(self.engine, expire_on_commit=False) as s:
                try:
                    yield s
                    s.commit()
                except BaseException:
                    s.rollback()
                    raise
        except SQLAlchemyError as exc:
            raise StoreError(f"database error: {exc.__class__.__name__}: {str(exc).splitlines()[0]}") from exc

    def ping(self) -> None:
        from sqlalchemy import text

        try:
            with self.engine.connect() as c:
                c.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise StoreError(f"database unreachable: {str(exc).splitlines()[0]}") from exc

    def dispose(self) -> None:
        self.engine.dispose()
