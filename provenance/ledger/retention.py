"""Retention: erase personal data (prompt text, requester ids) from ledger records, as policy says.

The leaves never held the text, only salted commitments, so erasing the text and the salt keeps
every leaf, proof and checkpoint valid while the text can no longer be recovered or confirmed.
The prompt's plain digest stays (the policy keeps it after the text is gone).

Each erasure is itself a ledger record (kind ``erasure``) listing the records and fields it
erased, appended *before* the rows are changed: a crash in between leaves a claim with the text
still present (harmless, the next run erases it), never text that vanished without a record.
``assay audit verify`` reports personal data that is gone without such a record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select, update
from ulid import ULID

from core.errors import InvalidRequest
from core.store import table_of
from provenance.ledger.log import Ledger
from provenance.ledger.record import LedgerRecord, now_utc, to_db_time
from provenance.ledger.tables import LedgerEntryRow
from provenance.ledger.verify import ERASURE_KIND

_entry_t = table_of(LedgerEntryRow)
ERASABLE = ("prompt", "requester")
#: most records one erasure record names
BATCH = 500


class ErasureResult(BaseModel):
    erased_records: int = 0
    erasure_record_ids: list[str] = Field(default_factory=list)


def erase(
    ledger: Ledger,
    record_ids: Sequence[str],
    *,
    fields: Sequence[str] = ERASABLE,
    reason: str,
    actor: str = "system",
    tenant: str | None = None,
    now: datetime | None = None,
) -> ErasureResult:
    """Erase ``fields`` of the given records (e.g. a data subject's request); records the erasure.

    With ``tenant`` set, records of other tenants are not touched (and count as not found).
    """
    bad = set(fields) - set(ERASABLE)
    if bad or not fields:
        raise InvalidRequest(
            f"erasable fields are {', '.join(ERASABLE)}; got {', '.join(sorted(bad)) or 'none'}",
            param="fields",
        )
    now = now or now_utc()
    c = _entry_t.c
    conds = [c.record_id.in_(list(record_ids)), or_(*[getattr(c, f).isnot(None) for f in fields])]
    if tenant is not None:
        conds.append(c.tenant == tenant)
    with ledger.db.session() as s:
        rows = s.execute(select(c.record_id, c.tenant, c.prompt, c.requester).where(and_(*conds))).all()
    targets = [(r.record_id, r.tenant, [f for f in fields if getattr(r, f) is not None]) for r in rows]
    return _erase_targets(ledger, targets, reason=reason, actor=actor, now=now)


@dataclass(frozen=True)
class RetentionRules:
    """What a policy lets the ledger keep of a record's personal data (days; None = kept)."""

    prompt_days: int | None = None  # the prompt text (``prompt_storage.retention_days``)
    personal_data_days: int | None = None  # prompt text and requester (``retention.personal_data_days``)


def apply_retention(
    ledger: Ledger, rules_for: Callable[[str | None], RetentionRules], *, now: datetime | None = None
) -> ErasureResult:
    """Erase what each record's policy no longer lets the ledger keep.

    ``rules_for(policy_id)`` returns the rules of the policy a record was decided under (or of the
    default policy, for a retired one): ``prompt_days`` erases the prompt text,
    ``personal_data_days`` the prompt text and the requester.
    """
    now = now or now_utc()
    c = _entry_t.c
    with ledger.db.session() as s:
        policy_ids = [
            r[0]
            for r in s.execute(
                select(c.policy_id).where(or_(c.prompt.isnot(None), c.requester.isnot(None))).distinct()
            )
        ]
    targets: dict[str, tuple[str, set[str]]] = {}
    for pid in policy_ids:
        kept = rules_for(pid)
        rules: list[tuple[int, tuple[str, ...]]] = []
        if kept.prompt_days is not None:
            rules.append((kept.prompt_days, ("prompt",)))
        if kept.personal_data_days is not None:
            rules.append((kept.personal_data_days, ("prompt", "requester")))
        for days, fields in rules:
            cutoff = to_db_time(now - timedelta(days=days))
            where = and_(
                c.policy_id == pid if pid is not None else c.policy_id.is_(None),
                c.created_at < cutoff,
                or_(*[getattr(c, f).isnot(None) for f in fields]),
            )
            with ledger.db.session() as s:
                for r in s.execute(select(c.record_id, c.tenant, c.prompt, c.requester).where(where)):
                    present = {f for f in fields if getattr(r, f) is not None}
                    targets.setdefault(r.record_id, (r.tenant, set()))[1].update(present)
    listed = [(rid, tenant, sorted(f)) for rid, (tenant, f) in sorted(targets.items())]
    return _erase_targets(ledger, listed, reason="retention", actor="retention", now=now)


def _erase_targets(
    ledger: Ledger, targets: list[tuple[str, str, list[str]]], *, reason: str, actor: str, now: datetime
) -> ErasureResult:
    result = ErasureResult()
    by_tenant: dict[str, list[tuple[str, list[str]]]] = {}
    for rid, tenant, fields in targets:
        if fields:
            by_tenant.setdefault(tenant, []).append((rid, fields))
    for tenant, items in sorted(by_tenant.items()):
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            rec = LedgerRecord(
                record_id=str(ULID()),
                kind=ERASURE_KIND,
                tenant=tenant,
                created_at=now,
                body={
                    "erased": [{"record_id": rid, "fields": f} for rid, f in batch],
                    "reason": reason,
                    "actor": actor,
                },
            )
            ledger.append(rec)  # the record first: text never vanishes unrecorded
            _apply(ledger, batch, now)
            result.erasure_record_ids.append(rec.record_id)
            result.erased_records += len(batch)
    return result


def _apply(ledger: Ledger, batch: list[tuple[str, list[str]]], now: datetime) -> None:
    c = _entry_t.c
    when = to_db_time(now)
    with ledger.db.session() as s:
        for fields in {tuple(f) for _, f in batch}:
            ids = [rid for rid, f in batch if tuple(f) == fields]
            values: dict = {f: None for f in fields}
            if "requester" in fields:
                values["requester_digest"] = None
            values["erased_at"] = when
            s.execute(update(_entry_t).where(c.record_id.in_(ids)).values(**values))
        # the salt goes once nothing it protects is left
        s.execute(
            update(_entry_t)
            .where(
                and_(c.record_id.in_([rid for rid, _ in batch]), c.prompt.is_(None), c.requester.is_(None))
            )
            .values(salt=None)
        )
