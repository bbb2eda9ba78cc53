"""The built-in model's control input: the shape lands where the layout says (shipped weights).

The full measurement is ``benchmarks/control_placement.py``; here a few of its items, with and
without the control, and the backend's side (served types, the record's adapter, clear 400s).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from benchmarks.control_placement import control_image, iou, items, shape_region, silhouette
from core.errors import InvalidRequest
from models.base import GenerationMode, GenerationRequest
from models.default import WEIGHTS_DIR
from models.default.control import CONTROL_TYPES, control_region
from models.default.pipeline import AssayShapesPipeline
from models.diffusers_backend import DiffusersBackend


@pytest.fixture(scope="module")
def shipped() -> AssayShapesPipeline:
    torch.set_num_threads(1)
    pipe = AssayShapesPipeline.from_pretrained(WEIGHTS_DIR)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def backend() -> DiffusersBackend:
    return DiffusersBackend(str(WEIGHTS_DIR), device="cpu", model_id="assay-default")


@pytest.mark.parametrize("control_type", ["segmentation", "edges"])
def test_the_shape_goes_where_the_control_puts_it(shipped: AssayShapesPipeline, control_type: str) -> None:
    placed = baseline = 0
    its = items(8)
    for it in its:
        target = silhouette(it, 32)
        gen = torch.Generator().manual_seed(it.seed)
        img = shipped(
            it.prompt, generator=gen, control_image=control_image(it, control_type), control_type=control_type
        ).images[0]
        plain = shipped(it.prompt, generator=torch.Generator().manual_seed(it.seed)).images[0]
        placed += iou(shape_region(img), target) >= 0.5  # type: ignore[arg-type]
        baseline += iou(shape_region(plain), target) >= 0.5  # type: ignore[arg-type]
    assert placed >= 7, f"{placed}/8 placed with the control"
    assert baseline <= 3, f"{baseline}/8 placed without it: the items do not test placement"


def test_an_outline_is_read_as_its_filled_inside() -> None:
    img = Image.new("RGB", (128, 128), "white")
    ImageDraw.Draw(img).rectangle((16, 64, 56, 112), outline="black", width=3)
    region = control_region(img, "edges", 32)
    assert region[22, 8] > 0.9 and region[8, 22] < 0.1  # inside the box, and above it
    ys, xs = np.nonzero(region > 0.5)
    assert 3 <= xs.min() <= 5 and 13 <= xs.max() <= 14 and 15 <= ys.min() <= 17


def test_a_control_image_marking_nothing_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="marks no region"):
        control_region(Image.new("RGB", (64, 64), "black"), "segmentation", 32)
    with pytest.raises(ValueError, match="no 'pose' control"):
        control_region(Image.new("RGB", (64, 64), "black"), "pose", 32)


def test_the_backend_serves_and_records_the_layout_control(backend: DiffusersBackend) -> None:
    assert backend.control_types == sorted(CONTROL_TYPES)
    assert "layout:segmentation:AssayShapesPipeline" in backend.info.adapters
    it = items(1)[0]
    res = backend.generate(
        GenerationRequest(
            prompt=it.prompt,
            width=64,
            height=64,
            seed=it.seed,
            control_image=control_image(it, "segmentation"),
            control_type="segmentation",
            control_strength=1.0,
        )
    )
    assert res.model.adapters == ["layout:segmentation:AssayShapesPipeline strength 1"]
    assert any(n.startswith("control segmentation") for n in res.model.notes)
    assert iou(shape_region(res.images[0]), silhouette(it, 32)) >= 0.5


def test_the_backend_names_what_it_cannot_do(backend: DiffusersBackend) -> None:
    def req(**kw: object) -> GenerationRequest:
        return GenerationRequest(prompt="a red star", width=64, height=64, **kw)  # type: ignore[arg-type]

    with pytest.raises(InvalidRequest, match="marks no region") as blank:
        backend.check_request(req(control_image=Image.new("RGB", (64, 64)), control_type="segmentation"))
    assert blank.value.param == "control_image"
    with pytest.raises(InvalidRequest, match="no pose control model") as unknown:
        backend.check_request(req(control_image=Image.new("RGB", (64, 64)), control_type="pose"))
    assert "segmentation" in (unknown.value.hint or "")
    spot = Image.new("RGB", (64, 64))
    ImageDraw.Draw(spot).ellipse((10, 10, 30, 30), fill="white")
    with pytest.raises(InvalidRequest, match="text-to-image only"):
        backend.check_request(
            req(
                mode=GenerationMode.IMG2IMG,
                image=Image.new("RGB", (64, 64), "grey"),
                control_image=spot,
                control_type="segmentation",
            )
        )
