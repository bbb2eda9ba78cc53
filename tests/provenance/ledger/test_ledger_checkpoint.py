"""Checkpoints: C2SP signed notes over the head, their keys, and proofs against them."""

from __future__ import annotations

import base64

import pytest

from core.errors import ConfigError
from core.settings import Settings
from provenance.ledger.checkpoint import (
    SKEY_FILE,
    VKEY_FILE,
    CheckpointScheduler,
    checkpoint_text,
    load_signer,
    parse_checkpoint,
)
from provenance.ledger.merkle import verify_consistency, verify_inclusion
from provenance.ledger.note import NoteError, NoteSigner, NoteVerifier


def test_signed_note_round_trip_and_key_strings(signer):
    note = signer.sign("example.com/log\n3\n" + base64.b64encode(b"\x01" * 32).decode() + "\n")
    text, _, sig = note.rpartition("\n\n")
    assert sig.startswith("\u2014 test.example/assay-ledger/0001 ")
    assert NoteVerifier.from_vkey(signer.verifier.vkey()).open(note) == text + "\n"
    again = NoteSigner.from_skey(signer.skey())
    assert again.verifier == signer.verifier


def test_a_known_go_sumdb_note_verifies():
    # From golang.org/x/mod/sumdb/note's documentation (example verifier key and signed note)
    vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    note = (
        "If you think cryptography is the answer to your problem,\n"
        "then you don't know what your problem is.\n\n"
        "\u2014 PeterNeumann "
        "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6"
        "RyyBwJnAM=\n"
    )
    v = NoteVerifier.from_vkey(vkey)
    assert v.open(note).startswith("If you think")
    with pytest.raises(NoteError):
        v.open(note.replace("answer", "Answer"))


def test_tampered_or_foreign_notes_are_refused(signer):
    note = signer.sign(checkpoint_text(signer.name, 5, b"\x02" * 32))
    other = NoteSigner.generate(signer.name)
    with pytest.raises(NoteError):
        parse_checkpoint(note.replace("\n5\n", "\n6\n"), signer.verifier)
    with pytest.raises(NoteError):
        parse_checkpoint(note, other.verifier)
    with pytest.raises(NoteError):
        parse_checkpoint(note.split("\n\n")[0] + "\n", signer.verifier)
    cp = parse_checkpoint(note, signer.verifier)
    assert (cp.origin, cp.size, cp.root) == (signer.name, 5, b"\x02" * 32)


def test_checkpoints_sign_the_head_and_proofs_verify_against_them(ledger, checkpoints, make_record):
    first = ledger.append_many([make_record() for _ in range(5)])
    cp1 = checkpoints.create()
    assert checkpoints.create() == cp1  # unchanged head: no new checkpoint
    entries = ledger.append_many([make_record() for _ in range(300)])
    cp2 = checkpoints.covering(entries[-1].index + 1)
    assert (cp1.size, cp2.size) == (5, 305)
    assert parse_checkpoint(cp2.note, checkpoints.verifier).root == ledger.head().root
    for e in (first[0], first[4], entries[0], entries[-1]):
        proof = ledger.inclusion_proof(e.index, cp2.size)
        verify_inclusion(e.index, cp2.size, bytes.fromhex(e.leaf_hash), proof, cp2.root)
    verify_consistency(5, 305, ledger.consistency_proof(5, 305), cp1.root, cp2.root)
    assert ledger.root_at(5) == cp1.root
    assert checkpoints.latest().size == 305


def test_scheduler_tick_signs_only_when_the_log_grew(ledger, checkpoints, make_record):
    sched = CheckpointScheduler(checkpoints, interval_s=3600)
    a = sched.tick()
    ledger.append(make_record())
    b = sched.tick()
    assert (a.size, b.size) == (0, 1) and sched.tick() == b


def test_development_key_is_generated_once_and_production_refuses_a_missing_key(tmp_path):
    dev = Settings(data_dir=tmp_path / "dev")
    s1 = load_signer(dev)
    assert (dev.keys_dir / SKEY_FILE).stat().st_mode & 0o777 == 0o600
    assert (dev.keys_dir / VKEY_FILE).read_text().strip() == s1.verifier.vkey()
    assert load_signer(dev).verifier == s1.verifier
    prod = dict(data_dir=tmp_path / "prod", env="production", database_url="sqlite:///x.db")
    with pytest.raises(ConfigError, match="no ledger checkpoint key") as e:  # refused at start-up
        Settings(**prod)
    assert "ASSAY_DATA_DIR" in e.value.details["variables"]
    with pytest.raises(ConfigError, match="no ledger checkpoint key"):  # and by the loader behind it
        load_signer(Settings.model_construct(**prod))
    assert not (tmp_path / "prod").exists()  # production never makes one up
