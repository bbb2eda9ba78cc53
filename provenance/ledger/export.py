"""Exports of the ledger (JSONL, CSV) and the offline verifier of a JSONL export.

A JSONL export is self-proving: its first line holds a signed checkpoint, each record line holds
every field its leaf commits to (the body as its exact canonical JSON text), and a filtered
export carries an inclusion proof per record against that checkpoint. A final line counts the
records, so a truncated file is caught. ``assay audit verify --offline EXPORT`` needs nothing but
the file and the operator's public key: no database, no network.

Exports stream: rows are read in keyset chunks and written line by line, so an export of the
whole log runs in bounded memory. CSV is for spreadsheets and carries no proofs.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from core.errors import AssayError, InvalidRequest
from provenance.ledger import merkle
from provenance.ledger.checkpoint import Checkpoints, parse_checkpoint
from provenance.ledger.log import Ledger
from provenance.ledger.note import NoteVerifier
from provenance.ledger.query import AuditQuery, iter_rows
from provenance.ledger.record import (
    compute_leaf_hash,
    decode_categories,
    encode_categories,
    format_time,
)
from provenance.ledger.verify import (
    Findings,
    TreeChecker,
    VerifyReport,
    check_personal_fields,
    erasure_claims,
)

EXPORT_FORMAT = "assay-ledger-export/1"
PERSONAL_FIELDS = ("prompt", "requester", "salt")
CSV_COLUMNS = [
    "index",
    "record_id",
    "created_at",
    "tenant",
    "kind",
    "decision",
    "categories",
    "model_id",
    "policy_id",
    "policy_digest",
    "subject_id",
    "requester",
    "prompt",
    "prompt_digest",
    "erased_at",
    "leaf_hash",
    "body",
]


def _entry(row: dict[str, Any], include_personal: bool) -> dict[str, Any]:
    out = {
        "type": "entry",
        "index": row["idx"],
        "record_id": row["record_id"],
        "kind": row["kind"],
        "tenant": row["tenant"],
        "decision": row["decision"],
        "categories": decode_categories(row["categories"]),
        "model_id": row["model_id"],
        "policy_id": row["policy_id"],
        "policy_digest": row["policy_digest"],
        "subject_id": row["subject_id"],
        "prompt_digest": row["prompt_digest"],
        "prompt_commit": row["prompt_commit"],
        "requester_commit": row["requester_commit"],
        "created_at": format_time(row["created_at"]),
        "appended_at": format_time(row["appended_at"]),
        "body": row["body"],  # the exact canonical JSON text the leaf commits to
        "leaf_hash": row["leaf_hash"],
        "erased_at": format_time(row["erased_at"]) if row["erased_at"] is not None else None,
    }
    if include_personal:
        for f in PERSONAL_FIELDS:
            out[f] = row[f]
    return out


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def export_jsonl(
    ledger: Ledger,
    checkpoints: Checkpoints,
    query: AuditQuery,
    *,
    include_personal: bool = True,
    chunk: int = 1000,
) -> Iterator[str]:
    """Lines of a JSONL export of the records matching ``query`` (ascending index order).

    Records appended after the export began are left out: everything exported sits under the
    checkpoint in the header. Unfiltered exports are the whole log and need no proofs.
    """
    query = query.model_copy(update={"order": "asc"})
    cp = checkpoints.covering(ledger.head().size)
    full = query.is_unfiltered
    yield _line(
        {
            "type": "header",
            "format": EXPORT_FORMAT,
            "origin": cp.origin,
            "tree_size": cp.size,
            "root": cp.root.hex(),
            "checkpoint": cp.note,
            "public_key": checkpoints.verifier.vkey(),
            "complete": full,
            "filters": query.model_dump(mode="json", exclude_none=True),
            "personal_data": include_personal,
        }
    )
    count = 0
    for rows in _chunks(iter_rows(ledger, query, below=cp.size, chunk=chunk), chunk):
        entries = [_entry(row, include_personal) for row in rows]
        if not full:
            with ledger.db.session() as s:  # one node source per chunk: its tile cache stays bounded
                source = ledger.node_source(s)
                for e in entries:
                    e["proof"] = [p.hex() for p in merkle.inclusion_proof(source, e["index"], cp.size)]
        for e in entries:
            count += 1
            yield _line(e)
    yield _line({"type": "end", "records": count})


def export_csv(
    ledger: Ledger, query: AuditQuery, *, include_personal: bool = True, chunk: int = 1000
) -> Iterator[str]:
    buf = io.StringIO()
    w = csv.writer(buf)

    def flush() -> str:
        text = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return text

    w.writerow(CSV_COLUMNS)
    yield flush()
    for row in iter_rows(ledger, query, chunk=chunk):
        e = _entry(row, include_personal)
        w.writerow(
            [
                e["index"],
                e["record_id"],
                e["created_at"],
                e["tenant"],
                e["kind"],
                e["decision"] or "",
                ";".join(e["categories"]),
                e["model_id"] or "",
                e["policy_id"] or "",
                e["policy_digest"] or "",
                e["subject_id"] or "",
                e.get("requester") or "",
                e.get("prompt") or "",
                e["prompt_digest"] or "",
                e["erased_at"] or "",
                e["leaf_hash"],
                e["body"],
            ]
        )
        yield flush()


# --- offline verification ----------------------------------------------------------------------
def _parse_time(text: Any) -> datetime:
    if not isinstance(text, str):
        raise ValueError("time is not a string")
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


def _row_from_entry(e: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(e.get("index"), int) or isinstance(e.get("index"), bool) or e["index"] < 0:
        raise ValueError("index is not a non-negative integer")
    if not isinstance(e.get("categories"), list) or not all(isinstance(c, str) for c in e["categories"]):
        raise ValueError("categories is not a list of strings")
    body = e.get("body")
    if not isinstance(body, str):
        raise ValueError("body is not the canonical JSON text")
    json.loads(body)  # must at least be JSON
    row = {
        k: e.get(k)
        for k in (
            "record_id",
            "kind",
            "tenant",
            "decision",
            "model_id",
            "policy_id",
            "policy_digest",
            "subject_id",
            "prompt_digest",
            "prompt_commit",
            "requester_commit",
            "body",
            "leaf_hash",
            *PERSONAL_FIELDS,
        )
    }
    row["idx"] = e["index"]
    row["categories"] = encode_categories(e["categories"])
    row["created_at"] = _parse_time(e.get("created_at"))
    row["appended_at"] = _parse_time(e.get("appended_at"))
    return row


def verify_export(lines: Iterable[str], verifier: NoteVerifier, *, max_problems: int = 200) -> VerifyReport:
    """Verify a JSONL export with nothing but the operator's public key."""
    t0 = time.perf_counter()
    findings = Findings(limit=max_problems)
    report = VerifyReport(source="export")
    it = iter(lines)
    try:
        header = json.loads(next(it))
    except StopIteration:
        raise InvalidRequest("the export is empty") from None
    except ValueError:
        raise InvalidRequest("the export's first line is not JSON") from None
    if (
        not isinstance(header, dict)
        or header.get("type") != "header"
        or header.get("format") != EXPORT_FORMAT
    ):
        raise InvalidRequest(f"not an Assay ledger export (expected a {EXPORT_FORMAT} header line)")
    try:
        cp = parse_checkpoint(str(header.get("checkpoint", "")), verifier)
    except AssayError as exc:
        findings.add(None, f"the export's checkpoint does not verify with the given key: {exc.message}")
        report.seconds = time.perf_counter() - t0
        return findings.into(report)
    report.checkpoints = 1
    report.tree_size = cp.size
    full = header.get("complete") is True
    personal = header.get("personal_data") is True
    tree = TreeChecker(findings, {cp.size: [("the export's checkpoint", cp.root)]}) if full else None
    erased: set[str] = set()
    claimed: set[str] = set()
    expected = 0
    last_index = -1
    ended = None
    for lineno, line in enumerate(it, start=2):
        if not line.strip():
            continue
        if ended is not None:
            findings.add(None, f"line {lineno}: data after the end line")
            break
        try:
            e = json.loads(line)
            if not isinstance(e, dict):
                raise ValueError("not an object")
            if e.get("type") == "end":
                ended = e
                continue
            if e.get("type") != "entry":
                raise ValueError(f"unknown line type {e.get('type')!r}")
            row = _row_from_entry(e)
        except (ValueError, TypeError, KeyError) as exc:
            findings.add(None, f"line {lineno}: not a valid export entry ({exc})")
            continue
        idx = row["idx"]
        if idx <= last_index:
            findings.add(idx, f"index {idx} is out of order (after {last_index})")
        last_index = idx
        if idx >= cp.size:
            findings.add(idx, f"index {idx} is beyond the checkpoint's {cp.size} records")
            continue
        if personal:  # without personal data there is no text to check, nor erasure to account for
            check_personal_fields(row, findings, erased)
        claimed.update(erasure_claims(row))
        leaf = compute_leaf_hash(row)
        if leaf.hex() != row["leaf_hash"]:
            findings.add(idx, "the record's fields do not produce its leaf hash: the record was edited")
        if full:
            assert tree is not None
            if idx != expected:
                findings.add(expected, f"records {expected}..{idx - 1} are missing from a complete export")
                expected = idx
            tree.add(leaf)
            expected += 1
        else:
            try:
                proof = [bytes.fromhex(p) for p in e.get("proof") or []]
                merkle.verify_inclusion(idx, cp.size, leaf, proof, cp.root)
            except (ValueError, TypeError):
                findings.add(idx, "the record's inclusion proof is not a list of hex hashes")
            except AssayError as exc:
                findings.add(idx, f"the record is not in the checkpointed log: {exc.message}")
        report.records += 1
    if ended is None:
        findings.add(None, "the export has no end line: it was truncated")
    elif ended.get("records") != report.records:
        findings.add(
            None, f"the end line counts {ended.get('records')} records but {report.records} are present"
        )
    if full and tree is not None:
        tree.finish(expected)
        if expected != cp.size:
            findings.add(expected, f"a complete export of {cp.size} records holds only {expected}")
        report.root = tree.frontier.root().hex()
        for rid in sorted(erased - claimed):
            findings.add(None, f"personal data of record {rid} is gone but no erasure record names it")
    else:
        report.root = cp.root.hex()
    report.erased_records = len(erased)
    report.seconds = time.perf_counter() - t0
    return findings.into(report)
