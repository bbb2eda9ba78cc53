"""The worker's HTTP API and its logic, apart from Ray: a backend behind the OpenAI image API.

:class:`WorkerService` holds one backend (the diffusers backend, the built-in model by default)
and turns requests into results; :func:`make_api` is the FastAPI app both the Ray Serve
deployment (:mod:`models.worker.deployment`, which adds batching and replicas) and the tests
(:class:`LocalRunner`, no Ray) serve. Bad input is a 4xx in OpenAI's error body naming the field;
a failing pipeline is a 5xx; no response ever carries an image without its ``model_info``.
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from core.deadline import Deadline
from core.errors import AssayError, ConfigError, InvalidRequest
from models.base import Backend, GenerationMode, GenerationRequest, GenerationResult
from models.worker.protocol import (
    DEADLINE_HEADER,
    WorkerDescription,
    WorkerImage,
    WorkerImageRequest,
    WorkerImageResponse,
    WorkerModelCard,
    WorkerModelList,
    WorkerResult,
)
from models.worker.spec import BackendSpec

#: uploads to /v1/images/edits (the gateway has checked them already; this is a backstop)
MAX_UPLOAD_BYTES = 25 * 1024 * 1024


def load_worker_backend(spec: BackendSpec) -> Backend:
    """The backend a worker serves: the very loader the gateway uses for a local model."""
    from core.settings import Settings
    from models.loader import load_backend

    if spec.model.startswith(("http://", "https://", "ray://")):
        raise ConfigError(
            f"a worker runs weights itself; {spec.model!r} is another service",
            param="model",
            hint="give the built-in model (assay-default), a local diffusers folder or a hub id",
        )
    kwargs: dict[str, Any] = {
        "model": spec.model,
        "model_revision": spec.revision,
        "device": spec.device,
        "dtype": spec.dtype,
        "default_steps": spec.default_steps,
    }
    if spec.data_dir:
        kwargs["data_dir"] = Path(spec.data_dir)
    else:
        import tempfile

        kwargs["data_dir"] = Path(tempfile.gettempdir()) / "assay-worker"
    settings = Settings(**kwargs)
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    return load_backend(settings)


class WorkerService:
    """One backend and what the worker says about it. Thread-safe as its backend is."""

    def __init__(
        self,
        backend: Backend,
        *,
        deployment: str | None = None,
        max_batch_size: int = 1,
        notes: list[str] | None = None,
    ) -> None:
        self.backend = backend
        self.deployment = deployment
        self.max_batch_size = max_batch_size
        self.notes = list(notes or [])

    def info_of(self, result: GenerationResult) -> Any:
        """The result's ModelInfo as the worker reports it: ``backend`` says it ran here."""
        return result.model.model_copy(
            update={
                "backend": "ray" if self.deployment else result.model.backend,
                "notes": list(dict.fromkeys([*result.model.notes, *self.notes])),
            }
        )

    def describe(self) -> WorkerDescription:
        info = self.backend.info.model_copy(
            update={
                "backend": "ray" if self.deployment else self.backend.info.backend,
                "notes": list(dict.fromkeys([*self.backend.info.notes, *self.notes])),
            }
        )
        return WorkerDescription(
            model_info=info, deployment=self.deployment, max_batch_size=self.max_batch_size
        )

    def generate_many(self, requests: list[GenerationRequest]) -> list[GenerationResult | AssayError]:
        """One outcome per request; a backend that batches (``generate_batch``) gets them all at once."""
        batch = getattr(self.backend, "generate_batch", None)
        if callable(batch) and len(requests) > 1:
            return list(batch(requests))
        out: list[GenerationResult | AssayError] = []
        for req in requests:
            try:
                out.append(self.backend.generate(req))
            except AssayError as exc:
                out.append(exc)
        return out

    def respond(self, result: GenerationResult) -> WorkerImageResponse:
        data = []
        for im in result.images:
            buf = io.BytesIO()
            im.save(buf, format="PNG")
            data.append(WorkerImage(b64_json=base64.b64encode(buf.getvalue()).decode()))
        info = self.info_of(result)
        return WorkerImageResponse(
            created=int(time.time()),
            data=data,
            model=info.model_id,
            assay=WorkerResult(model_info=info, elapsed_s=round(result.elapsed_s, 4)),
        )


class Runner(Protocol):
    """What the routes call: the service, and generation (batched, under Ray Serve)."""

    service: WorkerService

    async def generate(self, request: GenerationRequest) -> GenerationResult: ...


