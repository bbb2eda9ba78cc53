"""Every model family the README promises, loaded from a folder and served through the whole path.

Each family is built tiny from config into a temporary folder (models/tiny.py: tokenizers too,
nothing from a hub), loaded by the diffusers backend exactly as ``ASSAY_MODEL=<folder>`` would
load it, and asked for an image through ``POST /v1/images/generations`` (and ``/v1/images/edits``
where the family has image-to-image and inpainting) with the default policy: prompt checks, image
checks, marks, C2PA and the ledger record, whose ``ModelInfo`` must name the family's pipeline.
SQLite only: the store is not what these tests are about, and each generation costs seconds.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from models.tiny import FAMILIES, save_tiny

REPO = Path(__file__).resolve().parents[2]

#: family -> (image-to-image pipeline, inpainting pipeline); None where diffusers has none
EDITS: dict[str, tuple[str | None, str | None]] = {
    "sdxl": ("StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLInpaintPipeline"),
    "sd3": ("StableDiffusion3Img2ImgPipeline", "StableDiffusion3InpaintPipeline"),
    "flux": ("FluxImg2ImgPipeline", "FluxInpaintPipeline"),
    "cogview4": (None, None),
    "hunyuandit": (None, None),
    "qwenimage": ("QwenImageImg2ImgPipeline", "QwenImageInpaintPipeline"),
    "kolors": ("KolorsImg2ImgPipeline", None),  # diffusers has no Kolors inpainting pipeline
}
TESTED = sorted(EDITS)

_backends: dict[str, Any] = {}


@pytest.fixture(scope="module")
def family_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {}


@pytest.fixture(scope="module")
def family_policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped policies, except that the watermark's PSNR floor is 37 dB, not 38.5.

    A tiny model with random weights paints white noise (luma std ~41), which is not what a
    trained model paints: marking it needs ~37.7 dB, so at the shipped 38.5 dB floor the mark is
    capped and about 1 payload in 100 does not read back, and the gateway rightly refuses the
    image (``mark_failed``; measured with 300 random keys and payloads on the sd3 output). These
    tests are about loading and serving the families, so they take the floor such noise needs.
    """
    folder = tmp_path_factory.mktemp("family-policies")
    for pack in (REPO / "policies").glob("*.yaml"):
        text = pack.read_text(encoding="utf-8")
        if pack.name == "default.yaml":
            assert "\n    - watermark\n" in text, "the default policy's watermark step moved"
            floor = "\n    - {name: watermark, options: {min_psnr: 37.0}}\n"
            text = text.replace("\n    - watermark\n", floor)
        (folder / pack.name).write_text(text, encoding="utf-8")
    return folder


def _backend(family: str, folders: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Any:
    from models.diffusers_backend import DiffusersBackend

    if family not in _backends:
        folder = save_tiny(family, tmp_path_factory.mktemp(f"tiny-{family}") / family)
        folders[family] = folder
        _backends[family] = DiffusersBackend(str(folder), default_steps=2, device="cpu")
    return _backends[family]


@pytest.fixture
def family_client(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    family_folders: dict[str, Path],
    family_policies: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Any, Any, dict[str, str]]]:
    from fastapi.testclient import TestClient

    from core.settings import Settings
    from gateway.app import create_app
    from gateway.state import AppState

    settings = Settings(
        data_dir=tmp_path / "data", policy_dir=family_policies, default_steps=2, backend_timeout_s=900
    )
    state = AppState(settings, backend=_backend(request.param, family_folders, tmp_path_factory))
    key, _ = state.keys.create("acme", "requester", name="families")
    try:
        with TestClient(create_app(state=state)) as client:
            yield client, state, {"Authorization": f"Bearer {key}"}
    finally:
        state.close()


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _photo() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.coffee()).resize((256, 256))


def _released(client: Any, state: Any, response: Any) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    img = Image.open(io.BytesIO(base64.b64decode(body["data"][0]["b64_json"])))
    assert img.size == (256, 256)
    rec = state.ledger.get(body["assay"]["record_id"], tenant="acme")
    assert rec is not None and rec.decision == "allow"
    marks = rec.body["outputs"][0]["marks"]
    assert marks.get("c2pa") and marks.get("watermark"), f"released without its marks: {sorted(marks)}"
    return rec


