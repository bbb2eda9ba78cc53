"""The diffusers backend on a tiny pipeline built from config: modes, seeds, ModelInfo, errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.errors import InvalidRequest, UnknownModel
from models.base import GenerationMode, GenerationRequest
from models.diffusers_backend import DiffusersBackend


def test_model_info_records_what_produced_the_image(tiny_backend, tiny_sd_folder) -> None:
    res = tiny_backend.generate(GenerationRequest(prompt="a red circle", width=64, height=64, n=2, seed=11))
    info = res.model
    assert info.pipeline_class == "StableDiffusionPipeline" and info.scheduler == "DDIMScheduler"
    assert info.seeds == [11, 12] and info.steps == 2 and (info.width, info.height) == (64, 64)
    assert info.weights_digest.startswith("sha256:") and info.revision == info.weights_digest[7:19]
    assert info.model_id == tiny_sd_folder.name and not info.placeholder


def test_same_seed_same_image_other_seed_other_image(tiny_backend) -> None:
    a = tiny_backend.generate(GenerationRequest(prompt="x", width=64, height=64, seed=1)).images[0]
    b = tiny_backend.generate(GenerationRequest(prompt="x", width=64, height=64, seed=1)).images[0]
    c = tiny_backend.generate(GenerationRequest(prompt="x", width=64, height=64, seed=2)).images[0]
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_img2img_and_inpaint_reuse_the_components(tiny_backend) -> None:
    img = Image.new("RGB", (64, 64), "green")
    r = tiny_backend.generate(
        GenerationRequest(prompt="x", width=64, height=64, mode=GenerationMode.IMG2IMG, image=img, seed=3)
    )
    assert r.model.pipeline_class == "StableDiffusionImg2ImgPipeline"
    r = tiny_backend.generate(
        GenerationRequest(
            prompt="x",
            width=64,
            height=64,
            mode=GenerationMode.INPAINT,
            image=img,
            mask=Image.new("L", (64, 64), 255),
            seed=3,
        )
    )
    assert r.model.pipeline_class == "StableDiffusionInpaintPipeline"
    assert tiny_backend._variants[(GenerationMode.INPAINT, None)].unet is tiny_backend.pipe.unet


def test_requests_the_model_cannot_do(tiny_backend) -> None:
    with pytest.raises(InvalidRequest, match="multiples of 8"):
        tiny_backend.check_request(GenerationRequest(prompt="x", width=100, height=100))
    with pytest.raises(InvalidRequest, match="needs a mask"):
        tiny_backend.check_request(
            GenerationRequest(prompt="x", mode=GenerationMode.INPAINT, image=Image.new("RGB", (8, 8)))
        )


def test_missing_weights_are_a_clear_error(tmp_path) -> None:
    with pytest.raises(UnknownModel, match="not a diffusers pipeline folder"):
        DiffusersBackend(str(tmp_path))
    with pytest.raises(UnknownModel, match="not available locally"):
        DiffusersBackend("stabilityai/sdxl-turbo-not-cached-here")
    with pytest.raises(UnknownModel, match="neither a local folder nor a hub id"):
        DiffusersBackend("no-such-thing")
