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
