"""Assay's built-in default text-to-image model: small, trained here on the CPU, shipped in the repo.

It draws one coloured shape (circle, square, triangle, star, heart, ring) of a size at a position
on a flat background, from English or Chinese prompts, at a native 32x32 that the pipeline resizes
to the requested size. It is what a fresh install generates with and what the test suite uses;
real deployments set ``ASSAY_MODEL`` to SDXL, FLUX, CogView or a remote service. The shipped
folder ``weights/`` is an ordinary diffusers pipeline folder; its ``README.md`` is the model card.
"""

from __future__ import annotations

from pathlib import Path

#: The shipped pipeline folder (model_index.json + unet/ + text_encoder/ + scheduler/).
WEIGHTS_DIR: Path = Path(__file__).resolve().parent / "weights"

#: What training needs besides the shipped EMA weights to resume exactly (see ``shipping.py``).
RESUME_DIR: Path = Path(__file__).resolve().parent / "resume"

#: Pipeline classes the diffusers backend may import by the ``_class_name`` of a model_index.json.
PIPELINE_CLASSES: dict[str, str] = {"AssayShapesPipeline": "models.default.pipeline:AssayShapesPipeline"}


def save_untrained(folder: str | Path, seed: int = 0) -> Path:
    """Write the default model's architecture with fixed random weights to ``folder``.

    Only for clearly labelled placeholders and fast tests: these weights draw noise, not shapes.
    """
    from models.default.pipeline import build_pipeline

    folder = Path(folder)
    build_pipeline(seed=seed).save_pretrained(folder)
    return folder


__all__ = ["PIPELINE_CLASSES", "RESUME_DIR", "WEIGHTS_DIR", "save_untrained"]