class LocalRunner:
    """Generation without Ray: each request on its own, in a thread (tests; one-process workers)."""

    def __init__(self, service: WorkerService) -> None:
        self.service = service

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        out = (await asyncio.to_thread(self.service.generate_many, [request]))[0]
        if isinstance(out, AssayError):
            raise out
        return out


def _error(exc: AssayError) -> JSONResponse:
    body = {"error": {"message": exc.message, "type": exc.code, "param": exc.param, "code": exc.code}}
    if exc.hint:
        body["error"]["hint"] = exc.hint
    return JSONResponse(body, status_code=exc.status)


def _check_model(service: WorkerService, model: str | None) -> None:
    served = service.backend.info.model_id
    if model not in (None, "", served):
        raise InvalidRequest(
            f"model {model!r} is not served by this worker",
            param="model",
            hint=f"this worker serves {served!r}",
        )


async def _image(form: Any, key: str, *, required: bool) -> Any:
    from core.images import decode_image

    value = form.get(key)
    if value is None or isinstance(value, str):
        if required:
            raise InvalidRequest(f"{key} is required (a multipart file)", param=key)
        return None
    data = await value.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidRequest(f"{key} is larger than {MAX_UPLOAD_BYTES} bytes", param=key)
    return decode_image(data, name=key)


def _deadline(request: Request) -> Deadline:
    """The caller's deadline (``X-Assay-Deadline-S``); none without the header."""
    raw = request.headers.get(DEADLINE_HEADER)
    if raw is None:
        return Deadline(None)
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= 86_400:  # also refuses NaN
        raise InvalidRequest(
            f"{DEADLINE_HEADER} must be a number of seconds in (0, 86400], not {raw[:40]!r}",
            param=DEADLINE_HEADER,
        )
    return Deadline(seconds)


#: how often a running request checks whether its caller hung up
DISCONNECT_POLL_S = 0.25


async def _generate(r: Runner, request: Request, req: GenerationRequest) -> GenerationResult:
    """Generate, dropping the request (its deadline cancelled: the backend stops at its next step)
    when the caller hangs up, or when Ray Serve cancels it (its client went away)."""
    deadline = req.deadline
    assert deadline is not None
    task = asyncio.ensure_future(r.generate(req))
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=DISCONNECT_POLL_S)
            if done:
                return task.result()
            if not deadline.cancelled and await request.is_disconnected():
                deadline.cancel("the caller hung up")
    except asyncio.CancelledError:
        deadline.cancel("the request was cancelled")
        raise


def make_api(runner: Callable[[], Runner]) -> FastAPI:
    """The worker's HTTP API; ``runner()`` gives the replica's runner at request time."""
    api = FastAPI(
        title="Assay worker",
        description="A diffusion model behind the OpenAI image API, "
        "reporting with every image exactly which weights made it.",
    )

    @api.exception_handler(AssayError)
    async def _assay_error(request: Request, exc: AssayError) -> JSONResponse:
        return _error(exc)

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
        return _error(InvalidRequest(f"{field or 'body'}: {first.get('msg')}", param=field))

    @api.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/v1/models")
    async def models() -> WorkerModelList:
        desc = runner().service.describe()
        return WorkerModelList(data=[WorkerModelCard(id=desc.model_info.model_id, assay_worker=desc)])

    @api.post("/v1/images/generations")
    async def generations(body: WorkerImageRequest, request: Request) -> WorkerImageResponse:
        r = runner()
        _check_model(r.service, body.model)
        req = body.to_request()
        req.deadline = _deadline(request)
        return r.service.respond(await _generate(r, request, req))

    @api.post("/v1/images/edits")
    async def edits(request: Request) -> WorkerImageResponse:
        r = runner()
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        try:
            body = WorkerImageRequest.model_validate(fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or None
            raise InvalidRequest(f"{field or 'form'}: {first.get('msg')}", param=field) from None
        _check_model(r.service, body.model)
        image = await _image(form, "image", required=True)
        mask = await _image(form, "mask", required=False)
        try:
            strength = float(fields.get("strength", 0.75))
        except ValueError:
            raise InvalidRequest("strength must be a number between 0 and 1", param="strength") from None
        if not 0.0 < strength <= 1.0:
            raise InvalidRequest("strength must be a number between 0 and 1", param="strength")
        mode = GenerationMode.INPAINT if mask is not None else GenerationMode.IMG2IMG
        req = body.to_request(mode, image=image, mask=mask)
        req.strength = strength
        req.deadline = _deadline(request)
        return r.service.respond(await _generate(r, request, req))

    return api
