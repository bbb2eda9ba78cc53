"""Complaints and appeals (:mod:`gateway.review.cases`).

* ``POST /v1/reports`` — public (no API key; limited per client address like public verify,
  ``ASSAY_PUBLIC_REPORTS_PER_MINUTE``): JSON ``{record_id | content_id, reason, text, contact?}``,
  or multipart with the image in the field ``image`` and the same fields beside it. ``202`` with
  the report id and its status URL.
* ``GET /v1/reports/{id}`` — public: received, in_review, upheld or rejected, and the due time.
* ``POST /v1/appeals`` — a requester key: ``{record_id, reason}`` against a blocked generation or a
  rejected review of its tenant; ``GET /v1/appeals/{id}`` — its status.
* ``POST /v1/reviews/{id}/decide`` — reviewers: ``{outcome, comment?}`` on a claimed complaint
  (upheld | rejected) or appeal (overturned | upheld).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from core.errors import InvalidRequest
from gateway.api.deps import PrincipalDep, ReviewerDep, StateDep
from gateway.api.verify import _client_bucket
from gateway.ratelimit import Limit, RateLimiter
from gateway.review.models import AppealIn, CaseDecisionIn, CaseOut, ReportIn, ReportStatus, ReviewDetail

router = APIRouter(tags=["reports"])

PUBLIC_REPORTS = "public_reports"
REPORT_STATUS = "report_status"  # bucket scopes are at most 16 characters
_MAX_IMAGE = 20 * 1024 * 1024


def _parse(model: type[BaseModel], data: Any) -> Any:
    """Validate at the edge; the first error names its field and what would be accepted."""
    if not isinstance(data, dict):
        raise InvalidRequest("send a JSON object", param=None)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        raise InvalidRequest(f"{field}: {err['msg']}" if field else err["msg"], param=field) from None


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise InvalidRequest("the body is not JSON", param=None) from None


@router.post("/v1/reports", status_code=202, summary="Report a released image (public complaint)")
async def create_report(request: Request, state: StateDep) -> JSONResponse:
    limit = Limit.per_minute(state.settings.public_reports_per_minute, PUBLIC_REPORTS, "reports")
    await run_in_threadpool(
        RateLimiter(state.db).charge, _client_bucket(request), limit, who="this client address"
    )
    image: bytes | None = None
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=8)
        try:
            fields: dict[str, Any] = {}
            for name, value in form.multi_items():
                if isinstance(value, str):
                    if value != "":
                        fields[name] = value
                elif name == "image":
                    image = await value.read(_MAX_IMAGE + 1)
                    if len(image) > _MAX_IMAGE:
                        raise InvalidRequest("the image is larger than 20 MiB", param="image")
                else:
                    raise InvalidRequest(
                        f"unexpected file field {name!r}; send the image as 'image'", param=name
                    )
        finally:
            await form.close()
        data: Any = fields
    elif ctype.startswith("application/json"):
        data = await _json(request)
    else:
        raise InvalidRequest("send JSON, or multipart/form-data with the image in 'image'", param="image")
    report = _parse(ReportIn, data)
    status: ReportStatus = await run_in_threadpool(state.cases.report, report, image)
    return JSONResponse(
        status.model_dump(mode="json"),
        status_code=202,
        headers={"Location": status.status_url, "Cache-Control": "no-store"},
    )


@router.get("/v1/reports/{report_id}", response_model=ReportStatus, summary="Status of a report")
async def report_status(report_id: str, request: Request, state: StateDep) -> JSONResponse:
    limit = Limit.per_minute(state.settings.public_verify_per_minute, REPORT_STATUS, "lookups")
    await run_in_threadpool(
        RateLimiter(state.db).charge, _client_bucket(request), limit, who="this client address"
    )
    status = await run_in_threadpool(state.cases.report_status, report_id)
    return JSONResponse(status.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


@router.post("/v1/appeals", status_code=202, response_model=CaseOut, summary="Appeal a block or a rejection")
async def create_appeal(request: Request, principal: PrincipalDep, state: StateDep) -> JSONResponse:
    appeal = _parse(AppealIn, await _json(request))
    out: CaseOut = await run_in_threadpool(state.cases.appeal, principal, appeal)
    return JSONResponse(out.model_dump(mode="json"), status_code=202, headers={"Location": out.status_url})


@router.get("/v1/appeals/{appeal_id}", response_model=CaseOut, summary="Status of an appeal")
async def appeal_status(appeal_id: str, principal: PrincipalDep, state: StateDep) -> CaseOut:
    return await run_in_threadpool(state.cases.appeal_status, principal, appeal_id)


@router.post(
    "/v1/reviews/{review_id}/decide",
    response_model=ReviewDetail,
    summary="Decide a claimed complaint (upheld | rejected) or appeal (overturned | upheld)",
)
async def decide(review_id: str, request: Request, principal: ReviewerDep, state: StateDep) -> ReviewDetail:
    body = _parse(CaseDecisionIn, await _json(request))
    return await run_in_threadpool(state.cases.decide, principal, review_id, body)
