"""``POST /v1/images/generations`` and ``POST /v1/images/edits``, OpenAI-compatible.

The official ``openai`` client works unchanged (``base_url`` + ``api_key``). Responses follow the
OpenAI ``ImagesResponse`` schema (``created``, ``data[].b64_json | url``); Assay's own fields (record
id, decision, review id) go in an extra top-level ``assay`` key. A held generation answers ``202``
with ``data`` empty and the review id.

Assay's extension fields (``seed``, ``steps``, ``guidance``, ``negative_prompt``, and the control
input ``control_image`` / ``control_type`` / ``control_strength``) are optional and ignored by
nothing: the OpenAI client sends them through ``extra_body``. A generation takes JSON (the control
image base64, or a ``data:`` URL) or multipart/form-data (the control image a file part), so a
control image can be uploaded like an edit's ``image``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import weakref
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import FormData, UploadFile

from core.errors import InvalidRequest, NotFound, UnknownModel
from core.settings import BUILTIN_MODEL
from gateway.api.deps import RequesterDep, StateDep
from gateway.pipeline import PipelineRequest, PipelineResult, Upload
from gateway.state import AppState
from provenance.ledger.bodies import GenerationBody as GenerationRecordBody  # not the request body
from safety.verdict import Action

router = APIRouter(tags=["images"])

URL_TTL_S = 3600


class GenerationBody(BaseModel):
    """The OpenAI image-generation request, plus Assay's optional controls."""

    model_config = ConfigDict(extra="ignore")

    prompt: str = Field(max_length=100_000)
    model: str | None = None
    n: int = Field(default=1, ge=1, le=16)
    size: str | None = None
    response_format: Literal["b64_json", "url"] = "b64_json"
    output_format: Literal["png", "jpeg", "webp"] = "png"
    user: str | None = Field(default=None, max_length=256)
    quality: str | None = None
    style: str | None = None
    # Assay extras
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    steps: int | None = Field(default=None, ge=1, le=150)
    guidance: float | None = Field(default=None, ge=0, le=50)
    negative_prompt: str | None = Field(default=None, max_length=10_000)
    #: the control input: base64 of the image file (or a ``data:image/...;base64,`` URL) in JSON;
    #: in multipart, a file part of this name
    control_image: str | None = Field(default=None, description="base64 of the control image file")
    control_type: str | None = Field(default=None, max_length=64, description="canny, pose, ...")
    control_strength: float = Field(default=1.0, ge=0, le=2, description="the control's conditioning scale")


def _b64_image(value: str, name: str) -> bytes:
    """The bytes of a base64 image field (a ``data:`` URL's payload too); a clear 400 otherwise."""
    text = value.strip()
    if text.startswith("data:"):
        head, sep, text = text.partition(",")
        if not sep or not head.endswith(";base64"):
            raise InvalidRequest(f"{name}: a data URL must be base64 (data:image/png;base64,...)", param=name)
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (ValueError, TypeError):
        raise InvalidRequest(
            f"{name} is not valid base64", param=name, hint="send the image file's bytes base64-encoded"
        ) from None


