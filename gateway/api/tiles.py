"""The ledger over HTTP as a C2SP tiled log (``/log/checkpoint``, ``/log/tile/...``) and its witnesses.

Why a separate, mostly public router: mirrors, monitors and witnesses fetch a log with generic
tlog-tiles clients, which know nothing of Assay's API keys. What is public carries no tenant data:
the checkpoint (size, root, signatures) and hash tiles (SHA-256 hashes of leaves that carry
random record ids). Entry bundles are the leaves themselves (tenant ids, decisions, prompt
digests), so they need an admin key unless the operator publishes them
(``ASSAY_LEDGER_PUBLIC_ENTRIES=true``).

Tiles and bundles are immutable, so they are served with a year of caching; the checkpoint is
mutable and cached for a few seconds. With witnesses configured (``ASSAY_LEDGER_WITNESSES``),
``/log/checkpoint`` serves the newest checkpoint that at least ``ASSAY_LEDGER_WITNESS_QUORUM``
of them cosigned, with their cosignatures, and this router's lifespan collects cosignatures on
schedule (one elected replica).

Imports: gateway.api (deps, audit's checkpoint writer), provenance.ledger (tiles, witness).
"""

from __future__ import annotations

import gzip
import threading
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from core.errors import Forbidden, NotFound
from core.store.locks import Leadership
from gateway.api.audit import checkpoints_for
from gateway.api.deps import StateDep, get_principal
from gateway.auth import Role
from gateway.state import AppState
from provenance.ledger.schedule import Periodic
from provenance.ledger.tiles import LogTiles, parse_tile_path
from provenance.ledger.witness import Response as WitnessResponse
from provenance.ledger.witness import WitnessCollector, parse_witnesses

IMMUTABLE = "max-age=31536000, immutable"
#: the checkpoint changes: caches may keep it this long
CHECKPOINT_MAX_AGE_S = 5
WITNESS_LEADER = "ledger-witness"
WITNESS_TIMEOUT_S = 10.0

_lock = threading.Lock()
_collectors: weakref.WeakKeyDictionary[AppState, WitnessCollector] = weakref.WeakKeyDictionary()


def http_post(url: str, body: str) -> WitnessResponse:
    """POST an add-checkpoint body to a witness (the collector's transport)."""
    r = httpx.post(
        url,
        content=body.encode("utf-8"),
        headers={"Content-Type": "text/plain; charset=utf-8"},
        timeout=WITNESS_TIMEOUT_S,
    )
    return WitnessResponse(r.status_code, r.text)


def collector_for(state: AppState) -> WitnessCollector:
    """The witness collector of this app state (the configured witnesses, parsed once)."""
    with _lock:
        col = _collectors.get(state)
        if col is None:
            witnesses = parse_witnesses(state.settings.ledger_witnesses)
            quorum = state.settings.ledger_witness_quorum or len(witnesses)
            col = WitnessCollector(checkpoints_for(state), witnesses, quorum, http_post)
            _collectors[state] = col
        return col


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: AppState = app.state.assay
    col = collector_for(state)  # a bad witness list fails start-up
    if not col.witnesses:
        yield
        return
    leader = Leadership(state.db, WITNESS_LEADER)
    sched = Periodic(
        "ledger-witness",
        col.collect,
        state.settings.ledger_checkpoint_interval_s,
        leader=leader,
    )
    sched.start()
    try:
        yield
    finally:
        sched.stop()
        leader.release()


router = APIRouter(prefix="/log", tags=["log"], lifespan=_lifespan)


@router.get("/checkpoint", summary="The newest published checkpoint (C2SP signed note)")
def checkpoint(state: StateDep) -> Response:
    col = collector_for(state)
    cp = col.published()
    if cp is None and not col.witnesses:
        cp = col.checkpoints.create()  # an empty log's first checkpoint
    if cp is None:
        raise NotFound(
            f"no checkpoint has {col.quorum} of the {len(col.witnesses)} witness cosignatures yet",
            hint="the gateway asks its witnesses every checkpoint interval; see its log for refusals",
        )
    return Response(
        cp.note,
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": f"public, max-age={CHECKPOINT_MAX_AGE_S}"},
    )


@router.get("/tile/{path:path}", summary="A Merkle tile or an entry bundle (C2SP tlog-tiles)")
async def tile(path: str, request: Request, state: StateDep) -> Response:
    ref = parse_tile_path(path)
    tiles = LogTiles(state.ledger)
    cache = "public, " + IMMUTABLE
    if ref.level is None:
        if not state.settings.ledger_public_entries:
            principal = get_principal(request, state)
            if principal.role is not Role.ADMIN:
                raise Forbidden(
                    "entry bundles hold every tenant's leaves: they need an admin key",
                    hint="auditors: GET /v1/audit/export gives your tenant's records with proofs",
                )
            cache = "private, " + IMMUTABLE
        data = await run_in_threadpool(tiles.bundle, ref)
        headers = {"Cache-Control": cache, "Vary": "Accept-Encoding, Authorization"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            data = gzip.compress(data, compresslevel=6, mtime=0)
            headers["Content-Encoding"] = "gzip"
        return Response(data, media_type="application/octet-stream", headers=headers)
    data = await run_in_threadpool(tiles.tile, ref)
    return Response(data, media_type="application/octet-stream", headers={"Cache-Control": cache})
