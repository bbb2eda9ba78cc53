"""Many replicas on one database: appends and checkpoints from several processes' worth of writers.

Each "replica" is its own ``Database`` (its own pool of connections), ``Ledger`` and
``Checkpoints``, as separate ``assay serve`` processes have; they share only the database and
the checkpoint key. The multi-process test with real ``assay serve`` processes is in tests/scale/.
"""

from __future__ import annotations

from itertools import pairwise

import pytest
from sqlalchemy import text

from core.store import Database
from core.store.locks import Leadership
from gateway.store import migrate
from provenance.ledger import Ledger
from provenance.ledger.checkpoint import Checkpoints, CheckpointScheduler, parse_checkpoint
from provenance.ledger.merkle import verify_consistency
from provenance.ledger.verify import verify_ledger
from tests.concurrency import at_once, raised


def stored_checkpoints(db: Database, verifier) -> list:  # noqa: ANN001
    with db.session() as s:
        rows = s.execute(text("SELECT id, size, note FROM ledger_checkpoint ORDER BY id")).all()
    return [(r.id, parse_checkpoint(r.note, verifier)) for r in rows]


def test_replicas_appending_and_signing_at_once_keep_one_checkpoint_sequence(database, signer, make_record):
    replicas = [Database(database.url) for _ in range(4)]
    ledgers = [Ledger(db) for db in replicas]
    cps = [Checkpoints(lg, signer) for lg in ledgers]

    def work(i: int) -> None:
        for _ in range(12):
            ledgers[i].append_many([make_record() for _ in range(3)])
            cps[i].create()
            cps[i].create()  # twice at the same head: no second checkpoint of that size

    try:
        assert raised(at_once([lambda i=i: work(i) for i in range(len(replicas))], timeout=120)) == []
        head = ledgers[0].head()
        assert head.size == 4 * 12 * 3
        seq = stored_checkpoints(database, signer.verifier)
        sizes = [cp.size for _, cp in seq]
        assert sizes == sorted(set(sizes)), f"checkpoints out of order or repeated: {sizes}"
        assert sizes[-1] == head.size
        for (_, a), (_, b) in pairwise(seq):  # each checkpoint extends the one before
            verify_consistency(a.size, b.size, ledgers[0].consistency_proof(a.size, b.size), a.root, b.root)
        assert ledgers[0].root_at(sizes[0]) == seq[0][1].root
        report = verify_ledger(ledgers[0], signer.verifier)
        assert report.ok and report.checkpoints == len(seq), report.summary()
    finally:
        for lg, db in zip(ledgers, replicas, strict=True):
            lg.close()
            db.dispose()


def test_only_the_elected_replica_signs_on_schedule(database, signer, make_record):
    other = Database(database.url)
    a_ledger, b_ledger = Ledger(database), Ledger(other)
    a_lead, b_lead = Leadership(database, "test-schedules"), Leadership(other, "test-schedules")
    a = CheckpointScheduler(Checkpoints(a_ledger, signer), interval_s=3600, leader=a_lead)
    b = CheckpointScheduler(Checkpoints(b_ledger, signer), interval_s=3600, leader=b_lead)
    try:
        a_ledger.append(make_record())
        assert a.tick().size == 1
        b_ledger.append(make_record())
        assert b.tick() is None  # not the leader: does nothing
        assert [cp.size for _, cp in stored_checkpoints(database, signer.verifier)] == [1]
        a_lead.release()  # the leader stops (or dies): the next tick elsewhere takes over
        assert b.tick().size == 2 and a.tick() is None
    finally:
        a_lead.release()
        b_lead.release()
        a_ledger.close()
        b_ledger.close()
        other.dispose()


def _at_revision(db: Database, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from gateway.store import MIGRATIONS_DIR

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def _insert_checkpoint(db: Database, size: int, root: str) -> None:
    with db.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO ledger_checkpoint (size, root, key_name, note, created_at) "
                "VALUES (:s, :r, 'k', 'note', CURRENT_TIMESTAMP)"
            ),
            {"s": size, "r": root},
        )


def test_migration_0002_drops_twin_checkpoints_and_refuses_disagreeing_ones(fresh_db_url):
    from core.errors import StoreError

    db = Database(fresh_db_url)
    try:
        _at_revision(db, "0001")
        for size, root in [(3, "aa" * 32), (3, "aa" * 32), (5, "bb" * 32)]:
            _insert_checkpoint(db, size, root)
        migrate(db)
        with db.engine.connect() as c:
            assert c.execute(text("SELECT size FROM ledger_checkpoint ORDER BY id")).scalars().all() == [3, 5]
        with pytest.raises(StoreError):  # the database now refuses a second checkpoint of one size
            with db.session() as s:
                s.execute(
                    text(
                        "INSERT INTO ledger_checkpoint (size, root, key_name, note, created_at) "
                        "VALUES (5, :r, 'k', 'note', CURRENT_TIMESTAMP)"
                    ),
                    {"r": "bb" * 32},
                )
    finally:
        db.dispose()


def test_migration_0002_keeps_evidence_of_a_rewritten_log(tmp_path):
    from core.errors import IntegrityError

    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        _at_revision(db, "0001")
        _insert_checkpoint(db, 7, "aa" * 32)
        _insert_checkpoint(db, 7, "cc" * 32)
        with pytest.raises(IntegrityError, match=r"size 7 \(checkpoints #1 and #2\)"):
            migrate(db)
        with db.engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM ledger_checkpoint")).scalar() == 2
    finally:
        db.dispose()


def test_signing_takes_one_connection_so_a_busy_pool_cannot_deadlock_it(pg_url, signer, make_record):
    """Many callers waiting for the checkpoint lock each hold a pooled connection; the holder must
    not need a second one to finish (it reads the head on the lock's own connection)."""
    from sqlalchemy import create_engine

    writer = Database(pg_url)
    migrate(writer)
    Ledger(writer).append_many([make_record() for _ in range(3)])
    one = Database(pg_url)
    one.engine.dispose()
    one.engine = create_engine(one.url, pool_size=1, max_overflow=0, pool_timeout=3)
    try:
        assert Checkpoints(Ledger(one), signer).create().size == 3
    finally:
        one.dispose()
        writer.dispose()
