"""A remote OpenAI-compatible image API as a backend (another Assay, a GPU service, a vendor).

httpx with a timeout on every call, retries with exponential backoff on connection errors, 429
and 5xx (honouring ``Retry-After``), and upstream errors mapped to Assay errors here. Images are
requested as ``b64_json`` and decoded with the same safe decoder as uploads: a remote service is
not trusted to send well-formed images.

An ``assay worker`` (Ray Serve, :mod:`models.worker`) is an upstream of this kind that also says
which weights made each image. The backend asks ``GET /models`` once whether the endpoint is one;
if so it sends the gateway's extras (seed, steps, guidance, negative prompt) and records the
``assay.model_info`` every response carries, refusing a response without it: images whose weights
cannot be named are not released. Any response that carries ``model_info`` is recorded with it.
"""

from __future__ import annotations

import base64
import io
import logging
import threading
import time
from typing import Any

import httpx
from pydantic import ValidationError

from core.errors import BackendError, BackendTimeout, ConfigError, InvalidRequest
from core.images import DecodeLimits, decode_image
from models.base import GenerationMode, GenerationRequest, GenerationResult, ModelInfo
from models.worker.protocol import PROTOCOL, WorkerDescription

log = logging.getLogger("assay.models")
RETRY_STATUS = {429, 500, 502, 503, 504}
#: a worker's 4xx error types that are the caller's input, not the worker's failure
_INPUT_ERRORS = {
    "invalid_request",
    "invalid_image",
    "payload_too_large",
    "unsupported_media",
    "model_not_found",
}


