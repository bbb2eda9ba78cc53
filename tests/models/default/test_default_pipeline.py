import importlib
import json

import numpy as np
import pytest
import torch
from diffusers import DiffusionPipeline

from models.default import PIPELINE_CLASSES, WEIGHTS_DIR
from models.default.analysis import analyse
from models.default.pipeline import AssayShapesPipeline, ShapesPipelineOutput
from models.default.text_encoder import ShapesTextEncoder


@pytest.fixture(scope="module")
def pipe(untrained_dir) -> AssayShapesPipeline:
    p = AssayShapesPipeline.from_pretrained(untrained_dir, torch_dtype=torch.float32).to("cpu")
    p.set_progress_bar_config(disable=True)
    return p


def test_folder_is_a_diffusers_pipeline_with_importable_components(untrained_dir) -> None:
    index = json.loads((untrained_dir / "model_index.json").read_text())
    assert index["_class_name"] in PIPELINE_CLASSES
    assert index["text_encoder"] == ["models.default.text_encoder", "ShapesTextEncoder"]
    module, _, cls = PIPELINE_CLASSES[index["_class_name"]].partition(":")
    # the way the diffusers backend loads it: import the named class, then diffusers' from_pretrained
    generic = getattr(importlib.import_module(module), cls).from_pretrained(
        untrained_dir, torch_dtype=torch.float32
    )
    assert isinstance(generic, AssayShapesPipeline) and isinstance(generic, DiffusionPipeline)
    assert isinstance(generic.text_encoder, ShapesTextEncoder)


def test_output_size_notes_and_attributes(pipe: AssayShapesPipeline) -> None:
    out = pipe(
        "a red circle on a white background, masterpiece",
        num_inference_steps=2,
        generator=torch.Generator().manual_seed(0),
        height=64,
        width=96,
    )
    assert isinstance(out, ShapesPipelineOutput)
    assert len(out.images) == 1 and out.images[0].size == (96, 64) and out.images[0].mode == "RGB"
    assert out.notes == ["unknown words ignored: masterpiece"]
    assert out.attributes[0].colour == "red"
    assert pipe.native_size == 32 and "bicubic" in pipe.resampler


def test_prompt_with_nothing_known_still_yields_an_image(pipe: AssayShapesPipeline) -> None:
    out = pipe("a portrait of a cat", num_inference_steps=2, num_images_per_prompt=2)
    assert len(out.images) == 2
    assert any("no known attribute" in n for n in out.notes)


def test_seeded_generation_is_reproducible_and_seeds_differ(pipe: AssayShapesPipeline) -> None:
    def run(seeds: list[int]) -> list[np.ndarray]:
        gens = [torch.Generator().manual_seed(s) for s in seeds]
        return [
            np.asarray(i)
            for i in pipe(["a blue star", "a blue star"], generator=gens, num_inference_steps=3).images
        ]

    a, b = run([1, 2]), run([1, 2])
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], a[1])


def test_weights_for_another_concept_list_are_refused(untrained_dir, tmp_path) -> None:
    enc = ShapesTextEncoder.from_pretrained(untrained_dir / "text_encoder")
    enc.register_to_config(slot_values={**enc.config.slot_values, "shape": ["circle"]})
    with pytest.raises(ValueError, match="another concept list"):
        enc.check_concepts()


@pytest.mark.skipif(not (WEIGHTS_DIR / "model_index.json").exists(), reason="no shipped weights yet")
def test_shipped_weights_draw_the_asked_colours() -> None:
    torch.set_num_threads(1)
    shipped = AssayShapesPipeline.from_pretrained(WEIGHTS_DIR, torch_dtype=torch.float32)
    shipped.set_progress_bar_config(disable=True)
    prompts = [
        "a red circle on a white background",
        "白色背景上的红色圆形",
        "a blue square on a yellow background",
        "黄色背景上的蓝色正方形",
    ]
    gens = [torch.Generator().manual_seed(s) for s in range(len(prompts))]
    readings = [analyse(i) for i in shipped(prompts, generator=gens).images]
    assert [(r.colour, r.background) for r in readings] == [
        ("red", "white"),
        ("red", "white"),
        ("blue", "yellow"),
        ("blue", "yellow"),
    ]


def test_bad_arguments_are_named(pipe: AssayShapesPipeline) -> None:
    with pytest.raises(ValueError, match="num_images_per_prompt"):
        pipe("a red circle", num_images_per_prompt=0)
    with pytest.raises(ValueError, match="height and width"):
        pipe("a red circle", height=0)
    with pytest.raises(ValueError, match="prompt"):
        pipe([])
