"""Appending to the ledger: contiguous indices, roots that match an independent computation, reads."""

from __future__ import annotations

import random
import threading

import pytest
from sqlalchemy import select, text

from core.errors import InvalidRequest, StoreError
from provenance.ledger import Ledger
from provenance.ledger.merkle import LeafListSource, root_of, tree_root
from provenance.ledger.record import compute_leaf_hash
from provenance.ledger.tables import LedgerEntryRow


def _all_rows(db):
    with db.session() as s:
        return [r._mapping for r in s.execute(select(LedgerEntryRow.__table__).order_by(text("idx")))]


def test_append_assigns_contiguous_indices_and_root(database, make_record, clock):
    ledger = Ledger(database, clock=clock)
    first = ledger.append(make_record())
    batch = ledger.append_many([make_record(decision="block", categories=["sexual"]) for _ in range(300)])
    assert first.index == 0 and first.tree_size == 1
    assert [e.index for e in batch] == list(range(1, 301))
    rows = _all_rows(database)
    leaves = [compute_leaf_hash(dict(r)) for r in rows]
    assert [bytes.fromhex(r["leaf_hash"]) for r in rows] == leaves
    head = ledger.head()
    assert head.size == 301 and head.root == root_of(leaves)
    # proofs' node source over stored tiles agrees with an in-memory tree, for old sizes too
    with database.session() as s:
        src = ledger.node_source(s)
        for size in (1, 2, 255, 256, 257, 300, 301):
            assert tree_root(src, size) == tree_root(LeafListSource(leaves), size) == root_of(leaves[:size])


def test_get_is_tenant_scoped_and_round_trips(database, make_record):
    ledger = Ledger(database)
    rec = make_record(
        categories=["real_person", "pii"], body={"score": 0.125, "nested": {"a": [1, None, "x"]}}
    )
    entry = ledger.append(rec)
    got = ledger.get(rec.record_id)
    assert got is not None and got.index == entry.index and got.leaf_hash == entry.leaf_hash
    for name in (
        "record_id",
        "kind",
        "tenant",
        "requester",
        "prompt",
        "prompt_digest",
        "decision",
        "categories",
        "model_id",
        "policy_id",
        "policy_digest",
        "created_at",
        "body",
    ):
        assert getattr(got, name) == getattr(rec, name), name
    assert ledger.get(rec.record_id, tenant="acme") is not None
    assert ledger.get(rec.record_id, tenant="other") is None
    assert ledger.get("01ARZ3NDEKTSV4RRFFQ69G5FAV") is None


def test_leaf_commits_to_salted_personal_data_not_text(database, make_record):
    ledger = Ledger(database)
    ledger.append(make_record(prompt="secret prompt text", requester="alice@example.com"))
    row = dict(_all_rows(database)[0])
    from provenance.ledger.record import leaf_bytes

    data = leaf_bytes(row)
    assert b"secret prompt text" not in data and b"alice@example.com" not in data
    assert row["salt"] and row["prompt_commit"] and row["requester_commit"]


def test_duplicate_record_id_fails_and_leaves_no_gap(database, make_record):
    ledger = Ledger(database)
    rec = make_record()
    ledger.append(rec)
    with pytest.raises(StoreError):
        ledger.append(rec)
    assert ledger.append(make_record()).index == 1
    with pytest.raises(InvalidRequest):
        ledger.append_many([rec, rec])
    assert ledger.head().size == 2


def test_two_ledgers_on_one_database_see_each_others_appends(database, make_record):
    a, b = Ledger(database), Ledger(database)
    a.append(make_record())
    b.append(make_record())  # b's first append reads the head
    a.append(make_record())  # a's cached head is stale: must re-read under the lock
    b.append_many([make_record() for _ in range(3)])
    rows = _all_rows(database)
    assert [r["idx"] for r in rows] == list(range(6))
    assert a.head().root == root_of([compute_leaf_hash(dict(r)) for r in rows])