class RemoteBackend:
    name = "remote"

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        discover: bool = True,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"remote backend URL must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.retries = retries
        self.backoff_s = backoff_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            transport=transport,
        )
        self._info = ModelInfo(
            backend=self.name, model_id=model or "remote-default", notes=[f"remote endpoint {self.base_url}"]
        )
        self._worker: WorkerDescription | None = None  # set once the endpoint said it is an Assay worker
        self._known = not discover  # True once GET /models answered for good (or discovery is off)
        self._probe_lock = threading.Lock()

    @property
    def info(self) -> ModelInfo:
        """The upstream's model: an Assay worker's own ModelInfo (weights digest included), else a
        description of the endpoint."""
        self._probe()
        if self._worker is not None:
            return self._note(self._worker.model_info)
        return self._info

    @property
    def worker(self) -> WorkerDescription | None:
        """What the endpoint said about itself, if it is an Assay worker."""
        self._probe()
        return self._worker

    def _note(self, info: ModelInfo) -> ModelInfo:
        note = f"reached over HTTP at {self.base_url}"
        return info.model_copy(update={"notes": list(dict.fromkeys([*info.notes, note]))})

    def _probe(self) -> None:
        """Ask ``GET /models`` whether the endpoint is an Assay worker. A definite answer (any 2xx or
        4xx) is kept; no answer (down, 5xx, 429) is asked again on the next call."""
        if self._known:
            return
        with self._probe_lock:
            if self._known:
                return
            try:
                resp = self._client.get("/models", timeout=10.0)
            except httpx.HTTPError:
                return
            if resp.status_code in RETRY_STATUS:
                return
            self._known = True
            if resp.status_code != 200:
                return  # no model list (or not for this key): an ordinary OpenAI-compatible API
            try:
                cards = [
                    c for c in resp.json().get("data", []) if isinstance(c, dict) and "assay_worker" in c
                ]
            except (ValueError, AttributeError):
                return
            if not cards:
                return
            try:
                desc = WorkerDescription.model_validate(cards[0]["assay_worker"])
            except ValidationError as exc:
                raise BackendError(
                    f"the Assay worker at {self.base_url} describes itself in a form this "
                    f"gateway cannot read: {exc.errors()[0]['msg']}"
                ) from None
            if desc.protocol != PROTOCOL:
                raise BackendError(
                    f"the worker at {self.base_url} speaks {desc.protocol}, this gateway {PROTOCOL}",
                    hint="run the same Assay version on the workers and the gateways",
                )
            self._worker = desc
            log.warning(
                "remote backend %s is an Assay worker: %s %s",
                self.base_url,
                desc.model_info.model_id,
                desc.model_info.weights_digest,
            )

    def check_request(self, request: GenerationRequest) -> None:
        if request.mode is GenerationMode.INPAINT and request.mask is None:
            raise InvalidRequest("inpainting needs a mask", param="mask")
        if request.mode is not GenerationMode.TXT2IMG and request.image is None:
            raise InvalidRequest(f"{request.mode.value} needs an input image", param="image")

    def _post(self, path: str, **kwargs: Any) -> httpx.Response:
        attempt = 0
        while True:
            try:
                resp = self._client.post(path, **kwargs)
            except httpx.TimeoutException as exc:
                if attempt >= self.retries:
                    raise BackendTimeout(
                        f"remote backend {self.base_url} timed out after {attempt + 1} attempts"
                    ) from exc
                delay = self.backoff_s * 2**attempt
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise BackendError(
                        f"remote backend {self.base_url} unreachable: {exc.__class__.__name__}"
                    ) from exc
                delay = self.backoff_s * 2**attempt
            else:
                if resp.status_code < 400:
                    return resp
                if resp.status_code in RETRY_STATUS and attempt < self.retries:
                    ra = resp.headers.get("retry-after")
                    delay = (
                        min(float(ra), 30.0)
                        if ra and ra.replace(".", "", 1).isdigit()
                        else self.backoff_s * 2**attempt
                    )
                else:
                    self._raise_input_error(resp)
                    raise BackendError(
                        f"remote backend answered {resp.status_code}: {_error_message(resp)}",
                        details={"upstream_status": resp.status_code},
                    )
            attempt += 1
            time.sleep(delay)

    def _raise_input_error(self, resp: httpx.Response) -> None:
        """An Assay worker's 4xx about the request itself is the caller's bad input, said as such."""
        if self._worker is None or not 400 <= resp.status_code < 500:
            return
        try:
            err = resp.json().get("error") or {}
        except (ValueError, AttributeError):
            return
        if isinstance(err, dict) and err.get("code") in _INPUT_ERRORS:
            raise InvalidRequest(
                f"the model refused the request: {str(err.get('message'))[:300]}",
                param=err.get("param"),
                hint=err.get("hint"),
            )

    def _extras(self, request: GenerationRequest) -> dict[str, Any]:
        """The gateway's extras, for an Assay worker only (other APIs may refuse unknown fields)."""
        if self._worker is None:
            return {}
        extras = {
            "seed": request.seed,
            "steps": request.steps,
            "guidance": request.guidance,
            "negative_prompt": request.negative_prompt,
        }
        return {k: v for k, v in extras.items() if v is not None}

    def generate(self, request: GenerationRequest) -> GenerationResult:
        self.check_request(request)
        self._probe()
        size = f"{request.width}x{request.height}"
        t0 = time.perf_counter()
        if request.mode is GenerationMode.TXT2IMG:
            body: dict[str, Any] = {
                "prompt": request.prompt,
                "n": request.n,
                "size": size,
                "response_format": "b64_json",
                **self._extras(request),
            }
            if self.model:
                body["model"] = self.model
            resp = self._post("/images/generations", json=body)
        else:
            files = {"image": ("image.png", _png(request.image), "image/png")}
            if request.mask is not None:
                files["mask"] = ("mask.png", _png(request.mask), "image/png")
            data = {
                "prompt": request.prompt,
                "n": str(request.n),
                "size": size,
                "response_format": "b64_json",
                **{k: str(v) for k, v in self._extras(request).items()},
            }
            if self._worker is not None:
                data["strength"] = str(request.strength)
            if self.model:
                data["model"] = self.model
            resp = self._post("/images/edits", data=data, files=files)
        elapsed = time.perf_counter() - t0
        try:
            payload = resp.json()
            items = payload["data"]
            blobs = [base64.b64decode(it["b64_json"], validate=True) for it in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise BackendError(f"remote backend sent a malformed response: {exc.__class__.__name__}") from exc
        if len(blobs) != request.n:
            raise BackendError(f"remote backend returned {len(blobs)} images, {request.n} were asked for")
        limits = DecodeLimits(max_bytes=64 * 1024 * 1024, max_pixels=64 * 1024 * 1024, max_side=16384)
        try:
            images = [decode_image(b, limits=limits, name=f"upstream image {i}") for i, b in enumerate(blobs)]
        except InvalidRequest as exc:
            raise BackendError(f"remote backend sent an unusable image: {exc.message}") from exc
        images = [
            im if im.size == (request.width, request.height) else im.resize((request.width, request.height))
            for im in images
        ]
        reported = _model_info(payload)
        if reported is None and self._worker is not None:
            raise BackendError(
                f"the worker at {self.base_url} sent images without their model_info: which "
                "weights made them cannot be recorded, so they are not released"
            )
        if reported is not None:
            if not reported.weights_digest:
                raise BackendError(
                    f"the upstream at {self.base_url} did not name the weights digest of its "
                    "images: they are not released"
                )
            info = self._note(reported)
        else:
            info = self._info.model_copy(
                update={
                    "model_id": payload.get("model") or self._info.model_id,
                    "width": request.width,
                    "height": request.height,
                    "seed": request.seed,
                }
            )
        return GenerationResult(images=images, model=info, elapsed_s=elapsed)

    def close(self) -> None:
        self._client.close()


def _model_info(payload: dict[str, Any]) -> ModelInfo | None:
    """``assay.model_info`` of a worker's response (None when there is none); malformed is an error."""
    extra = payload.get("assay")
    if not isinstance(extra, dict) or "model_info" not in extra:
        return None
    try:
        return ModelInfo.model_validate(extra["model_info"])
    except ValidationError as exc:
        raise BackendError(f"the upstream's model_info is malformed: {exc.errors()[0]['msg']}") from None


def _png(img: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _error_message(resp: httpx.Response) -> str:
    try:
        err = resp.json().get("error")
        if isinstance(err, dict):
            return str(err.get("message") or err)[:300]
        return str(err)[:300]
    except ValueError:
        return resp.text[:300]
