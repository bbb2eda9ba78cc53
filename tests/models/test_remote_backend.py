"""The remote OpenAI-compatible backend against a real upstream on loopback, and its error mapping."""

from __future__ import annotations

import base64
import io

import httpx
import pytest
from PIL import Image

from core.errors import BackendError, BackendTimeout
from models.base import GenerationMode, GenerationRequest
from models.remote import RemoteBackend


def test_against_a_real_upstream(live_server, requester_key) -> None:
    """The upstream is another Assay gateway: a real OpenAI-compatible server over HTTP."""
    be = RemoteBackend(live_server.url + "/v1", api_key=requester_key, timeout_s=600)
    res = be.generate(GenerationRequest(prompt="a red ring", width=256, height=256, n=2, seed=5))
    assert [im.size for im in res.images] == [(256, 256)] * 2
    assert res.model.backend == "remote" and res.elapsed_s > 0
    img = Image.new("RGB", (64, 64), "white")
    res = be.generate(
        GenerationRequest(
            prompt="edit",
            width=256,
            height=256,
            mode=GenerationMode.INPAINT,
            image=img,
            mask=Image.new("L", (64, 64), 255),
        )
    )
    assert res.images[0].size == (256, 256)


def _png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), "blue").save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_retries_on_503_then_succeeds() -> None:
    calls = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req)
        if len(calls) < 3:
            return httpx.Response(503, json={"error": {"message": "busy"}}, headers={"retry-after": "0"})
        return httpx.Response(200, json={"created": 1, "data": [{"b64_json": _png()}]})

    be = RemoteBackend("http://upstream.test/v1", transport=httpx.MockTransport(handler), backoff_s=0)
    res = be.generate(GenerationRequest(prompt="x", width=64, height=64))
    assert len(calls) == 3 and res.images[0].size == (64, 64)


@pytest.mark.parametrize(
    "handler,err,match",
    [
        (lambda r: httpx.Response(401, json={"error": {"message": "bad key"}}), BackendError, "401: bad key"),
        (lambda r: httpx.Response(500, text="oops"), BackendError, "500"),
        (lambda r: httpx.Response(200, json={"nope": 1}), BackendError, "malformed"),
        (
            lambda r: httpx.Response(
                200, json={"data": [{"b64_json": base64.b64encode(b"not a png").decode()}]}
            ),
            BackendError,
            "unusable image",
        ),
        (lambda r: httpx.Response(200, json={"data": []}), BackendError, "returned 0 images"),
    ],
)
def test_upstream_errors_are_mapped(handler, err, match) -> None:  # noqa: ANN001
    be = RemoteBackend(
        "http://upstream.test/v1", transport=httpx.MockTransport(handler), retries=1, backoff_s=0
    )
    with pytest.raises(err, match=match):
        be.generate(GenerationRequest(prompt="x", width=64, height=64))


def test_timeouts_become_backend_timeout() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=req)

    be = RemoteBackend(
        "http://upstream.test/v1", transport=httpx.MockTransport(handler), retries=1, backoff_s=0
    )
    with pytest.raises(BackendTimeout):
        be.generate(GenerationRequest(prompt="x", width=64, height=64))