def _generation_body(raw: Any) -> GenerationBody:
    from fastapi.exceptions import RequestValidationError
    from pydantic import ValidationError

    if not isinstance(raw, dict):
        raise InvalidRequest("the request body must be a JSON object")
    try:
        return GenerationBody.model_validate(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


async def _generation_request(request: Request, limit: int) -> tuple[GenerationBody, Upload | None]:
    """The generation's fields and its control image, from JSON or multipart/form-data."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=2, max_fields=64)
        except Exception as exc:  # noqa: BLE001 - starlette raises several parse errors
            raise InvalidRequest(f"cannot parse the multipart body: {exc}") from exc
        fields: dict[str, Any] = {}
        for key, value in form.multi_items():
            if key == "control_image":
                continue
            if not isinstance(value, str):
                raise InvalidRequest(f"{key} must be a text field", param=key)
            fields[key] = value
        body = _generation_body(fields)
        part = form.get("control_image")
        if part is None:
            return body, None
        if isinstance(part, str):  # a base64 text field works in a form too
            return body, Upload(data=_b64_image(part, "control_image"), name="control_image")
        return body, await _upload(part, "control_image", limit)
    try:
        raw = await request.json()
    except ValueError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None
    body = _generation_body(raw)
    if body.control_image is None:
        return body, None
    return body, Upload(data=_b64_image(body.control_image, "control_image"), name="control_image")


def _check_model(state: AppState, model: str | None) -> None:
    if model in (None, "", BUILTIN_MODEL):
        return
    if model != state.backend.info.model_id:
        raise UnknownModel(
            f"model {model!r} is not served here",
            param="model",
            hint=f"this gateway serves {state.backend.info.model_id!r}",
        )


def _url_secret(state: AppState) -> bytes:
    """The deployment's HMAC key for signed links: created 0600 once (the first replica wins)."""
    from provenance.keys import read_private, write_private

    secret = _url_secrets.get(state)
    if secret is None:
        path = state.settings.keys_dir / "url-secret"
        if not path.exists():
            write_private(path, secrets.token_bytes(32))
        secret = _url_secrets[state] = read_private(path, what="signed-URL secret")  # mode checked once
    return secret


_url_secrets: weakref.WeakKeyDictionary[AppState, bytes] = weakref.WeakKeyDictionary()


def _sign(state: AppState, content_id: str, expires: int) -> str:
    return hmac.new(_url_secret(state), f"{content_id}|{expires}".encode(), hashlib.sha256).hexdigest()


def _render(state: AppState, request: Request, result: PipelineResult, response_format: str) -> JSONResponse:
    data: list[dict[str, Any]] = []
    base = (state.settings.public_base_url or str(request.base_url)).rstrip("/")
    for im in result.released:
        if response_format == "url":
            expires = int(time.time()) + URL_TTL_S
            sig = _sign(state, im.content_id, expires)
            data.append(
                {
                    "url": f"{base}/v1/images/content/{im.content_id}?expires={expires}&sig={sig}",
                    "revised_prompt": None,
                }
            )
        else:
            data.append({"b64_json": base64.b64encode(im.data or b"").decode(), "revised_prompt": None})
    body = {
        "created": int(result.created_at.timestamp()),
        "data": data,
        "assay": {
            "record_id": result.record_id,
            "status": result.status,
            "decision": result.decision.action.value,
            "categories": result.decision.categories,
            "reasons": [r.text for r in result.decision.reasons],
            "review_id": result.review_id,
            "images": [
                {
                    "index": im.index,
                    "content_id": im.content_id,
                    "action": im.action.value,
                    "sha256": im.sha256,
                }
                for im in result.images
            ],
            "model": result.model.model_id if result.model else None,
            "policy": {"id": result.policy.id, "digest": result.policy.digest},
        },
    }
    status = 202 if result.status == "held" else 200
    return JSONResponse(body, status_code=status)


def _generations_openapi() -> dict[str, Any]:
    schema = GenerationBody.model_json_schema()
    form = {**schema, "properties": {**schema["properties"]}}
    form["properties"]["control_image"] = {
        "type": "string",
        "format": "binary",
        "description": "the control image file",
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}, "multipart/form-data": {"schema": form}},
        }
    }


@router.post(
    "/v1/images/generations",
    summary="Create images (OpenAI-compatible; JSON, or multipart with a control image file)",
    openapi_extra=_generations_openapi(),
)
async def create_images(request: Request, principal: RequesterDep, state: StateDep) -> JSONResponse:
    body, control = await _generation_request(request, state.settings.max_body_bytes)
    _check_model(state, body.model)
    req = PipelineRequest(
        prompt=body.prompt,
        principal=principal,
        n=body.n,
        size=body.size,
        seed=body.seed,
        steps=body.steps,
        guidance=body.guidance,
        negative_prompt=body.negative_prompt,
        control=control,
        control_type=body.control_type,
        control_strength=body.control_strength,
        output_format=body.output_format,
        user=body.user,
    )
    result = await run_in_threadpool(state.generate, req)
    return _render(state, request, result, body.response_format)


def _form_str(form: FormData, key: str, default: str | None = None) -> str | None:
    v = form.get(key)
    if v is None:
        return default
    if not isinstance(v, str):
        raise InvalidRequest(f"{key} must be a text field", param=key)
    return v


def _form_int(form: FormData, key: str, default: int | None) -> int | None:
    v = _form_str(form, key)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        raise InvalidRequest(f"{key} must be an integer, got {v[:20]!r}", param=key) from None


def _form_float(form: FormData, key: str, default: float | None) -> float | None:
    v = _form_str(form, key)
    if v is None or v == "":
        return default
    try:
        return float(v)
    except ValueError:
        raise InvalidRequest(f"{key} must be a number, got {v[:20]!r}", param=key) from None


