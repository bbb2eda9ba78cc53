"""A remote OpenAI-compatible image API as a backend (another Assay, a GPU service, a vendor).

httpx with a timeout on every call, retries with exponential backoff on connection errors, 429
and 5xx (honouring ``Retry-After``), and upstream errors mapped to Assay errors here. Images are
requested as ``b64_json`` and decoded with the same safe decoder as uploads: a remote service is
not trusted to send well-formed images.
"""

from __future__ import annotations

import base64
import io
import time
from typing import Any

import httpx

from gateway.errors import BackendError, BackendTimeout, ConfigError, InvalidRequest
from models.base import GenerationMode, GenerationRequest, GenerationResult, ModelInfo
from safety.image.decode import DecodeLimits, decode_image

RETRY_STATUS = {429, 500, 502, 503, 504}


class RemoteBackend:
    name = "remote"

    def __init__(self, base_url: str, *, model: str | None = None, api_key: str | None = None,
                 timeout_s: float = 120.0, retries: int = 2, backoff_s: float = 0.5,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"remote backend URL must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.retries = retries
        self.backoff_s = backoff_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers,
                                    timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
                                    transport=transport)
        self._info = ModelInfo(backend=self.name, model_id=model or "remote-default",
                               notes=[f"remote endpoint {self.base_url}"])

    @property
    def info(self) -> ModelInfo:
        return self._info

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
                    raise BackendTimeout(f"remote backend {self.base_url} timed out after {attempt + 1} attempts") from exc
                delay = self.backoff_s * 2**attempt
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise BackendError(f"remote backend {self.base_url} unreachable: {exc.__class__.__name__}") from exc
                delay = self.backoff_s * 2**attempt
            else:
                if resp.status_code < 400:
                    return resp
                if resp.status_code in RETRY_STATUS and attempt < self.retries:
                    ra = resp.headers.get("retry-after")
                    delay = min(float(ra), 30.0) if ra and ra.replace(".", "", 1).isdigit() else self.backoff_s * 2**attempt
                else:
                    raise BackendError(
                        f"remote backend answered {resp.status_code}: {_error_message(resp)}",
                        details={"upstream_status": resp.status_code})
            attempt += 1
            time.sleep(delay)

    def generate(self, request: GenerationRequest) -> GenerationResult:
        self.check_request(request)
        size = f"{request.width}x{request.height}"
        t0 = time.perf_counter()
        if request.mode is GenerationMode.TXT2IMG:
            body: dict[str, Any] = {"prompt": request.prompt, "n": request.n, "size": size,
                                    "response_format": "b64_json"}
            if self.model:
                body["model"] = self.model
            resp = self._post("/images/generations", json=body)
        else:
            files = {"image": ("image.png", _png(request.image), "image/png")}
            if request.mask is not None:
                files["mask"] = ("mask.png", _png(request.mask), "image/png")
            data = {"prompt": request.prompt, "n": str(request.n), "size": size, "response_format": "b64_json"}
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
        images = [im if im.size == (request.width, request.height) else im.resize((request.width, request.height))
                  for im in images]
        info = self._info.model_copy(update={
            "model_id": payload.get("model") or self._info.model_id,
            "width": request.width, "height": request.height, "seed": request.seed,
        })
        return GenerationResult(images=images, model=info, elapsed_s=elapsed)

    def close(self) -> None:
        self._client.close()


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
