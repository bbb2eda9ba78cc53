"""The official openai client, pointed at a real `assay` server on loopback, works unchanged."""

from __future__ import annotations

import base64
import io

import httpx
import openai
import pytest
from PIL import Image


@pytest.fixture
def oai(live_server, requester_key):  # noqa: ANN001, ANN201
    return openai.OpenAI(base_url=live_server.url + "/v1", api_key=requester_key, max_retries=0, timeout=300)


@pytest.mark.parametrize("size", ["256x256", "512x512"])
def test_generate_n2_both_formats(oai, size) -> None:
    w, h = (int(x) for x in size.split("x"))
    res = oai.images.generate(
        prompt="a blue star on a yellow background", n=2, size=size, response_format="b64_json"
    )
    assert len(res.data) == 2
    for d in res.data:
        assert Image.open(io.BytesIO(base64.b64decode(d.b64_json))).size == (w, h)
    extra = res.model_extra["assay"]
    assert extra["status"] == "released" and len(extra["record_id"]) == 26
    res = oai.images.generate(prompt="a blue star", n=2, size=size, response_format="url")
    assert len(res.data) == 2
    for d in res.data:
        img = Image.open(io.BytesIO(httpx.get(d.url, timeout=30).content))
        assert img.size == (w, h)


def test_wrong_key_is_authentication_error(live_server) -> None:
    bad = openai.OpenAI(base_url=live_server.url + "/v1", api_key="ask_nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.images.generate(prompt="x", size="256x256")


def test_edit_with_image_and_mask(oai) -> None:
    def png(color) -> bytes:  # noqa: ANN001
        buf = io.BytesIO()
        Image.new("RGB", (128, 128), color).save(buf, format="PNG")
        return buf.getvalue()

    res = oai.images.edit(
        image=("in.png", png((10, 200, 10)), "image/png"),
        mask=("mask.png", png((255, 255, 255)), "image/png"),
        prompt="a red heart",
        n=1,
        size="256x256",
        response_format="b64_json",
    )
    assert len(res.data) == 1
    assert Image.open(io.BytesIO(base64.b64decode(res.data[0].b64_json))).size == (256, 256)


def test_blocked_or_bad_requests_are_openai_errors(oai) -> None:
    with pytest.raises(openai.BadRequestError) as ei:
        oai.images.generate(prompt="x", size="300x300")
    assert ei.value.body["param"] == "size" if isinstance(ei.value.body, dict) else True
