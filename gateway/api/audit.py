"""The audit API: ledger records, proofs, checkpoints and exports for auditors.

Access: role ``auditor`` sees its own tenant only; ``admin`` may name any tenant (or none: all).
A record of another tenant answers 404 exactly like a record that does not exist, on every
endpoint, so an auditor cannot even learn which ids exist elsewhere.

Checkpoints are signed on a schedule while the app runs (this router's lifespan starts the
scheduler, and a retention run every six hours) and on demand: a proof is always given against a
checkpoint that covers its record. Of many replicas on one database, one elected replica (a
leadership lock in the database) runs the schedules; any replica signs on demand, one at a time.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ValidationError

from core.errors import InvalidRequest, NotFound
from core.store.locks import Leadership
from gateway.api.deps import AuditorDep, StateDep
from gateway.auth import Principal, validate_tenant_id
from gateway.reports.bias import BiasReport, GroupBy, bias_report, report_csv, svg_chart
from gateway.review.models import AppealStats
from gateway.state import AppState
from provenance.ledger import StoredRecord
from provenance.ledger.checkpoint import Checkpoint, Checkpoints, CheckpointScheduler, load_signer
from provenance.ledger.export import export_csv, export_jsonl
from provenance.ledger.query import MAX_PAGE, AuditQuery, page
from provenance.ledger.retention import ErasureResult, apply_retention
from provenance.ledger.schedule import Periodic

#: retention runs every six hours (and a minute after start-up)
RETENTION_INTERVAL_S = 6 * 3600.0
#: the leadership (a lock in the database) that the replica running the schedules holds
SCHEDULE_LEADER = "ledger-schedules"

_lock = threading.Lock()
_checkpoints: weakref.WeakKeyDictionary[AppState, Checkpoints] = weakref.WeakKeyDictionary()


def checkpoints_for(state: AppState) -> Checkpoints:
    """The checkpoint writer of this app state (its key loaded once)."""
    with _lock:
        cps = _checkpoints.get(state)
        if cps is None:
            cps = Checkpoints(state.ledger, load_signer(state.settings))
            _checkpoints[state] = cps
        return cps


def retention_run(state: AppState) -> ErasureResult:
    """Apply each record's policy retention now (the policy it was decided under, else the default)."""
    return apply_retention(state.ledger, state.policies.retention_rules(state.settings.default_policy))


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: AppState = app.state.assay
    interval = state.settings.ledger_checkpoint_interval_s
    leader = Leadership(state.db, SCHEDULE_LEADER)
    leader.acquire()  # elected at start-up (when free), so /readyz says at once which replica leads
    state.schedule_leader = leader
    schedules: list[Periodic[Any]] = [
        CheckpointScheduler(
            checkpoints_for(state), interval_s=interval, leader=leader
        ),  # a missing key fails start-up
        Periodic(
            "ledger-retention",
            lambda: retention_run(state),
            RETENTION_INTERVAL_S,
            first_delay_s=60.0,
            leader=leader,
        ),
    ]
    for sched in schedules:
        sched.start()
    try:
        yield
    finally:
        for sched in schedules:
            sched.stop()
        leader.release()
        state.schedule_leader = None


router = APIRouter(prefix="/v1/audit", tags=["audit"], lifespan=_lifespan)


def get_checkpoints(state: StateDep) -> Checkpoints:
    return checkpoints_for(state)


CheckpointsDep = Annotated[Checkpoints, Depends(get_checkpoints)]


# --- response models -------------------------------------------------------------------------------
class RecordList(BaseModel):
    object: Literal["list"] = "list"
    data: list[StoredRecord]
    next_cursor: str | None = None


class CheckpointOut(BaseModel):
    origin: str
    tree_size: int
    root: str  # base64, as in the note
    root_hex: str
    note: str  # the C2SP signed note
    public_key: str  # the note verifier key (vkey)
    created_at: datetime | None = None


class InclusionProofOut(BaseModel):
    record_id: str
    index: int
    tree_size: int
    leaf_hash: str  # hex: SHA-256(0x00 || leaf)
    leaf: str  # the canonical JSON the leaf hash is computed over
    proof: list[str]  # hex, leaf to root (RFC 9162)
    checkpoint: CheckpointOut


class ConsistencyProofOut(BaseModel):
    first: int
    second: int
    first_root: str  # hex
    proof: list[str]
    checkpoint: CheckpointOut


