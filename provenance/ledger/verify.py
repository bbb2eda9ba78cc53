"""``assay audit verify``: recompute the whole ledger from its stored rows and name what disagrees.

What is checked, in index order, streaming (memory stays flat however long the log is):

* indices run 0, 1, 2, ... with no gap and no row beyond the head's size;
* each row's leaf, recomputed from its columns (the leaf commits to its own index, so swapped or
  shifted rows show), equals the stored leaf hash;
* stored prompt text and requester match their salted commitments; text without a salt, or a
  commitment whose text is gone without an erasure record naming the record, is a finding;
* the tree rebuilt from the recomputed leaves matches the stored tile nodes, the head (size,
  root, frontier) and the root of every checkpoint, whose signatures are checked too.

A row-level finding names its index. When every row is self-consistent but a signed checkpoint
disagrees (someone recomputed hashes after editing), the first bad index is the size of the last
checkpoint that still matches: everything below it is proven intact, the change is at or after it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select

from core.errors import AssayError, IntegrityError
from core.store import table_of
from provenance.ledger.checkpoint import parse_checkpoint
from provenance.ledger.log import Ledger
from provenance.ledger.merkle import Frontier
from provenance.ledger.note import NoteVerifier
from provenance.ledger.record import commit, compute_leaf_hash
from provenance.ledger.tables import LedgerCheckpointRow, LedgerEntryRow, LedgerHead, LedgerNode

_entry_t = table_of(LedgerEntryRow)
_node_t = table_of(LedgerNode)
_cp_t = table_of(LedgerCheckpointRow)
_head_t = table_of(LedgerHead)

ERASURE_KIND = "erasure"


class Problem(BaseModel):
    index: int | None = None  # the log index the finding is about (None: not one record)
    message: str


class VerifyReport(BaseModel):
    """What a verification found. ``ok`` only when nothing disagrees."""

    source: str
    records: int = 0
    tree_size: int | None = None
    root: str | None = None  # hex, recomputed
    checkpoints: int = 0
    erased_records: int = 0
    problems: list[Problem] = Field(default_factory=list)
    problems_truncated: bool = False
    first_bad_index: int | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        if self.problems:
            raise LedgerIntegrityError(self)

    def summary(self) -> str:
        if self.ok:
            return (
                f"ledger OK: {self.records} records, root {self.root}, "
                f"{self.checkpoints} checkpoint(s) verified ({self.seconds:.2f} s)"
            )
        where = (
            f"first bad index: {self.first_bad_index}"
            if self.first_bad_index is not None
            else "not one index"
        )
        lines = [
            f"ledger FAILED verification ({where}); {len(self.problems)} finding(s)"
            + (" (more not shown)" if self.problems_truncated else "")
            + ":"
        ]
        lines += [f"  [{p.index if p.index is not None else '-'}] {p.message}" for p in self.problems]
        return "\n".join(lines)


class LedgerIntegrityError(IntegrityError):
    """The ledger (or an export of it) does not verify."""

    code = "ledger_integrity_failure"

    def __init__(self, report: VerifyReport) -> None:
        super().__init__(
            report.summary(),
            hint="restore the named rows from a backup and investigate who changed them",
            details={
                "first_bad_index": report.first_bad_index,
                "problems": [p.model_dump() for p in report.problems[:20]],
            },
        )
        self.report = report


@dataclass
class Findings:
    """Collects problems (bounded) and works out the first bad index.

    A finding about one record names its index. A finding about the tree (a stored node or a
    checkpoint that no longer matches) names a range ``blame`` of indices where the change must
    be; it decides the first bad index only when no record finding lies inside that range.
    """

    limit: int = 200
    problems: list[Problem] = field(default_factory=list)
    truncated: bool = False
    rows: set[int] = field(default_factory=set)
    ranges: list[tuple[int, int]] = field(default_factory=list)

    def add(self, index: int | None, message: str, *, blame: tuple[int, int] | None = None) -> None:
        if index is not None:
            self.rows.add(index)
        elif blame is not None:
            self.ranges.append(blame)
        if len(self.problems) >= self.limit:
            self.truncated = True
            return
        self.problems.append(Problem(index=index, message=message))

    @property
    def first_bad(self) -> int | None:
        candidates = set(self.rows)
        for lo, hi in self.ranges:
            if not any(lo <= r <= hi for r in self.rows):
                candidates.add(lo)
        return min(candidates) if candidates else None

    def into(self, report: VerifyReport) -> VerifyReport:
        report.problems = sorted(self.problems, key=lambda p: (p.index is None, p.index or 0))
        report.problems_truncated = self.truncated
        report.first_bad_index = self.first_bad
        return report


def check_personal_fields(row: dict[str, Any], findings: Findings, erased: set[str]) -> None:
    """Stored text against its commitment; erased text must be named by an erasure record."""
    idx = row["idx"]
    for name in ("prompt", "requester"):
        value, commitment = row.get(name), row.get(f"{name}_commit")
        if value is not None:
            if commitment is None:
                findings.add(idx, f"{name} is stored but the leaf committed to none: text was added")
            elif row.get("salt") is None:
                findings.add(idx, f"{name} is stored without its salt: the salt was erased or the text added")
            elif commit(name, row["salt"], value) != commitment:
                findings.add(idx, f"stored {name} does not match its committed digest: the text was edited")
        elif commitment is not None:
            erased.add(row["record_id"])


def erasure_claims(row: dict[str, Any]) -> Iterable[str]:
    """The record ids an erasure record says it erased."""
    if row["kind"] != ERASURE_KIND:
        return ()
    try:
        body = json.loads(row["body"])
        return [str(e["record_id"]) for e in body.get("erased", [])]
    except (ValueError, TypeError, KeyError, AttributeError):
        return ()


class TreeChecker:
    """Feeds recomputed leaves in index order; compares tiles, checkpoints and the final head."""

    def __init__(
        self,
        findings: Findings,
        checkpoints: dict[int, list[tuple[str, bytes]]],
        stored_nodes: dict[tuple[int, int], str] | None = None,
    ) -> None:
        self.findings = findings
        self.frontier = Frontier()
        self.checkpoints = checkpoints  # size -> [(label, root)]
        self.stored_nodes = stored_nodes
        self.last_good_checkpoint = 0
        self._at_size(0)

    def add(self, leaf: bytes) -> None:
        for level, index, h in self.frontier.append(leaf):
            if self.stored_nodes is None:
                continue
            stored = self.stored_nodes.get((level, index))
            start = index << level
            # below a matching checkpoint is proven intact
            blame = (max(start, self.last_good_checkpoint), ((index + 1) << level) - 1)
            if stored is None:
                self.findings.add(
                    None, f"stored tree node (level {level}, index {index}) is missing", blame=blame
                )
            elif stored != h.hex():
                self.findings.add(
                    None,
                    f"stored tree node (level {level}, index {index}) differs from the "
                    f"records {start}..{((index + 1) << level) - 1}",
                    blame=blame,
                )
        self._at_size(self.frontier.size)

    def _at_size(self, size: int) -> None:
        for label, root in self.checkpoints.get(size, ()):
            if root == self.frontier.root():
                self.last_good_checkpoint = max(self.last_good_checkpoint, size)
            else:
                self.findings.add(
                    None,
                    f"{label} (size {size}) signs a root the stored records no longer produce: a record at "
                    f"index {self.last_good_checkpoint}..{size - 1} was changed, removed or inserted",
                    blame=(self.last_good_checkpoint, size - 1),
                )

    def finish(self, records: int) -> None:
        for size in sorted(s for s in self.checkpoints if s > records):
            for label, _root in self.checkpoints[size]:
                self.findings.add(
                    None,
                    f"{label} covers {size} records but only {records} are stored: records were deleted",
                    blame=(records, size - 1),
                )


def _stored_checkpoints(
    ledger: Ledger, verifier: NoteVerifier, findings: Findings
) -> dict[int, list[tuple[str, bytes]]]:
    out: dict[int, list[tuple[str, bytes]]] = {}
    with ledger.db.session() as s:
        rows = s.execute(select(_cp_t).order_by(_cp_t.c.size, _cp_t.c.id)).all()
    for r in rows:
        label = f"checkpoint #{r.id}"
        try:
            cp = parse_checkpoint(r.note, verifier)
        except AssayError as exc:
            findings.add(None, f"{label}: {exc.message}")
            continue
        if cp.size != r.size or cp.root.hex() != r.root:
            findings.add(None, f"{label}: its size/root columns differ from its signed note")
        out.setdefault(cp.size, []).append((label, cp.root))
    return out


def _iter_rows(ledger: Ledger, chunk: int) -> Iterator[dict[str, Any]]:
    last = -1
    while True:
        with ledger.db.session() as s:
            rows = s.execute(
                select(_entry_t).where(_entry_t.c.idx > last).order_by(_entry_t.c.idx).limit(chunk)
            ).all()
        if not rows:
            return
        for r in rows:
            yield dict(r._mapping)
        last = rows[-1].idx


def verify_ledger(
    ledger: Ledger,
    verifier: NoteVerifier,
    *,
    chunk: int = 5000,
    max_problems: int = 200,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Verify the ledger in the database; returns a report (``report.raise_for_problems()`` to raise)."""
    t0 = time.perf_counter()
    findings = Findings(limit=max_problems)
    report = VerifyReport(source=f"database ({ledger.db.dialect})")
    with ledger.db.session() as s:
        head_row = s.execute(select(_head_t).where(_head_t.c.id == 1)).first()
        nodes = {(r.level, r.idx): r.hash for r in s.execute(select(_node_t))}
    checkpoints = _stored_checkpoints(ledger, verifier, findings)
    report.checkpoints = sum(len(v) for v in checkpoints.values())
    tree = TreeChecker(findings, checkpoints, nodes)
    erased: set[str] = set()
    claimed: set[str] = set()
    expected = 0
    for row in _iter_rows(ledger, chunk):
        idx = row["idx"]
        if idx != expected:
            findings.add(expected, f"records {expected}..{idx - 1} are missing (deleted rows)")
            # keep the tree aligned with the indices that do exist so later rows are still checked
            expected = idx
        check_personal_fields(row, findings, erased)
        claimed.update(erasure_claims(row))
        try:
            leaf = compute_leaf_hash(row)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            findings.add(
                idx, f"the record's fields cannot be read back ({exc.__class__.__name__}): a field was edited"
            )
            leaf = bytes(32)
        if leaf.hex() != row["leaf_hash"]:
            findings.add(
                idx,
                "the record's fields do not produce its stored leaf hash: a stored field was edited, "
                "or the row was moved, swapped or inserted",
            )
        tree.add(leaf)
        expected += 1
        report.records += 1
        if progress is not None and report.records % 10000 == 0:
            progress(report.records)
    tree.finish(expected)
    for rid in sorted(erased - claimed):
        rec = ledger.get(rid)
        findings.add(
            rec.index if rec else None,
            f"personal data of record {rid} is gone but no erasure record names it",
        )
    report.erased_records = len(erased)
    report.tree_size = tree.frontier.size
    report.root = tree.frontier.root().hex()
    if head_row is None:
        if expected:
            findings.add(None, "the ledger head row is missing")
    else:
        if head_row.size != expected:
            findings.add(
                min(head_row.size, expected),
                f"the head says {head_row.size} records but {expected} are stored",
            )
        else:
            blame = (tree.last_good_checkpoint, max(expected - 1, 0))
            if head_row.root != report.root:
                findings.add(None, "the head's root differs from the root of the stored records", blame=blame)
            if head_row.frontier != ",".join(h.hex() for h in tree.frontier.hashes):
                findings.add(None, "the head's frontier differs from the stored records", blame=blame)
    report.seconds = time.perf_counter() - t0
    return findings.into(report)
