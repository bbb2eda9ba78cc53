"""A remote OpenAI-compatible image API as a backend (another Assay, a GPU service, a vendor).

httpx with a timeout on every call, bounded by the request's deadline (``GenerationRequest.deadline``:
the body is read in chunks and the call dropped once the deadline passes or is cancelled, so an
upstream that stalls mid-body cannot hold the model slot); the remaining time is sent along
(``X-Assay-Deadline-S``) so that an Assay worker drops the request itself. Retries only where the
upstream cannot have done the work: the connection never opened, or it answered 429/503 (its
``Retry-After`` honoured, within the deadline); never after a read timeout or a 500, when a POST
may have run. Back-off is exponential with full jitter. A circuit breaker opens after
``breaker_failures`` consecutive failures (timeouts, 5xx, connection errors): while open, calls
are refused at once (503 with ``Retry-After``) and ``/readyz`` says so; after ``breaker_reset_s``
one probe call is let through (half-open), and its outcome closes or re-opens the circuit.
Upstream errors are mapped to Assay errors here. Images are requested as ``b64_json`` and decoded
with the same safe decoder as uploads: a remote service is not trusted to send well-formed images.

An ``assay worker`` (Ray Serve, :mod:`models.worker`) is an upstream of this kind that also says
which weights made each image. The backend asks ``GET /models`` once whether the endpoint is one;
if so it sends the gateway's extras (seed, steps, guidance, negative prompt) and records the
``assay.model_info`` every response carries, refusing a response without it: images whose weights
cannot be named are not released. Any response that carries ``model_info`` is recorded with it.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import random
import threading
import time
import uuid
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import ValidationError

from core.deadline import Deadline
from core.errors import BackendError, BackendTimeout, ConfigError, InvalidRequest, Overloaded
from core.images import DecodeLimits, decode_image
from models.base import GenerationMode, GenerationRequest, GenerationResult, ModelInfo
from models.worker.protocol import DEADLINE_HEADER, PROTOCOL, WorkerDescription

log = logging.getLogger("assay.models")
#: the upstream is down or busy: ask again later (GET /models), count against the circuit
RETRY_STATUS = {429, 500, 502, 503, 504}
#: answers that say the upstream did not do the work: a POST may be sent again
REFUSED_STATUS = {429, 503}
#: the most an upstream's answer may weigh (n images of b64 PNG)
MAX_RESPONSE_BYTES = 256 * 1024 * 1024


class CircuitBreaker:
    """Closed -> open after ``failures`` consecutive failures -> half-open after ``reset_s`` (one
    probe at a time) -> closed on the probe's success, open again on its failure. Thread-safe."""

    def __init__(self, failures: int = 5, reset_s: float = 30.0, *, clock: Any = time.monotonic) -> None:
        self.threshold = failures
        self.reset_s = reset_s
        self._clock = clock
        self._lock = threading.Lock()
        self.failures = 0
        self.opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "open" if self._clock() - self.opened_at < self.reset_s else "half_open"

    def retry_in(self) -> float:
        with self._lock:
            if self.opened_at is None:
                return 0.0
            return max(0.0, self.reset_s - (self._clock() - self.opened_at))

    def allow(self) -> bool:
        """May a call go out now? In half-open, only one probe at a time."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half_open" and not self._probing:
                self._probing = True
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self.failures = 0
            self.opened_at = None
            self._probing = False

    def failure(self) -> None:
        with self._lock:
            self.failures += 1
            if self._probing or self.failures >= self.threshold:
                self.opened_at = self._clock()
            self._probing = False


class _Refused(Exception):
    """An upstream answer that says it did not do the work (429/503); carries its Retry-After."""

    def __init__(self, resp: httpx.Response, retry_after: float | None) -> None:
        self.resp = resp
        self.retry_after = retry_after


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
    #: calls in flight at once (the upstream queues and batches them itself)
    max_concurrency = 8

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
        breaker_failures: int = 5,
        breaker_reset_s: float = 30.0,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"remote backend URL must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.breaker = CircuitBreaker(breaker_failures, breaker_reset_s)
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

    def unavailable(self) -> str | None:
        """Why no call goes out now (the circuit is open), for ``/readyz``; None when calls may."""
        if self.breaker.state != "open":
            return None
        return (
            f"unavailable: the upstream {self.base_url} failed {self.breaker.failures} times in a row "
            f"(circuit open, next probe in {self.breaker.retry_in():.0f} s)"
        )

    def _post(
        self, path: str, deadline: Deadline | None = None, **kwargs: Any
    ) -> tuple[httpx.Response, bytes]:
        """POST with retries where the upstream cannot have done the work; the response and its body."""
        deadline = deadline or Deadline(None)
        key = uuid.uuid4().hex  # the same on every attempt: an upstream may drop a repeat
        attempt = 0
        while True:
            if not self.breaker.allow():
                wait = self.breaker.retry_in()
                raise Overloaded(
                    f"the upstream {self.base_url} is failing: {self.breaker.failures} failures in a row "
                    f"(circuit open, next probe in {wait:.0f} s)",
                    retry_after=max(1.0, wait),
                    reason="circuit_open",
                    hint="retry after the time in Retry-After",
                )
            try:
                resp, body = self._send(path, deadline, key, **kwargs)
            except _Refused as refused:
                # the upstream is alive but busy: 503 counts against the circuit, 429 does not
                if refused.resp.status_code == 503:
                    self.breaker.failure()
                else:
                    self.breaker.success()
                delay = self._backoff(attempt, refused.retry_after)
                if attempt >= self.retries or delay >= deadline.remaining():
                    raise Overloaded(
                        f"remote backend answered {refused.resp.status_code}: {_error_message(refused.resp)}",
                        retry_after=max(1.0, refused.retry_after or delay),
                        reason=f"upstream_{refused.resp.status_code}",
                        details={"upstream_status": refused.resp.status_code},
                    ) from None
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                self.breaker.failure()  # never reached the upstream: safe to send again
                delay = self._backoff(attempt, None)
                if attempt >= self.retries or delay >= deadline.remaining():
                    kind = BackendTimeout if isinstance(exc, httpx.TimeoutException) else BackendError
                    raise kind(
                        f"remote backend {self.base_url} unreachable after {attempt + 1} attempts: "
                        f"{exc.__class__.__name__}"
                    ) from exc
            except httpx.TimeoutException as exc:  # sent: it may be running, so it is not sent again
                self.breaker.failure()
                if deadline.stopped:
                    raise deadline.error(f"the call to {self.base_url}") from exc
                raise BackendTimeout(
                    f"remote backend {self.base_url} timed out ({exc.__class__.__name__}); "
                    "not retried: the upstream may still be running it"
                ) from exc
            except httpx.TransportError as exc:
                self.breaker.failure()
                if deadline.stopped:
                    raise deadline.error(f"the call to {self.base_url}") from exc
                raise BackendError(
                    f"remote backend {self.base_url} broke off its answer: {exc.__class__.__name__}"
                ) from exc
            except BackendTimeout:  # our deadline passed mid-body
                self.breaker.failure()
                raise
            else:
                if resp.status_code < 400:
                    self.breaker.success()
                    return resp, body
                if resp.status_code >= 500:
                    self.breaker.failure()
                else:  # the upstream is up; the request was at fault
                    self.breaker.success()
                self._raise_input_error(resp)
                raise BackendError(
                    f"remote backend answered {resp.status_code}: {_error_message(resp)}",
                    details={"upstream_status": resp.status_code},
                )
            attempt += 1
            if deadline.wait(delay):
                raise deadline.error(f"the call to {self.base_url} (waiting to retry)")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter (0 .. backoff x 2^attempt), and never sooner than the upstream's Retry-After."""
        jitter = random.uniform(0, self.backoff_s * 2**attempt)  # noqa: S311 - not for security
        return max(jitter, min(retry_after, 300.0)) if retry_after is not None else jitter

    def _send(self, path: str, deadline: Deadline, key: str, **kwargs: Any) -> tuple[httpx.Response, bytes]:
        """One attempt, bounded by the deadline: every read waits at most the time left, and the
        body is read as it arrives so that a trickle cannot outlast it; a cancel from another thread
        shuts the connection down (:func:`_abort`)."""
        left = deadline.remaining()
        if left <= 0:
            raise deadline.error(f"the call to {self.base_url}")
        t = min(self.timeout_s, left)
        headers = {"Idempotency-Key": key}
        if left != float("inf"):
            headers[DEADLINE_HEADER] = f"{left:.3f}"
        timeout = httpx.Timeout(t, connect=min(10.0, t))
        with self._client.stream("POST", path, headers=headers, timeout=timeout, **kwargs) as resp:
            forget = deadline.on_cancel(lambda: _abort(resp))
            try:
                return self._read(resp, deadline)
            finally:
                forget()

    def _read(self, resp: httpx.Response, deadline: Deadline) -> tuple[httpx.Response, bytes]:
        if resp.status_code >= 400:  # an error body is small: read whole, within the timeout
            resp.read()
            if resp.status_code in REFUSED_STATUS:
                raise _Refused(resp, _retry_after(resp))
            return resp, resp.content
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_bytes():  # as they arrive (a chunk size would wait to fill it)
            if deadline.stopped:
                raise deadline.error(f"the answer of {self.base_url} (stalled mid-body)")
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise BackendError(f"remote backend sent more than {MAX_RESPONSE_BYTES} bytes")
            chunks.append(chunk)
        if deadline.stopped:
            raise deadline.error(f"the answer of {self.base_url}")
        return resp, b"".join(chunks)

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
            resp, raw = self._post("/images/generations", request.deadline, json=body)
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
            resp, raw = self._post("/images/edits", request.deadline, data=data, files=files)
        elapsed = time.perf_counter() - t0
        try:
            payload = json.loads(raw)
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


def _abort(resp: httpx.Response) -> None:
    """End a call from another thread: shut its socket down, which wakes the blocked read (closing
    the response from another thread would not). In-process transports have no socket; they are
    stopped by the per-chunk deadline check."""
    import socket

    stream = resp.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _retry_after(resp: httpx.Response) -> float | None:
    """The upstream's ``Retry-After`` in seconds (delta-seconds or an HTTP date), if it sent one."""
    value = (resp.headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_message(resp: httpx.Response) -> str:
    try:
        err = resp.json().get("error")
        if isinstance(err, dict):
            return str(err.get("message") or err)[:300]
        return str(err)[:300]
    except ValueError:
        return resp.text[:300]