def _cp_out(cp: Checkpoint, cps: Checkpoints) -> CheckpointOut:
    return CheckpointOut(
        origin=cp.origin,
        tree_size=cp.size,
        root=cp.root_b64,
        root_hex=cp.root.hex(),
        note=cp.note,
        public_key=cps.verifier.vkey(),
        created_at=cp.created_at,
    )


# --- scope ---------------------------------------------------------------------------------------
def _scope_tenant(principal: Principal, tenant: str | None) -> str | None:
    """The tenant a query may see: an auditor's own; an admin's choice (None = every tenant)."""
    if principal.is_admin:
        return tenant
    if tenant is not None and tenant != principal.tenant:
        raise NotFound(f"no tenant {tenant!r}", param="tenant")
    return principal.tenant


def _record(state: AppState, principal: Principal, record_id: str) -> StoredRecord:
    rec = state.ledger.get(record_id, tenant=None if principal.is_admin else principal.tenant)
    if rec is None:
        raise NotFound(f"no audit record {record_id!r}", param="record_id")
    return rec


class _Filters(BaseModel):
    tenant: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    requester: str | None = None
    decision: str | None = None
    category: str | None = None
    kind: str | None = None
    model: str | None = None
    policy: str | None = None
    subject_id: str | None = None


def _filters(
    tenant: Annotated[
        str | None, Query(max_length=64, description="a tenant id: a-z, 0-9, '-', '_', '.'")
    ] = None,
    since: Annotated[datetime | None, Query(description="created at or after (RFC 3339)")] = None,
    until: Annotated[datetime | None, Query(description="created before (RFC 3339)")] = None,
    requester: Annotated[str | None, Query(max_length=256)] = None,
    decision: Annotated[str | None, Query(max_length=32)] = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    model: Annotated[str | None, Query(max_length=256)] = None,
    policy: Annotated[str | None, Query(max_length=128)] = None,
    subject_id: Annotated[str | None, Query(max_length=26)] = None,
) -> _Filters:
    if tenant is not None:
        validate_tenant_id(tenant)  # 400 naming the field; also keeps the export's file name ASCII
    return _Filters(
        tenant=tenant,
        since=since,
        until=until,
        requester=requester,
        decision=decision,
        category=category,
        kind=kind,
        model=model,
        policy=policy,
        subject_id=subject_id,
    )


FiltersDep = Annotated[_Filters, Depends(_filters)]


def _query(principal: Principal, f: _Filters, order: str) -> AuditQuery:
    data: dict[str, Any] = f.model_dump()
    data["tenant"] = _scope_tenant(principal, f.tenant)
    data["order"] = order
    try:
        return AuditQuery(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err.get("loc", ())) or None
        raise InvalidRequest(f"bad filter: {err.get('msg')}", param=field) from None


