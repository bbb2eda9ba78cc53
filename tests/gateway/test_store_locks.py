"""Locks every replica honours (core.store.locks), on SQLite and PostgreSQL.

Replicas are played by separate ``Database`` objects (separate connection pools, as separate
processes have) and, where a death matters, by a real subprocess killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect

from core.errors import InvalidRequest
from core.store import Database
from core.store.locks import Leadership, exclusive
from gateway.store import migrate
from tests.concurrency import at_once, raised

REPO = Path(__file__).resolve().parents[2]


def test_replicas_starting_at_once_on_a_new_database_all_migrate(fresh_db_url: str) -> None:
    """Without a lock, the second CREATE TABLE of a racing replica fails and that replica dies."""
    dbs = [Database(fresh_db_url) for _ in range(4)]
    try:
        assert raised(at_once([lambda db=db: migrate(db) for db in dbs], timeout=120)) == []
        from gateway.store.schema import metadata

        assert set(metadata.tables) <= set(inspect(dbs[0].engine).get_table_names())
    finally:
        for db in dbs:
            db.dispose()


def test_exclusive_sessions_never_overlap(db_url: str) -> None:
    dbs = [Database(db_url) for _ in range(3)]
    migrate(dbs[0])
    inside, most, runs = 0, 0, 0
    guard = threading.Lock()

    def work(db: Database) -> None:
        nonlocal inside, most, runs
        for _ in range(5):
            with exclusive(db, "test-mutex"):
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.01)
                with guard:
                    inside -= 1
                    runs += 1

    assert raised(at_once([lambda db=db: work(db) for db in dbs])) == []
    for db in dbs:
        db.dispose()
    assert (most, runs) == (1, 15)


def test_one_leader_at_a_time_and_release_hands_it_on(database: Database) -> None:
    other_db = Database(database.url)
    a, b = Leadership(database, "test-leader"), Leadership(other_db, "test-leader")
    try:
        assert a.acquire() and a.acquire() and a.held  # a leader stays the leader
        assert not b.acquire() and not b.held
        assert Leadership(other_db, "another-job").acquire()  # names are independent
        a.release()
        assert not a.held and b.acquire() and not a.acquire()
    finally:
        a.release()
        b.release()
        other_db.dispose()


def test_lock_names_are_checked(database: Database) -> None:
    with pytest.raises(InvalidRequest, match="lock name"):
        Leadership(database, "Bad Name; DROP TABLE")
    with pytest.raises(InvalidRequest, match="lock name"):
        with exclusive(database, ""):
            pass


@pytest.mark.slow
def test_a_killed_leader_hands_leadership_on(database: Database, tmp_path: Path) -> None:
    """``kill -9`` of the leading process: its connection (or flock) dies with it, another replica leads."""
    code = (
        "import sys, time\n"
        "from core.store import Database\n"
        "from core.store.locks import Leadership\n"
        "lead = Leadership(Database(sys.argv[1]), 'test-leader')\n"
        "assert lead.acquire()\n"
        "print('leading', flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, database.url],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    mine = Leadership(database, "test-leader")
    try:
        assert proc.stdout.readline().strip() == "leading"
        assert not mine.acquire()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        deadline = time.monotonic() + 30
        while not mine.acquire():
            assert time.monotonic() < deadline, "leadership was not handed on after the leader died"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        mine.release()


def test_replicas_starting_at_once_make_one_development_key(database: Database, tmp_path: Path) -> None:
    """``assay serve`` makes a development admin key on a new database: once, however many start."""
    from types import SimpleNamespace

    from core.settings import Settings
    from gateway.auth import KeyStore
    from gateway.cli.main import _dev_key

    settings = Settings(data_dir=tmp_path / "data", database_url=database.url)
    settings.ensure_dirs()
    dbs = [Database(database.url) for _ in range(3)]
    errors = raised(
        at_once(
            [
                lambda db=db: _dev_key(SimpleNamespace(settings=settings, db=db, keys=KeyStore(db)))
                for db in dbs
            ]
        )
    )
    for db in dbs:
        db.dispose()
    assert errors == []
    rows = KeyStore(database).list(None)
    assert [(r.tenant, r.role) for r in rows] == [("demo", "admin")]
    assert (
        KeyStore(database).authenticate((settings.data_dir / "dev-api-key").read_text().strip()).tenant
        == "demo"
    )
