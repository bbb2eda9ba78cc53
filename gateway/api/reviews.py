"""The review API: the requester's status of a held generation, and the reviewers' queue.

* ``GET /v1/reviews/{id}`` — for the requester (any key of the item's tenant) and its reviewers:
  the status and, once approved, the released images in the OpenAI ``data`` format.
* ``GET /v1/reviews`` — the queue (filters, counts); ``GET /v1/reviews/{id}/detail`` — the evidence;
  ``GET /v1/reviews/{id}/images/{i}`` / ``inputs/{n}`` — the held (unmarked) pixels;
  ``POST /v1/reviews/{id}/claim|unclaim|approve|reject|escalate|comments`` — reviewers and admins.
* ``PUT/DELETE /v1/reviewers/{key_id}/tenants/{tenant}``, ``PUT/DELETE /v1/review-webhooks/{tenant}`` —
  admins.

An item of a tenant the caller may not see answers 404 on every route, exactly like an unknown id.
The webhook dispatcher runs for the lifetime of the app (this router's lifespan).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from core.errors import InvalidRequest
from gateway.api.deps import AdminDep, PrincipalDep, ReviewerDep, StateDep
from gateway.review.models import DecisionIn, ItemKind, QueueFilter, QueuePage, ReviewDetail, ReviewState
from gateway.review.queue import ReviewQueue
from gateway.state import AppState


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: AppState = app.state.assay
    queue: ReviewQueue | None = state.review_queue
    if queue is not None:
        queue.dispatcher.start()
    try:
        yield
    finally:
        if queue is not None:
            queue.dispatcher.stop()


router = APIRouter(tags=["reviews"], lifespan=_lifespan)


def _queue(state: AppState) -> ReviewQueue:
    return state.review_queue


_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


# --- the requester's view --------------------------------------------------------------------------
@router.get("/v1/reviews/{review_id}", summary="Status of a held generation; the images once approved")
async def review_status(review_id: str, principal: PrincipalDep, state: StateDep) -> JSONResponse:
    q = _queue(state)
    status = await run_in_threadpool(q.status, principal, review_id)
    images = (
        await run_in_threadpool(q.released_images, principal, review_id)
        if status.status == "approved"
        else []
    )
    created = status.decided_at or status.created_at
    body: dict[str, Any] = {
        "created": int(created.timestamp()),
        "data": [
            {"b64_json": base64.b64encode(data).decode(), "revised_prompt": None} for _o, data in images
        ],
        "assay": {
            **status.model_dump(mode="json"),
            "review_id": status.id,
            "images": [
                {"index": o.index, "content_id": o.content_id, "sha256": o.sha256, "media_type": o.media_type}
                for o, _d in images
            ],
        },
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


# --- the queue ---------------------------------------------------------------------------------------
@router.get("/v1/reviews", summary="The review queue (reviewers, admins)", response_model=QueuePage)
async def list_reviews(
    principal: ReviewerDep,
    state: StateDep,
    status: Annotated[ReviewState | Literal["open", "all"], Query(alias="state")] = "open",
    tenant: str | None = None,
    category: str | None = None,
    policy: str | None = None,
    kind: ItemKind | None = None,
    overdue: bool = False,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> QueuePage:
    try:
        flt = QueueFilter(
            state=status,
            tenant=tenant,
            category=category,
            policy=policy,
            kind=kind,
            overdue=overdue,
            mine=mine,
            limit=limit,
            offset=offset,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidRequest(
            f"bad queue filter: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}",
            param=str(err["loc"][0]) if err["loc"] else None,
        ) from None
    return await run_in_threadpool(_queue(state).page, principal, flt)


@router.get(
    "/v1/reviews/{review_id}/detail", summary="Everything a reviewer sees", response_model=ReviewDetail
)
async def review_detail(review_id: str, principal: ReviewerDep, state: StateDep) -> ReviewDetail:
    return await run_in_threadpool(_queue(state).detail, principal, review_id)


@router.get(
    "/v1/reviews/{review_id}/images/{index}",
    summary="A held (unmarked) image, for reviewers",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def held_image(review_id: str, index: int, principal: ReviewerDep, state: StateDep) -> Response:
    data = await run_in_threadpool(_queue(state).held_image, principal, review_id, index)
    return Response(data, media_type="image/png", headers=_NO_STORE)


@router.get(
    "/v1/reviews/{review_id}/inputs/{n}",
    summary="An edit's input image, for reviewers",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def input_image(review_id: str, n: int, principal: ReviewerDep, state: StateDep) -> Response:
    from gateway.review.evidence import as_png

    data = await run_in_threadpool(_queue(state).input_image, principal, review_id, n)
    return Response(await run_in_threadpool(as_png, data), media_type="image/png", headers=_NO_STORE)


@router.post(
    "/v1/reviews/{review_id}/claim",
    summary="Claim an item (a lease); exactly one of racing claims wins",
    response_model=ReviewDetail,
)
async def claim(review_id: str, principal: ReviewerDep, state: StateDep) -> ReviewDetail:
    return await run_in_threadpool(_queue(state).claim, principal, review_id)


@router.post(
    "/v1/reviews/{review_id}/unclaim", summary="Give a claimed item back", response_model=ReviewDetail
)
async def unclaim(review_id: str, principal: ReviewerDep, state: StateDep) -> ReviewDetail:
    return await run_in_threadpool(_queue(state).unclaim, principal, review_id)


@router.post(
    "/v1/reviews/{review_id}/approve",
    summary="Approve (releases the image after the last approval)",
    response_model=ReviewDetail,
)
async def approve(review_id: str, body: DecisionIn, principal: ReviewerDep, state: StateDep) -> ReviewDetail:
    return await run_in_threadpool(_queue(state).approve, principal, review_id, body)


@router.post(
    "/v1/reviews/{review_id}/reject",
    summary="Reject (the held image is discarded)",
    response_model=ReviewDetail,
)
async def reject(review_id: str, body: DecisionIn, principal: ReviewerDep, state: StateDep) -> ReviewDetail:
    return await run_in_threadpool(_queue(state).reject, principal, review_id, body)


@router.post("/v1/reviews/{review_id}/escalate", summary="Escalate to an admin", response_model=ReviewDetail)
async def escalate(review_id: str, body: DecisionIn, principal: ReviewerDep, state: StateDep) -> ReviewDetail:
    return await run_in_threadpool(_queue(state).escalate, principal, review_id, body)


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


@router.post("/v1/reviews/{review_id}/comments", summary="Add a comment", response_model=ReviewDetail)
async def comment(review_id: str, body: CommentIn, principal: ReviewerDep, state: StateDep) -> ReviewDetail:
    return await run_in_threadpool(_queue(state).comment, principal, review_id, body.text)


# --- administration --------------------------------------------------------------------------------
class Assignment(BaseModel):
    key_id: str
    tenant: str


@router.get("/v1/reviewers/{key_id}/tenants", summary="Tenants a reviewer is assigned to (admins)")
async def reviewer_tenants(key_id: str, _admin: AdminDep, state: StateDep) -> list[Assignment]:
    rows = await run_in_threadpool(_queue(state).assignments.list, key_id)
    return [Assignment(key_id=r.key_id, tenant=r.tenant) for r in rows]


@router.put("/v1/reviewers/{key_id}/tenants/{tenant}", summary="Assign a reviewer to a tenant (admins)")
async def assign(key_id: str, tenant: str, admin: AdminDep, state: StateDep) -> Assignment:
    row = await run_in_threadpool(_queue(state).assignments.assign, admin, key_id, tenant)
    return Assignment(key_id=row.key_id, tenant=row.tenant)


@router.delete("/v1/reviewers/{key_id}/tenants/{tenant}", status_code=204, summary="Unassign (admins)")
async def unassign(key_id: str, tenant: str, admin: AdminDep, state: StateDep) -> Response:
    from core.errors import NotFound

    if not await run_in_threadpool(_queue(state).assignments.unassign, admin, key_id, tenant):
        raise NotFound(f"reviewer {key_id} is not assigned to tenant {tenant!r}")
    return Response(status_code=204)


class WebhookIn(BaseModel):
    url: str = Field(max_length=2000)
    secret: str = Field(min_length=16, max_length=200)


@router.put(
    "/v1/review-webhooks/{tenant}", status_code=204, summary="Set a tenant's decision webhook (admins)"
)
async def set_webhook(tenant: str, body: WebhookIn, _admin: AdminDep, state: StateDep) -> Response:
    await run_in_threadpool(_queue(state).webhooks.set, tenant, body.url, body.secret)
    return Response(status_code=204)


@router.delete("/v1/review-webhooks/{tenant}", status_code=204, summary="Remove a tenant's webhook (admins)")
async def remove_webhook(tenant: str, _admin: AdminDep, state: StateDep) -> Response:
    from core.errors import NotFound

    if not await run_in_threadpool(_queue(state).webhooks.remove, tenant):
        raise NotFound(f"tenant {tenant!r} has no webhook")
    return Response(status_code=204)
