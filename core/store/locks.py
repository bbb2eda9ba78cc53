"""Locks that every replica of one database honours: a named mutex for one transaction, and leadership.

Why: the gateway runs as any number of processes on one database, and a few jobs must not run in
two of them at once: migrating the schema, signing a checkpoint (two signers racing could store
checkpoints out of order), and the scheduled jobs that one replica is enough for. A lock in
process memory cannot see the other replicas, so the lock lives where they all meet.

PostgreSQL: advisory locks (``pg_advisory_xact_lock`` for :func:`exclusive`, released at commit or
rollback; ``pg_try_advisory_lock`` on a connection of its own for :class:`Leadership`, released
when that connection closes, so a replica killed with ``kill -9`` hands leadership on as soon as
the server notices its socket is gone). A lock's key is a 64-bit digest of the name and the
current schema, so two deployments in two schemas of one database never block each other.

SQLite: replicas can share a SQLite file only on one machine, so an ``flock`` on a file beside the
database plays the same role (released by the kernel when the process dies). An in-memory SQLite
database is private to its process: a thread lock is enough there.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from core.errors import InvalidRequest, StoreError
from core.store.db import Database

log = logging.getLogger("assay.store")

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
#: the advisory lock key of ``:name`` in the current schema: the first 64 bits of an MD5, signed
_PG_KEY = "('x' || substr(md5(coalesce(current_schema(), '') || '/assay/' || :name), 1, 16))::bit(64)::bigint"
_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidRequest(
            f"lock name {name!r} is not valid",
            param="name",
            hint="use 1-63 characters of a-z, 0-9, '.', '_' or '-'",
        )
    return name


def _sqlite_lock_path(db: Database, name: str) -> Path | None:
    """``<database file>.<name>.lock``; None for an in-memory database."""
    database = make_url(db.url).database
    if not database or database == ":memory:":
        return None
    return Path(database).resolve().with_name(f"{Path(database).name}.{name}.lock")


def _thread_lock(key: str) -> threading.Lock:
    with _thread_locks_guard:
        return _thread_locks.setdefault(key, threading.Lock())


@contextlib.contextmanager
def exclusive(db: Database, name: str) -> Iterator[Session]:
    """A session (one transaction) that runs alone among every process holding ``name`` on ``db``.

    It waits for the lock. Whatever the session reads after it has the lock, it reads as the last
    holder committed it; the lock is released when the session commits or rolls back.
    """
    _check_name(name)
    if db.dialect == "postgresql":
        with db.session() as s:
            s.execute(text(f"SELECT pg_advisory_xact_lock({_PG_KEY})"), {"name": name})
            yield s
        return
    path = _sqlite_lock_path(db, name)
    with _thread_lock(f"{db.url}#{name}"):  # threads of this process queue here, processes at the flock
        if path is None:
            with db.session() as s:
                yield s
            return
        fd = _open_locked(path)
        try:
            with db.session() as s:
                yield s
        finally:
            os.close(fd)  # closing the descriptor releases the flock


@contextlib.contextmanager
def migration_connection(db: Database) -> Iterator[Connection]:
    """A connection in a transaction for a schema migration, held alone until it commits: replicas
    that start at once on a new database migrate one after the other, and the later ones find the
    schema up to date."""
    if db.dialect == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text(f"SELECT pg_advisory_xact_lock({_PG_KEY})"), {"name": "schema-migration"})
            yield conn
        return
    path = _sqlite_lock_path(db, "schema-migration")
    with _thread_lock(f"{db.url}#schema-migration"):
        fd = _open_locked(path) if path is not None else None
        try:
            with db.engine.begin() as conn:  # committed before the flock is released
                yield conn
        finally:
            if fd is not None:
                os.close(fd)


def _open_locked(path: Path) -> int:
    """A descriptor of ``path`` holding an exclusive ``flock`` (waits for it)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot open the lock file {path}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as exc:
        os.close(fd)
        raise StoreError(f"cannot lock {path}: {exc.strerror or exc}") from exc
    return fd


class Leadership:
    """Whether this process is the one replica that runs ``name`` (e.g. the scheduled checkpoints).

    :meth:`acquire` never waits: it answers True while this process holds the lock (taking it if it
    is free), False while another replica does. A leader keeps the lock until :meth:`release`,
    or until it dies; a lost database connection loses it (the next :meth:`acquire` tries again).
    """

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = _check_name(name)
        self._lock = threading.Lock()
        self._conn: Connection | None = None  # PostgreSQL: the session that holds the advisory lock
        self._fd: int | None = None  # SQLite: the descriptor that holds the flock
        self._local: threading.Lock | None = None  # in-memory SQLite: a thread lock
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    def acquire(self) -> bool:
        with self._lock:
            try:
                if self.db.dialect == "postgresql":
                    self._held = self._acquire_pg()
                else:
                    self._held = self._acquire_file()
            except (SQLAlchemyError, OSError) as exc:
                log.warning(
                    "leadership %s: %s: %s", self.name, exc.__class__.__name__, str(exc).splitlines()[0]
                )
                self._drop()
            return self._held

    def _acquire_pg(self) -> bool:
        if self._conn is not None:
            self._conn.execute(text("SELECT 1"))  # still alive, so still holding the lock
            return True
        conn = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = bool(
                conn.execute(text(f"SELECT pg_try_advisory_lock({_PG_KEY})"), {"name": self.name}).scalar()
            )
        except BaseException:
            conn.close()
            raise
        if got:
            self._conn = conn
        else:
            conn.close()
        return got

    def _acquire_file(self) -> bool:
        if self._fd is not None or self._local is not None:
            return True
        path = _sqlite_lock_path(self.db, self.name)
        if path is None:
            lock = _thread_lock(f"{self.db.url}#leader#{self.name}")
            if lock.acquire(blocking=False):
                self._local = lock
                return True
            return False
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except SQLAlchemyError:  # pragma: no cover - a dead connection
                conn.invalidate()
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        local, self._local = self._local, None
        if local is not None:
            local.release()
        self._held = False

    def release(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute(text(f"SELECT pg_advisory_unlock({_PG_KEY})"), {"name": self.name})
                except SQLAlchemyError:  # closing the connection below releases it anyway
                    pass
            self._drop()
