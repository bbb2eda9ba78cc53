"""The README's edit examples on a fresh install (no ASSAY_MODEL: the built-in model).

``client.images.edit(image=..., mask=..., prompt="a blue star")`` and the same without a mask must
return marked images whose C2PA manifest names the input as its parent ingredient; the region
outside the mask keeps the input's own pixels.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import c2pa
import numpy as np
import pytest
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def builtin_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, dict[str, str]]]:
    from fastapi.testclient import TestClient

    from core.settings import Settings
    from gateway.app import create_app
    from gateway.state import AppState

    state = AppState(
        Settings(data_dir=tmp_path_factory.mktemp("builtin") / "data", policy_dir=REPO / "policies")
    )
    key, _ = state.keys.create("acme", "requester", name="readme")
    try:
        with TestClient(create_app(state=state)) as client:
            yield client, state, {"Authorization": f"Bearer {key}"}
    finally:
        state.close()


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _input() -> Image.Image:
    img = Image.new("RGB", (256, 256), "white")
    ImageDraw.Draw(img).rectangle((40, 90, 120, 170), fill=(30, 60, 220))
    return img


def _manifest(data: bytes) -> dict[str, Any]:
    with c2pa.Reader("image/png", io.BytesIO(data)) as r:
        store = json.loads(r.json())
        return dict(store["manifests"][store["active_manifest"]])


@pytest.mark.parametrize("with_mask", [False, True], ids=["img2img", "inpaint"])
def test_the_readme_edit_returns_a_marked_image_with_its_input_as_ingredient(
    builtin_client: Any, with_mask: bool
) -> None:
    client, state, auth = builtin_client
    files: dict[str, Any] = {"image": ("in.png", _png(_input()), "image/png")}
    mask = Image.new("L", (256, 256), 0)
    ImageDraw.Draw(mask).rectangle((128, 0, 255, 127), fill=255)
    if with_mask:
        files["mask"] = ("mask.png", _png(mask), "image/png")
    r = client.post(
        "/v1/images/edits",
        headers=auth,
        files=files,
        data={"prompt": "a blue star", "size": "256x256", "seed": "4"},
    )
    assert r.status_code == 200, r.text
    data = base64.b64decode(r.json()["data"][0]["b64_json"])
    rec = state.ledger.get(r.json()["assay"]["record_id"], tenant="acme")
    assert rec.body["request"]["mode"] == ("inpaint" if with_mask else "img2img")
    assert rec.body["model"]["pipeline_class"] == "AssayShapesPipeline"
    manifest = _manifest(data)
    assert [i["relationship"] for i in manifest["ingredients"]] == ["parentOf"]
    out = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), float)
    if with_mask:  # outside the mask (and off the visible label's corner) the input is kept
        src = np.asarray(_input(), float)
        keep = np.asarray(mask) == 0
        keep[200:, :] = False  # the visible label sits at the bottom
        assert np.abs(out - src)[keep].mean() < 6.0  # the watermark's change only


# --- control on the built-in model, through /v1/images/generations ---------------------------------
def _layout() -> Image.Image:
    """A segmentation layout: a white disc, up and to the right, on black."""
    img = Image.new("RGB", (256, 256), "black")
    ImageDraw.Draw(img).ellipse((150, 40, 214, 104), fill="white")
    return img


def _centroid(data: bytes) -> tuple[float, float]:
    """Where the shape is: the centroid of the pixels that differ from the background, above the
    visible label's band at the bottom (a quarter of the image, as fractions of the side)."""
    arr = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), float)
    side = arr.shape[0]
    bg = np.median(arr[:4].reshape(-1, 3), axis=0)
    fg = np.sqrt(((arr - bg) ** 2).sum(axis=-1)) > 60
    fg[int(side * 0.75) :] = False
    ys, xs = np.nonzero(fg)
    return float(xs.mean()) / side, float(ys.mean()) / side


