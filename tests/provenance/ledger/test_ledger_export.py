"""Exports (JSONL with proofs, CSV) and the offline verifier that needs only the file and the public key."""

from __future__ import annotations

import csv
import io
import json

import pytest

from core.errors import InvalidRequest
from provenance.ledger.export import export_csv, export_jsonl, verify_export
from provenance.ledger.note import NoteSigner
from provenance.ledger.query import AuditQuery


def _export(ledger, checkpoints, **filters):
    return list(export_jsonl(ledger, checkpoints, AuditQuery(**filters), chunk=64))


def test_complete_export_verifies_offline(ledger, checkpoints, filled):
    lines = _export(ledger, checkpoints)
    assert json.loads(lines[0])["complete"] is True and len(lines) == 302
    report = verify_export(lines, checkpoints.verifier)
    assert report.ok, report.summary()
    assert report.records == 300 and report.root == ledger.head().root.hex()


def test_filtered_export_carries_proofs_and_verifies(ledger, checkpoints, filled):
    lines = _export(ledger, checkpoints, tenant="globex", decision="allow")
    entries = [json.loads(x) for x in lines[1:-1]]
    assert len(entries) == 100 and all(e["tenant"] == "globex" and e["proof"] for e in entries)
    assert verify_export(lines, checkpoints.verifier).ok


@pytest.mark.parametrize("filters", [{}, {"tenant": "acme"}])
def test_export_without_personal_data_still_verifies(ledger, checkpoints, filled, filters):
    lines = list(export_jsonl(ledger, checkpoints, AuditQuery(**filters), include_personal=False))
    assert "user-" not in "".join(lines) and "lighthouse" not in "".join(lines)
    report = verify_export(lines, checkpoints.verifier)
    assert report.ok, report.summary()


def _tamper(lines, n, **changes):
    e = json.loads(lines[n])
    e.update(changes)
    return lines[:n] + [json.dumps(e) + "\n"] + lines[n + 1 :]


@pytest.mark.parametrize("filters", [{}, {"tenant": "acme"}])
def test_tampered_exports_fail_offline_naming_the_index(ledger, checkpoints, filled, filters):
    lines = _export(ledger, checkpoints, **filters)
    idx = json.loads(lines[40])["index"]
    for change in (
        {"decision": "allow" if json.loads(lines[40])["decision"] != "allow" else "block"},
        {"prompt": "something else"},
        {"body": "{}"},
        {"created_at": "2020-01-01T00:00:00.000000Z"},
    ):
        report = verify_export(_tamper(lines, 40, **change), checkpoints.verifier)
        assert report.first_bad_index == idx, (change, report.summary())
    dropped = lines[:40] + lines[41:]
    assert not verify_export(dropped, checkpoints.verifier).ok  # the end line's count disagrees
    assert not verify_export(lines[:-1], checkpoints.verifier).ok  # truncated


def test_complete_export_with_a_missing_record_names_it(ledger, checkpoints, filled):
    lines = _export(ledger, checkpoints)
    end = json.loads(lines[-1])
    cut = lines[:11] + lines[12:-1] + [json.dumps(end | {"records": end["records"] - 1}) + "\n"]
    assert verify_export(cut, checkpoints.verifier).first_bad_index == 10


def test_export_under_another_key_is_refused(ledger, checkpoints, filled):
    lines = _export(ledger, checkpoints)
    report = verify_export(lines, NoteSigner.generate(checkpoints.signer.name).verifier)
    assert not report.ok and "checkpoint" in report.problems[0].message
    with pytest.raises(InvalidRequest):
        verify_export(["not json\n"], checkpoints.verifier)


def test_csv_export_streams_the_filtered_records(ledger, filled):
    text = "".join(export_csv(ledger, AuditQuery(tenant="acme", category="pii", order="asc"), chunk=16))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 100 and all(
        r["categories"] == "real_person;pii" and r["tenant"] == "acme" for r in rows
    )
    assert [int(r["index"]) for r in rows] == sorted(int(r["index"]) for r in rows)


def test_exports_read_in_bounded_chunks(ledger, checkpoints, filled, monkeypatch):
    """A huge range is streamed: rows are read chunk by chunk while lines go out, never all at once."""
    import provenance.ledger.query as query_mod

    fetched = []
    real = query_mod.AuditQuery.select_after

    def spy(self, after, limit, *, below=None):
        fetched.append(limit)
        return real(self, after, limit, below=below)

    monkeypatch.setattr(query_mod.AuditQuery, "select_after", spy)
    lines = export_jsonl(ledger, checkpoints, AuditQuery(tenant="acme"), chunk=16)
    first = [next(lines) for _ in range(3)]  # header + two records
    assert json.loads(first[0])["type"] == "header" and len(fetched) == 1 and fetched[0] == 16
    rest = list(lines)
    assert len(first) + len(rest) == 202 and len(fetched) >= 200 // 16 and max(fetched) == 16
