"""``POST /v1/verify``: upload an image, learn whether this gateway made it and what its record is.

Authenticated callers (any role) get the full :class:`provenance.verify.VerifyReport`; a record of
another tenant is shown without its tenant unless the caller is an auditor or admin. With
``ASSAY_PUBLIC_VERIFY=true`` a caller without an API key gets the free detection answer SB 942
asks for — provider, system, time and id, never prompts or tenant data — limited per client
address (``ASSAY_PUBLIC_VERIFY_PER_MINUTE``, 429 with ``Retry-After``). Bad uploads are 4xx
answers (not an image, too large, truncated, a decompression bomb); a forged or corrupt C2PA
manifest is reported in the body, not as an error.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from core.errors import InvalidRequest
from gateway.api.deps import StateDep, get_principal
from gateway.auth import Principal, Role
from gateway.ratelimit import PUBLIC_VERIFY, Limit, RateLimiter
from provenance.verify import VerifyReport, to_public, verifier_for

router = APIRouter(tags=["verify"])

_FIELDS = ("image", "file")


async def _upload(request: Request) -> bytes:
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise InvalidRequest("send the image as multipart/form-data in the field 'image'", param="image")
    form = await request.form(max_files=1, max_fields=8)
    try:
        for name in _FIELDS:
            item = form.get(name)
            if item is not None and not isinstance(item, str):
                return await item.read()
    finally:
        await form.close()
    raise InvalidRequest("no file in the multipart field 'image'", param="image")


def _client_bucket(request: Request) -> str:
    """The bucket of an unauthenticated caller: its address (an IPv6 client by its /64, which one
    host usually holds whole), hashed to fit the bucket key and to keep addresses out of the table.

    Behind a load balancer the address is the one uvicorn takes from ``X-Forwarded-For`` for the
    proxies it trusts (``FORWARDED_ALLOW_IPS``, see the README's configuration table).
    """
    host = request.client.host if request.client else "unknown"
    try:
        ip = ipaddress.ip_address(host)
        if ip.version == 6 and ip.ipv4_mapped is None:
            host = str(ipaddress.ip_network(f"{ip}/64", strict=False))
        elif ip.version == 6:
            host = str(ip.ipv4_mapped)
    except ValueError:
        pass
    return "ip-" + hashlib.sha256(host.encode()).hexdigest()[:29]


def _scoped(report: VerifyReport, principal: Principal) -> dict[str, Any]:
    body = report.model_dump(mode="json")
    if principal.role not in (Role.ADMIN, Role.AUDITOR):
        for rec in body["records"]:
            if rec.get("tenant") != principal.tenant:
                rec["tenant"] = None
    return body


@router.post("/v1/verify", summary="Verify an image: C2PA, metadata label, watermark, perceptual hash")
async def verify_image(request: Request, state: StateDep) -> JSONResponse:
    public = state.settings.public_verify and not request.headers.get("authorization")
    principal = None if public else get_principal(request, state)
    if principal is None:  # charged before the upload is read: a refused caller costs no parsing
        limit = Limit.per_minute(
            state.settings.public_verify_per_minute, PUBLIC_VERIFY, "public verify requests"
        )
        await run_in_threadpool(
            RateLimiter(state.db).charge, _client_bucket(request), limit, who="this client address"
        )
    data = await _upload(request)
    verifier = verifier_for(state)
    report = await run_in_threadpool(verifier.verify, data)
    if principal is None:
        return JSONResponse(to_public(report).model_dump(mode="json"))
    return JSONResponse(_scoped(report, principal))
