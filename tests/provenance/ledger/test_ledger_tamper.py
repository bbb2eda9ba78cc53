"""DBA-style tampering with the stored ledger makes verification fail and name the index."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from provenance.ledger.record import commit, compute_leaf_hash
from provenance.ledger.tables import LedgerEntryRow
from provenance.ledger.verify import LedgerIntegrityError, verify_ledger


def _sql(db, stmt, **params):
    with db.engine.begin() as c:
        return c.execute(text(stmt), params)


def _row(db, idx):
    t = LedgerEntryRow.__table__
    with db.engine.connect() as c:
        return dict(c.execute(select(t).where(t.c.idx == idx)).mappings().one())


def _verify(ledger, checkpoints):
    return verify_ledger(ledger, checkpoints.verifier, chunk=128)


def test_untouched_ledger_verifies(ledger, checkpoints, filled):
    report = _verify(ledger, checkpoints)
    assert report.ok, report.summary()
    assert (report.records, report.checkpoints, report.first_bad_index) == (300, 2, None)
    assert report.root == ledger.head().root.hex()
    report.raise_for_problems()


EDITS = [
    ("decision", "'allow'"),
    ("tenant", "'tenant-x'"),
    ("categories", "',tampered,'"),
    ("model_id", "'other-model'"),
    ("policy_id", "'lenient'"),
    ("policy_digest", "'sha256:00'"),
    ("created_at", None),
    ("appended_at", None),
    ("body", "'{}'"),
    ("prompt_digest", "NULL"),
    ("record_id", "'01ARZ3NDEKTSV4RRFFQ69G5FAV'"),
    ("kind", "'review'"),
    ("subject_id", "'01ARZ3NDEKTSV4RRFFQ69G5FAV'"),
    ("leaf_hash", "'" + "0" * 64 + "'"),
    ("prompt", "'a different prompt'"),
    ("requester", "'mallory'"),
    ("salt", "'" + "1" * 32 + "'"),
    ("prompt_commit", "'" + "2" * 64 + "'"),
    ("requester_commit", "NULL"),
]


def test_an_edited_field_is_named_by_index(database, ledger, checkpoints, filled):
    _sql(database, "UPDATE ledger_entry SET decision = 'approved' WHERE idx = 237")
    report = _verify(ledger, checkpoints)
    assert not report.ok and report.first_bad_index == 237, report.summary()
    with pytest.raises(LedgerIntegrityError) as err:
        report.raise_for_problems()
    assert err.value.details["first_bad_index"] == 237


def test_every_stored_field_is_covered(database, ledger, checkpoints, filled):
    """Each column edited on its own row: every one of those rows is named, and no other."""
    shift = {"sqlite": "datetime({c}, '+1 second')"}.get(database.dialect, "{c} + interval '1 second'")
    edited = {}
    for k, (column, value) in enumerate(EDITS):
        idx = 5 + 15 * k
        edited[idx] = column
        _sql(
            database,
            f"UPDATE ledger_entry SET {column} = {value or shift.format(c=column)} WHERE idx = {idx}",
        )
    report = verify_ledger(ledger, checkpoints.verifier, chunk=128, max_problems=1000)
    named = {p.index for p in report.problems if p.index is not None}
    assert named == set(edited), {edited[i] for i in set(edited) - named}
    assert report.first_bad_index == 5


def test_a_deleted_row_is_named(database, ledger, checkpoints, filled):
    _sql(database, "DELETE FROM ledger_entry WHERE idx = 123")
    report = _verify(ledger, checkpoints)
    assert report.first_bad_index == 123, report.summary()


def test_a_deleted_last_row_is_named(database, ledger, checkpoints, filled):
    _sql(database, "DELETE FROM ledger_entry WHERE idx = 299")
    report = _verify(ledger, checkpoints)
    assert report.first_bad_index == 299, report.summary()


def test_a_swapped_pair_of_rows_is_named(database, ledger, checkpoints, filled):
    _sql(database, "UPDATE ledger_entry SET idx = -1 WHERE idx = 10")
    _sql(database, "UPDATE ledger_entry SET idx = 10 WHERE idx = 20")
    _sql(database, "UPDATE ledger_entry SET idx = 20 WHERE idx = -1")
    report = _verify(ledger, checkpoints)
    assert report.first_bad_index == 10, report.summary()
    assert {p.index for p in report.problems} >= {10, 20}


def _insert_copy(database, row):
    cols = ", ".join(row)
    _sql(database, f"INSERT INTO ledger_entry ({cols}) VALUES ({', '.join(':' + k for k in row)})", **row)


def test_an_inserted_row_is_named(database, ledger, checkpoints, filled):
    # shift 280.. up by one and insert a forged record at 280 carrying a plausible (copied) leaf hash
    for i in range(299, 279, -1):
        _sql(database, "UPDATE ledger_entry SET idx = idx + 1 WHERE idx = :i", i=i)
    forged = _row(database, 281) | {
        "idx": 280,
        "record_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "decision": "allow",
    }
    _insert_copy(database, forged)
    report = _verify(ledger, checkpoints)
    assert report.first_bad_index == 280, report.summary()


def test_an_appended_forged_row_is_named(database, ledger, checkpoints, filled):
    forged = _row(database, 299) | {"idx": 300, "record_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}
    forged["leaf_hash"] = compute_leaf_hash(forged).hex()  # even a self-consistent row
    _insert_copy(database, forged)
    report = _verify(ledger, checkpoints)
    assert report.first_bad_index == 300, report.summary()


def test_a_forger_who_recomputes_every_hash_is_caught_by_the_signed_checkpoint(
    database, ledger, checkpoints, filled
):
    """Edit a record and rewrite its leaf hash, the stored nodes and the head: only the signature is left."""
    row = _row(database, 250) | {"decision": "allow"}
    row["prompt"] = "an innocent prompt"
    row["prompt_commit"] = commit("prompt", row["salt"], row["prompt"])
    leaf = compute_leaf_hash(row).hex()
    _sql(
        database,
        "UPDATE ledger_entry SET decision = 'allow', prompt = :p, prompt_commit = :c, leaf_hash = :h "
        "WHERE idx = 250",
        p=row["prompt"],
        c=row["prompt_commit"],
        h=leaf,
    )
    # rebuild tile nodes and head from the forged leaves, as a knowledgeable DBA could
    from provenance.ledger.merkle import Frontier

    with database.engine.connect() as c:
        leaves = [
            bytes.fromhex(h) for (h,) in c.execute(text("SELECT leaf_hash FROM ledger_entry ORDER BY idx"))
        ]
    f = Frontier()
    nodes = [n for h in leaves for n in f.append(h)]
    for level, idx, h in nodes:
        _sql(
            database,
            "UPDATE ledger_node SET hash = :h WHERE level = :l AND idx = :i",
            h=h.hex(),
            l=level,
            i=idx,
        )
    _sql(
        database,
        "UPDATE ledger_head SET root = :r, frontier = :f",
        r=f.root().hex(),
        f=",".join(h.hex() for h in f.hashes),
    )
    report = _verify(ledger, checkpoints)
    assert not report.ok
    # rows and nodes agree with each other now; the checkpoint at 150 still matches, the one at 300 not
    assert report.first_bad_index == 150, report.summary()
    assert any("signs a root" in p.message for p in report.problems)


def test_an_edited_checkpoint_is_refused(database, ledger, checkpoints, filled):
    _sql(database, "UPDATE ledger_checkpoint SET note = REPLACE(note, '\n300\n', '\n301\n')")
    report = _verify(ledger, checkpoints)
    assert not report.ok and any("checkpoint #" in p.message for p in report.problems), report.summary()


def test_an_edited_head_is_reported(database, ledger, checkpoints, filled):
    _sql(database, "UPDATE ledger_head SET size = 301")
    report = _verify(ledger, checkpoints)
    assert not report.ok and report.first_bad_index == 300, report.summary()