def test_bad_records_are_refused_before_touching_the_log(make_record):
    with pytest.raises(ValueError):
        make_record(record_id="not-a-ulid")
    with pytest.raises(ValueError):
        make_record(categories=["Has,Comma"])
    with pytest.raises(ValueError):
        make_record(prompt_digest="xyz")


def test_body_that_is_not_canonical_json_is_invalid_request(database, make_record):
    ledger = Ledger(database)
    with pytest.raises(InvalidRequest):
        ledger.append(make_record(body={"x": float("nan")}))
    assert ledger.head().size == 0


def test_eight_concurrent_writers_with_rollbacks_keep_indices_contiguous(database, make_record):
    ledger = Ledger(database)
    seed = make_record()
    ledger.append(seed)
    ok: list[int] = []
    failures = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        rnd = random.Random(n)
        for _ in range(25):
            if rnd.random() < 0.2:
                try:  # a duplicate id fails inside the transaction, after the head update: rollback
                    ledger.append_many([make_record(), seed])
                except (StoreError, InvalidRequest) as exc:
                    with lock:
                        failures.append(exc)
                continue
            size = rnd.choice([1, 1, 3, 10])
            entries = ledger.append_many([make_record() for _ in range(size)])
            idx = [e.index for e in entries]
            assert idx == list(range(idx[0], idx[0] + size))  # one batch = one contiguous run
            with lock:
                ok.extend(idx)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures, "the test must exercise rollbacks"
    rows = _all_rows(database)
    assert sorted(ok) == list(range(1, len(ok) + 1))
    assert [r["idx"] for r in rows] == list(range(len(ok) + 1))
    assert ledger.head().root == root_of([compute_leaf_hash(dict(r)) for r in rows])


def test_a_dropped_writer_connection_is_reopened_once(database, make_record, monkeypatch):
    """A database restart kills the kept writer connection; the next append must still succeed."""
    ledger = Ledger(database)
    ledger.append(make_record())
    calls = []
    once = ledger._commit_once
    monkeypatch.setattr(ledger, "_commit_once", lambda rows, side: calls.append(1) or once(rows, side))
    if database.dialect == "postgresql":
        pid = ledger._conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        ledger._conn.rollback()
        with database.engine.connect() as c:
            c.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    else:
        ledger._conn.invalidate()
    assert ledger.append(make_record()).index == 1
    assert ledger.head().size == 2
    if database.dialect == "postgresql":
        assert len(calls) == 2  # the dead connection failed, the retry on a new one succeeded
    ledger.close()


def test_rows_appended_with_a_record_exist_exactly_when_it_does(database, make_record, clock):
    """The pipeline's released-image index rows go in the record's transaction: a failed append
    (here a conflicting row) leaves neither the record nor any of its rows."""
    from datetime import datetime

    from PIL import Image

    from provenance.released import release_row
    from provenance.tables import ReleasedImage

    ledger = Ledger(database, clock=clock)
    img = Image.new("RGB", (64, 64), (200, 30, 30))

    def rows(record_id, *content_ids):
        return [
            release_row(record_id, c, img, tenant="acme", created_at=datetime(2026, 11, 25), system="s")
            for c in content_ids
        ]

    first = make_record()
    ledger.append(first, with_rows=rows(first.record_id, f"{first.record_id}-0", f"{first.record_id}-1"))
    second = make_record()
    with pytest.raises(StoreError):  # its second row repeats a content id: the whole append is refused
        ledger.append(
            second, with_rows=rows(second.record_id, f"{second.record_id}-0", f"{first.record_id}-1")
        )
    with database.session() as s:
        stored = sorted((r.record_id, r.content_id) for r in s.execute(select(ReleasedImage.__table__)))
    assert stored == [(first.record_id, f"{first.record_id}-0"), (first.record_id, f"{first.record_id}-1")]
    assert ledger.head().size == 1 and [r["record_id"] for r in _all_rows(database)] == [first.record_id]
    third = make_record()  # the ledger goes on after the refused append
    assert ledger.append(third, with_rows=rows(third.record_id, f"{third.record_id}-0")).index == 1