# --- endpoints -----------------------------------------------------------------------------------
@router.get("/records", response_model=RecordList)
def list_records(
    state: StateDep,
    principal: AuditorDep,
    filters: FiltersDep,
    order: Literal["asc", "desc"] = "desc",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> RecordList:
    """Records matching the filters, newest first by default; follow ``next_cursor`` for more."""
    q = _query(principal, filters, order)
    p = page(state.ledger, q, limit=limit, cursor=cursor)
    return RecordList(data=p.records, next_cursor=p.next_cursor)


@router.get("/reports/bias", response_model=BiasReport)
def bias_report_endpoint(
    state: StateDep,
    principal: AuditorDep,
    filters: FiltersDep,
    by: GroupBy = "prompt",
    outputs: Literal["released", "all"] = "released",
    format: Literal["json", "csv", "svg"] = "json",  # noqa: A002 - the query parameter's name
) -> Any:
    """Perceived gender, age bracket and skin tone of the faces in released outputs, per group
    (what ``assay report bias`` prints; see :mod:`gateway.reports.bias`). ``format=svg`` is the
    chart, ``format=csv`` one row per group and value."""
    if filters.kind not in (None, "generation"):
        raise InvalidRequest("the bias report reads generation records only", param="kind")
    q = _query(principal, filters.model_copy(update={"kind": "generation"}), "asc")
    report = bias_report(state.ledger, q, by=by, outputs=outputs)
    if format == "svg":
        return Response(svg_chart(report), media_type="image/svg+xml")
    if format == "csv":
        return Response(
            report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="assay-bias-report.csv"'},
        )
    return report


@router.get("/records/{record_id}", response_model=StoredRecord)
def get_record(record_id: str, state: StateDep, principal: AuditorDep) -> StoredRecord:
    return _record(state, principal, record_id)


@router.get("/records/{record_id}/proof", response_model=InclusionProofOut)
def record_proof(
    record_id: str, state: StateDep, principal: AuditorDep, cps: CheckpointsDep
) -> InclusionProofOut:
    """The record's inclusion proof against a signed checkpoint that covers it."""
    rec = _record(state, principal, record_id)
    cp = cps.covering(rec.index + 1)
    proof = state.ledger.inclusion_proof(rec.index, cp.size)
    return InclusionProofOut(
        record_id=rec.record_id,
        index=rec.index,
        tree_size=cp.size,
        leaf_hash=rec.leaf_hash,
        leaf=state.ledger.leaf_text(rec.index),
        proof=[p.hex() for p in proof],
        checkpoint=_cp_out(cp, cps),
    )


@router.get("/checkpoint", response_model=CheckpointOut)
def checkpoint(principal: AuditorDep, cps: CheckpointsDep) -> CheckpointOut:
    """The newest signed checkpoint (signed now if the log grew since the last one)."""
    return _cp_out(cps.create(), cps)


@router.get("/consistency", response_model=ConsistencyProofOut)
def consistency(
    principal: AuditorDep,
    state: StateDep,
    cps: CheckpointsDep,
    first: Annotated[int, Query(ge=1, description="the older tree size")],
    second: Annotated[
        int | None, Query(ge=1, description="the newer size (default: a new checkpoint)")
    ] = None,
) -> ConsistencyProofOut:
    """Proof that the log at ``second`` records extends the log at ``first`` (nothing rewritten)."""
    cp = cps.create() if second is None else cps.covering(second)
    size2 = cp.size if second is None else second
    if first > size2:
        raise InvalidRequest(f"first ({first}) is larger than second ({size2})", param="first")
    if size2 != cp.size:
        raise InvalidRequest(
            f"no checkpoint of size {size2}; use the size of a published checkpoint "
            f"(the newest is {cp.size})",
            param="second",
        )
    proof = state.ledger.consistency_proof(first, size2)
    return ConsistencyProofOut(
        first=first,
        second=size2,
        first_root=state.ledger.root_at(first).hex(),
        proof=[p.hex() for p in proof],
        checkpoint=_cp_out(cp, cps),
    )


@router.get("/export")
async def export(
    state: StateDep,
    principal: AuditorDep,
    cps: CheckpointsDep,
    filters: FiltersDep,
    format: Literal["jsonl", "csv"] = "jsonl",
    personal_data: bool = True,
) -> StreamingResponse:
    """Stream the matching records as JSONL (self-verifying: checkpoint + proofs) or CSV."""
    q = _query(principal, filters, "asc")
    if format == "jsonl":
        # sign/fetch the checkpoint before streaming starts, so failures still get a proper status
        await run_in_threadpool(cps.covering, state.ledger.head().size)
        lines = export_jsonl(state.ledger, cps, q, include_personal=personal_data)
        media, ext = "application/x-ndjson", "jsonl"
    else:
        lines = export_csv(state.ledger, q, include_personal=personal_data)
        media, ext = "text/csv; charset=utf-8", "csv"
    name = f"assay-audit-{q.tenant or 'all'}.{ext}"
    return StreamingResponse(
        _iterate(lines), media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


async def _iterate(lines):  # noqa: ANN001, ANN202 - sync DB reads run off the event loop
    it = iter(lines)
    sentinel = object()
    while True:
        batch = await run_in_threadpool(_take, it, 256, sentinel)
        if batch:
            yield "".join(batch)
        if len(batch) < 256:
            return


def _take(it, n: int, sentinel: object) -> list[str]:  # noqa: ANN001
    out: list[str] = []
    for _ in range(n):
        line = next(it, sentinel)
        if line is sentinel:
            break
        out.append(line)  # type: ignore[arg-type]
    return out


@router.get("/appeals", response_model=AppealStats)
def appeal_stats(principal: AuditorDep, state: StateDep, tenant: str | None = None) -> AppealStats:
    """Appeals decided and overturned and the overturn rate (the measured false-block rate),
    overall and per category of the first decision, for the caller's tenant (an admin: any)."""
    return state.cases.stats(_scope_tenant(principal, tenant))