def test_every_family_of_the_readme_has_a_builder() -> None:
    assert set(TESTED) <= set(FAMILIES)
    assert {"sdxl", "sd3", "flux", "cogview4", "hunyuandit", "qwenimage", "kolors"} <= set(FAMILIES)


@pytest.mark.slow
@pytest.mark.parametrize("family_client", TESTED, indirect=True)
def test_family_generates_through_the_whole_compliance_path(family_client: Any, request: Any) -> None:
    client, state, auth = family_client
    family = request.node.callspec.params["family_client"]
    r = client.post(
        "/v1/images/generations",
        headers=auth,
        json={"prompt": "a red circle on a white background", "size": "256x256", "seed": 3},
    )
    rec = _released(client, state, r)
    model = rec.body["model"]
    assert model["pipeline_class"] == FAMILIES[family]
    assert model["backend"] == "diffusers" and model["weights_digest"].startswith("sha256:")
    assert (
        model["scheduler"] and model["dtype"] == "float32" and model["steps"] == 2 and model["seeds"] == [3]
    )


@pytest.mark.slow
@pytest.mark.parametrize("family_client", TESTED, indirect=True)
def test_family_edits_where_it_can_and_says_so_where_it_cannot(family_client: Any, request: Any) -> None:
    client, state, auth = family_client
    family = request.node.callspec.params["family_client"]
    img2img, inpaint = EDITS[family]
    photo = _png(_photo())
    mask = Image.new("L", (256, 256), 0)
    mask.paste(255, (64, 64, 192, 192))
    for mode, expected, files in (
        ("img2img", img2img, {"image": ("in.png", photo, "image/png")}),
        (
            "inpaint",
            inpaint,
            {"image": ("in.png", photo, "image/png"), "mask": ("mask.png", _png(mask), "image/png")},
        ),
    ):
        r = client.post(
            "/v1/images/edits",
            headers=auth,
            files=files,
            data={"prompt": "a blue star", "size": "256x256", "seed": "5"},
        )
        if expected is None:
            assert r.status_code == 400, r.text
            assert mode in r.json()["error"]["message"], r.text
            continue
        rec = _released(client, state, r)
        assert rec.body["model"]["pipeline_class"] == expected, mode
        assert rec.body["request"]["mode"] == mode
        assert rec.body["request"]["inputs"], "the input image's digest is recorded"


def test_the_kolors_tokenizer_is_trained_in_code_and_tokenizes_any_prompt(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, family_folders: dict[str, Path]
) -> None:
    """ChatGLM's SentencePiece model is trained offline from in-code text, the same bytes every
    time (so the weights digest of a tiny Kolors folder is stable), with byte fallback: a character
    it never saw becomes its UTF-8 bytes, never the unknown piece."""
    from diffusers.pipelines.kolors import ChatGLMTokenizer

    backend = _backend("kolors", family_folders, tmp_path_factory)
    spm_model = family_folders["kolors"] / "tokenizer" / "tokenizer.model"
    again = save_tiny("kolors", tmp_path / "again") / "tokenizer" / "tokenizer.model"
    assert spm_model.read_bytes() == again.read_bytes()
    tokenizer = backend.pipe.tokenizer
    assert isinstance(tokenizer, ChatGLMTokenizer)
    unk = tokenizer.tokenizer.sp_model.unk_id()
    for prompt in ("a red circle on a white background", "一只红色的猫", "Ünïcødé ✨ 🦊 ß"):
        ids = tokenizer(prompt)["input_ids"]
        assert ids[:2] == tokenizer.get_prefix_tokens() and unk not in ids[2:], (prompt, ids)
        assert tokenizer.decode(ids[2:]).strip() == prompt
    # English and Chinese have pieces of their own; an emoji falls back to its four bytes
    assert len(tokenizer("white")["input_ids"]) - 2 < len("white")
    assert len(tokenizer("🦊")["input_ids"]) - 2 >= 4


def test_sizes_the_family_cannot_make_are_refused_before_any_work(
    tmp_path_factory: pytest.TempPathFactory, family_folders: dict[str, Path]
) -> None:
    from core.errors import InvalidRequest
    from models.base import GenerationRequest

    backend = _backend("flux", family_folders, tmp_path_factory)
    with pytest.raises(InvalidRequest, match="multiples of 16"):
        backend.check_request(GenerationRequest(prompt="x", width=264, height=264))
