"""ASSAY_SAMPLER: an operator picks the sampler (LCM for few-step models); the record names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from models.base import GenerationRequest
from models.diffusers_backend import DiffusersBackend


def test_an_lcm_request_with_four_steps_records_its_sampler_and_steps(tiny_sd_folder: Path) -> None:
    backend = DiffusersBackend(str(tiny_sd_folder), sampler="lcm", device="cpu")
    assert backend.info.scheduler == "LCMScheduler"
    res = backend.generate(GenerationRequest(prompt="a red circle", width=64, height=64, steps=4, seed=1))
    assert res.model.scheduler == "LCMScheduler" and res.model.steps == 4
    assert len(res.images) == 1 and res.images[0].size == (64, 64)


def test_a_class_name_works_as_well_as_a_short_name(tiny_sd_folder: Path) -> None:
    backend = DiffusersBackend(str(tiny_sd_folder), sampler="DPMSolverMultistepScheduler", device="cpu")
    assert backend.info.scheduler == "DPMSolverMultistepScheduler"


@pytest.mark.parametrize(
    ("sampler", "message"),
    [
        ("flow-euler", "cannot sample this noise-prediction model"),
        ("nonsense", "is not a diffusers scheduler"),
        ("AutoencoderKL", "is not a diffusers scheduler"),
    ],
)
def test_a_sampler_the_model_cannot_use_is_refused_at_start_up(
    tiny_sd_folder: Path, sampler: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        DiffusersBackend(str(tiny_sd_folder), sampler=sampler, device="cpu")
    assert err.value.param == "ASSAY_SAMPLER" and err.value.hint
