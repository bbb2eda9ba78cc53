"""Control models (ControlNet, T2I-Adapter) from operator folders, on tiny pipelines built here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.errors import ConfigError, InvalidRequest
from models.base import GenerationMode, GenerationRequest
from models.control import PREPROCESSORS, parse_control_models
from models.diffusers_backend import DiffusersBackend
from models.tiny import save_tiny, save_tiny_control


@pytest.fixture(scope="module")
def sd_with_controls(tmp_path_factory: pytest.TempPathFactory) -> DiffusersBackend:
    root = tmp_path_factory.mktemp("control")
    base = save_tiny("sd", root / "sd")
    controls = {
        "canny": save_tiny_control("controlnet", base, root / "cn-canny"),
        "pose": save_tiny_control("t2i-adapter", base, root / "t2i-pose"),
    }
    return DiffusersBackend(str(base), default_steps=2, device="cpu", controls=controls)


def _outline() -> Image.Image:
    img = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(img).ellipse((16, 16, 48, 48), outline="black", width=3)
    return img


def _req(**kw: Any) -> GenerationRequest:
    args: dict[str, Any] = dict(prompt="a red circle", width=64, height=64, seed=1)
    args.update(kw)
    return GenerationRequest(**args)


def test_the_served_control_models_are_named_in_model_info(sd_with_controls: DiffusersBackend) -> None:
    assert sd_with_controls.control_types == ["canny", "pose"]
    assert "controlnet:canny:ControlNetModel" in sd_with_controls.info.adapters
    assert "t2i-adapter:pose:T2IAdapter" in sd_with_controls.info.adapters


def test_a_controlnet_request_runs_the_controlnet_pipeline_and_records_it(
    sd_with_controls: DiffusersBackend,
) -> None:
    res = sd_with_controls.generate(
        _req(control_image=_outline(), control_type="canny", control_strength=0.8)
    )
    assert res.model.pipeline_class == "StableDiffusionControlNetPipeline"
    assert res.model.adapters == ["controlnet:canny:ControlNetModel strength 0.8"]
    assert res.images[0].size == (64, 64)
    plain = sd_with_controls.generate(_req())
    assert plain.model.pipeline_class == "StableDiffusionPipeline" and plain.model.adapters == []


def test_the_control_changes_the_image(sd_with_controls: DiffusersBackend) -> None:
    a = sd_with_controls.generate(_req(control_image=_outline(), control_type="canny", control_strength=2.0))
    b = sd_with_controls.generate(_req(control_image=_outline(), control_type="canny", control_strength=0.0))
    assert np.abs(np.asarray(a.images[0], float) - np.asarray(b.images[0], float)).mean() > 0.01


def test_a_t2i_adapter_request(sd_with_controls: DiffusersBackend) -> None:
    res = sd_with_controls.generate(_req(control_image=_outline(), control_type="pose", control_strength=1.0))
    assert res.model.pipeline_class == "StableDiffusionAdapterPipeline"
    assert res.model.adapters == ["t2i-adapter:pose:T2IAdapter strength 1"]


def test_controlnet_with_an_input_image(sd_with_controls: DiffusersBackend) -> None:
    res = sd_with_controls.generate(
        _req(
            mode=GenerationMode.IMG2IMG,
            image=Image.new("RGB", (64, 64), "grey"),
            control_image=_outline(),
            control_type="canny",
        )
    )
    assert res.model.pipeline_class == "StableDiffusionControlNetImg2ImgPipeline"


def test_what_the_model_cannot_do_is_a_400_naming_the_field(sd_with_controls: DiffusersBackend) -> None:
    with pytest.raises(InvalidRequest, match="no depth control model") as err:
        sd_with_controls.check_request(_req(control_image=_outline(), control_type="depth"))
    assert err.value.param == "control_type" and "canny, pose" in (err.value.hint or "")
    with pytest.raises(InvalidRequest, match="needs a control_image"):
        sd_with_controls.check_request(_req(control_type="canny"))
    with pytest.raises(InvalidRequest, match="0..2"):
        sd_with_controls.check_request(
            _req(control_image=_outline(), control_type="canny", control_strength=3)
        )
    with pytest.raises(InvalidRequest, match="T2I-Adapter"):
        sd_with_controls.check_request(
            _req(mode=GenerationMode.IMG2IMG, image=_outline(), control_image=_outline(), control_type="pose")
        )


def test_flux_controlnet(tmp_path: Path) -> None:
    base = save_tiny("flux", tmp_path / "flux")
    cn = save_tiny_control("controlnet", base, tmp_path / "cn")
    backend = DiffusersBackend(str(base), default_steps=2, device="cpu", controls={"depth": cn})
    res = backend.generate(_req(control_image=Image.new("RGB", (64, 64), "grey"), control_type="depth"))
    assert res.model.pipeline_class == "FluxControlNetPipeline"
    assert res.model.adapters == ["controlnet:depth:FluxControlNetModel strength 1"]


def test_canny_finds_the_outline() -> None:
    edges = np.asarray(PREPROCESSORS["canny"](_outline()).convert("L"))
    assert edges[32, 14:20].max() == 255 and edges[32, 28:36].max() == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [("canny", "not TYPE=FOLDER"), ("halo=/x", "unknown control type"), ("canny=/a,canny=/b", "twice")],
)
def test_bad_control_settings_are_refused(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_control_models(value)


def test_a_folder_that_is_no_control_model_is_refused(tmp_path: Path) -> None:
    base = save_tiny("sd", tmp_path / "sd")
    with pytest.raises(ConfigError, match="missing or unreadable"):
        DiffusersBackend(str(base), device="cpu", controls={"canny": tmp_path / "nothing"})
    with pytest.raises(ConfigError, match="not a ControlNet or T2I-Adapter"):
        DiffusersBackend(str(base), device="cpu", controls={"canny": base / "unet"})