async def _upload(v: Any, name: str, limit: int) -> Upload:
    if not isinstance(v, UploadFile):
        raise InvalidRequest(f"{name} must be a file upload", param=name)
    data = await v.read(limit + 1)
    if len(data) > limit:
        from core.errors import PayloadTooLarge

        raise PayloadTooLarge(f"{name}: upload exceeds {limit} bytes", param=name)
    return Upload(data=data, name=name)


@router.post(
    "/v1/images/edits",
    summary="Edit an image (img2img / inpainting; OpenAI-compatible)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["image", "prompt"],
                        "properties": {
                            "image": {"type": "string", "format": "binary"},
                            "mask": {"type": "string", "format": "binary"},
                            "prompt": {"type": "string"},
                            "model": {"type": "string"},
                            "n": {"type": "integer", "minimum": 1, "maximum": 16},
                            "size": {"type": "string"},
                            "response_format": {"type": "string", "enum": ["b64_json", "url"]},
                            "user": {"type": "string"},
                            "seed": {"type": "integer"},
                            "strength": {"type": "number"},
                            "control_image": {"type": "string", "format": "binary"},
                            "control_type": {"type": "string"},
                            "control_strength": {"type": "number", "minimum": 0, "maximum": 2},
                        },
                    }
                }
            },
        }
    },
)
async def edit_images(request: Request, principal: RequesterDep, state: StateDep) -> JSONResponse:
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise InvalidRequest("edits take multipart/form-data with an image file and a prompt", param="image")
    limit = state.settings.max_body_bytes
    try:
        form = await request.form(max_files=8, max_fields=64)
    except Exception as exc:  # noqa: BLE001 - starlette raises several parse errors
        raise InvalidRequest(f"cannot parse the multipart body: {exc}") from exc
    prompt = _form_str(form, "prompt")
    if prompt is None:
        raise InvalidRequest("prompt is required", param="prompt")
    images = form.getlist("image") + form.getlist("image[]")
    if not images:
        raise InvalidRequest("an image file is required", param="image")
    uploads = [await _upload(v, "image" if i == 0 else f"image[{i}]", limit) for i, v in enumerate(images)]
    mask_v = form.get("mask")
    mask = await _upload(mask_v, "mask", limit) if mask_v is not None else None
    control_v = form.get("control_image")
    control = await _upload(control_v, "control_image", limit) if control_v is not None else None
    response_format = _form_str(form, "response_format", "b64_json")
    if response_format not in ("b64_json", "url"):
        raise InvalidRequest("response_format must be b64_json or url", param="response_format")
    output_format = _form_str(form, "output_format", "png")
    _check_model(state, _form_str(form, "model"))
    req = PipelineRequest(
        prompt=prompt,
        principal=principal,
        n=_form_int(form, "n", 1) or 1,
        size=_form_str(form, "size"),
        seed=_form_int(form, "seed", None),
        steps=_form_int(form, "steps", None),
        guidance=_form_float(form, "guidance", None),
        images=uploads,
        mask=mask,
        strength=_form_float(form, "strength", 0.75) or 0.75,
        control=control,
        control_type=_form_str(form, "control_type"),
        control_strength=_form_float(form, "control_strength", 1.0) or 0.0,  # never None: defaulted
        output_format=output_format or "png",
        user=_form_str(form, "user"),
    )
    result = await run_in_threadpool(state.generate, req)
    return _render(state, request, result, response_format)


@router.get(
    "/v1/images/content/{content_id}",
    summary="Fetch a released image by signed URL",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def image_content(content_id: str, expires: int, sig: str, state: StateDep) -> Response:
    if expires < time.time() or not hmac.compare_digest(
        sig.encode(), _sign(state, content_id, expires).encode()
    ):
        raise NotFound("no such image, or the link expired")
    await run_in_threadpool(state.cases.withdrawn, content_id)  # 410 once a complaint withdrew it
    record_id, _, idx = content_id.rpartition("-")
    stored = await run_in_threadpool(state.ledger.get, record_id)
    outputs = GenerationRecordBody.model_validate(stored.body).outputs if stored is not None else []
    for out in outputs:
        if out.content_id == content_id and out.action is Action.ALLOW and out.blob:
            data = await run_in_threadpool(state.blobs.get, out.blob)
            return Response(
                data,
                media_type=out.media_type or "image/png",
                headers={"Cache-Control": "private, max-age=3600"},
            )
    raise NotFound("no such image, or the link expired")