@pytest.mark.parametrize("transport", ["json", "multipart"])
def test_a_control_generation_is_placed_recorded_and_an_ingredient(
    builtin_client: Any, transport: str
) -> None:
    client, state, auth = builtin_client
    layout = _png(_layout())
    fields = {"prompt": "a red circle on a white background", "size": "256x256", "seed": 3}
    if transport == "json":
        r = client.post(
            "/v1/images/generations",
            headers=auth,
            json={
                **fields,
                "control_image": "data:image/png;base64," + base64.b64encode(layout).decode(),
                "control_type": "segmentation",
            },
        )
    else:
        r = client.post(
            "/v1/images/generations",
            headers=auth,
            files={"control_image": ("layout.png", layout, "image/png")},
            data={**{k: str(v) for k, v in fields.items()}, "control_type": "segmentation"},
        )
    assert r.status_code == 200, r.text
    data = base64.b64decode(r.json()["data"][0]["b64_json"])
    cx, cy = _centroid(data)
    assert abs(cx - 182 / 256) < 0.08 and abs(cy - 72 / 256) < 0.08, (cx, cy)
    rec = state.ledger.get(r.json()["assay"]["record_id"], tenant="acme")
    import hashlib

    control = rec.body["request"]["control"]
    assert control["sha256"] == hashlib.sha256(layout).hexdigest()
    assert control["control_type"] == "segmentation" and control["input_index"] == 0
    assert control["checks"] == ["image.sexual", "image.minors", "image.faces", "image.likeness"]
    assert rec.body["request"]["inputs"] == []  # no edit input: the control is no parent
    assert rec.body["model"]["adapters"] == ["layout:segmentation:AssayShapesPipeline strength 1"]
    manifest = _manifest(data)
    assert [(i["relationship"], i["title"]) for i in manifest["ingredients"]] == [
        ("inputTo", "control-segmentation.png")
    ]
    created = manifest["assertions"][0]["data"]["actions"][0]
    assert created["action"] == "c2pa.created"


def test_the_catalog_lists_the_built_in_control_types(builtin_client: Any) -> None:
    client, _state, auth = builtin_client
    entry = client.get("/v1/models", headers=auth).json()["data"][0]
    assert entry["assay"]["control_types"] == ["canny", "edges", "scribble", "segmentation"]
    assert "layout:segmentation:AssayShapesPipeline" in entry["assay"]["adapters"]


@pytest.mark.parametrize(
    "extra,param,words",
    [
        ({"control_type": "segmentation"}, "control_image", "needs a control_image"),
        ({"control_image": "not base64!"}, "control_image", "not valid base64"),
        ({"control_image": "__PNG__"}, "control_type", "needs a control_type"),
        ({"control_image": "__PNG__", "control_type": "pose"}, "control_type", "no pose control"),
        ({"control_image": "__BLANK__", "control_type": "segmentation"}, "control_image", "marks no region"),
        (
            {"control_image": "__PNG__", "control_type": "segmentation", "control_strength": 3},
            "control_strength",
            "",
        ),
    ],
)
def test_a_bad_control_request_is_a_400_naming_the_field(
    builtin_client: Any, extra: dict[str, Any], param: str, words: str
) -> None:
    client, _state, auth = builtin_client
    swap = {
        "__PNG__": base64.b64encode(_png(_layout())).decode(),
        "__BLANK__": base64.b64encode(_png(Image.new("RGB", (64, 64)))).decode(),
    }
    body = {k: swap.get(v, v) if isinstance(v, str) else v for k, v in extra.items()}
    r = client.post(
        "/v1/images/generations", headers=auth, json={"prompt": "a star", "size": "256x256", **body}
    )
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == param and words in err["message"], err


def test_the_openai_client_sends_control_through_extra_body(builtin_client: Any) -> None:
    import openai

    client, _state, auth = builtin_client
    oai = openai.OpenAI(
        base_url="http://testserver/v1",
        api_key=auth["Authorization"].removeprefix("Bearer "),
        http_client=client,
        max_retries=0,
    )
    res = oai.images.generate(
        prompt="a blue square on a yellow background",
        size="256x256",
        response_format="b64_json",
        extra_body={
            "control_image": base64.b64encode(_png(_layout())).decode(),
            "control_type": "segmentation",
            "control_strength": 1.2,
            "seed": 5,
        },
    )
    data = base64.b64decode(res.data[0].b64_json or "")
    cx, cy = _centroid(data)
    assert abs(cx - 182 / 256) < 0.08 and abs(cy - 72 / 256) < 0.08, (cx, cy)
    assert res.model_extra is not None and res.model_extra["assay"]["status"] == "released"
    assert [i["relationship"] for i in _manifest(data)["ingredients"]] == ["inputTo"]
