"""The pluggable second classifier: diffusers' StableDiffusionSafetyChecker, a tiny one built from config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pydantic import ValidationError

from core.errors import ConfigError
from safety.check import CheckInput
from safety.image.concepts import ConceptCheck, ConceptOptions, SafetyCheckerModel, build_concepts_check
from safety.verdict import Category, Target


def _save_tiny_checker(root: Path, *, flag_image: Image.Image | None = None) -> Path:
    """A randomly initialised SD safety checker (tiny CLIP) and its image processor, saved like a
    checkpoint."""
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_attention_heads": 2,
            "num_hidden_layers": 1,
            "vocab_size": 99,
            "max_position_embeddings": 16,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_attention_heads": 2,
            "num_hidden_layers": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=8,
    )
    model = StableDiffusionSafetyChecker(cfg).eval()
    proc = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    with torch.no_grad():
        model.concept_embeds.normal_()
        model.special_care_embeds.normal_()
        model.concept_embeds_weights.fill_(0.99)  # nothing random comes this close ...
        model.special_care_embeds_weights.fill_(0.99)
        if flag_image is not None:  # ... except concept 3, set to this image's own embedding
            pixels = proc(images=[flag_image], return_tensors="pt").pixel_values
            model.concept_embeds[3] = model.visual_projection(model.vision_model(pixels)[1])[0]
    (root / "safety_checker").mkdir(parents=True)
    model.save_pretrained(root / "safety_checker")
    proc.save_pretrained(root / "feature_extractor")
    return root / "safety_checker"


@pytest.fixture(scope="module")
def images(photo) -> dict[str, Image.Image]:
    return {"flagged": photo("coffee"), "other": photo("chelsea")}


@pytest.fixture(scope="module")
def checker_dir(tmp_path_factory: pytest.TempPathFactory, images) -> Path:
    return _save_tiny_checker(tmp_path_factory.mktemp("sd-checker"), flag_image=images["flagged"])


def _run(check: ConceptCheck, img: Image.Image, **options) -> list:
    return check.run(
        CheckInput(
            target=Target.output_image(0),
            tenant="t",
            image=img,
            options=ConceptOptions.model_validate(options),
        )
    )


def test_flags_the_concept_and_passes_the_rest(checker_dir: Path, images) -> None:
    check = ConceptCheck()
    (v,) = _run(check, images["flagged"], path=str(checker_dir))
    assert v.category is Category.SEXUAL and v.check == "image.concepts" and v.score == 1.0
    assert set(v.evidence["concepts"]) == {"3"} and v.evidence["max_margin"] > 0
    assert _run(check, images["other"], path=str(checker_dir)) == []


def test_same_decision_as_diffusers_forward(checker_dir: Path, images) -> None:
    model = SafetyCheckerModel(checker_dir)
    rng = np.random.default_rng(1)
    batch = [images["flagged"], images["other"]] + [
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)) for _ in range(4)
    ]
    for adjustment in (0.0, 0.05):
        ours = [r.flagged for r in model.classify(batch, adjustment)]
        pixels = model.processor(images=batch, return_tensors="pt").pixel_values
        if adjustment:
            with torch.no_grad():  # diffusers has no adjustment argument: lower its thresholds instead
                model.model.concept_embeds_weights -= adjustment
                model.model.special_care_embeds_weights -= adjustment
        try:
            _, theirs = model.model(clip_input=pixels, images=[np.zeros((1, 1, 3))] * len(batch))
        finally:
            with torch.no_grad():
                model.model.concept_embeds_weights += adjustment
                model.model.special_care_embeds_weights += adjustment
        assert ours == list(theirs)
        if adjustment == 0.0:
            assert ours[0] and not ours[1]


def test_options_relative_paths_and_loading_once(checker_dir: Path, images) -> None:
    check = ConceptCheck(models_dir=checker_dir.parent)
    opts = ConceptOptions(path=Path("safety_checker"), category="violence", flagged_score=0.8)
    assert check.model_for(opts) is check.model_for(opts)
    (v,) = _run(check, images["flagged"], **opts.model_dump())
    assert v.category is Category.VIOLENCE and v.score == 0.8
    assert _run(check, images["flagged"], path="safety_checker", adjustment=-0.2) == []


def test_missing_or_broken_folders_fail_closed(tmp_path: Path, checker_dir: Path, images) -> None:
    check = build_concepts_check(None)
    with pytest.raises(ConfigError, match="config.json missing"):
        _run(check, images["other"], path=str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="preprocessor_config.json missing"):
        _run(check, images["other"], path=str(tmp_path))
    with pytest.raises(ValidationError):
        ConceptOptions.model_validate({})
