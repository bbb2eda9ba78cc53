"""A second, pluggable NSFW classifier: diffusers' ``StableDiffusionSafetyChecker`` from a local folder.

Why it exists: NudeNet finds body parts; the Stable Diffusion safety checker compares a CLIP image
embedding with 17 concept embeddings (and 3 "special care" ones) and catches what has no body-part
box. Its weights are not on this machine's package index, so Assay never downloads them: an operator
who has them (the ``safety_checker/`` and ``feature_extractor/`` folders of a Stable Diffusion
checkpoint) names the folder in the policy and the ``image.concepts`` check loads it once per
process. The decision is diffusers' own rule (a concept's cosine similarity above its threshold,
plus 0.01 when a special-care concept fired), computed vectorised as in ``forward_onnx``; the
verdict carries every concept margin above zero as evidence. torch/transformers errors become
:class:`~core.errors.CheckFailed` or :class:`~core.errors.ConfigError` here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from core.errors import CheckFailed, ConfigError
from core.plugins import typed_options
from safety.check import CheckInput
from safety.verdict import Category, TargetKind, Verdict


class ConceptOptions(BaseModel):
    """Options of ``image.concepts`` in a policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the ``safety_checker`` folder (config.json + weights); relative paths are under ``<data_dir>/models``
    path: Path
    #: folder with ``preprocessor_config.json``; default: ``path`` itself, else its sibling
    #: ``feature_extractor``
    processor_path: Path | None = None
    #: added to every margin: > 0 makes the filter stricter (diffusers' ``adjustment``)
    adjustment: float = Field(default=0.0, ge=-0.2, le=0.2)
    #: the verdict score when the checker flags an image (it is a yes/no classifier)
    flagged_score: float = Field(default=1.0, ge=0.0, le=1.0)
    category: Category = Category.SEXUAL


@dataclass(frozen=True)
class ConceptResult:
    flagged: bool
    #: concept index -> cosine similarity minus threshold (plus adjustments), as diffusers computes it
    concept_margins: tuple[float, ...]
    special_margins: tuple[float, ...]


class SafetyCheckerModel:
    """One loaded ``StableDiffusionSafetyChecker`` with its image processor. Thread-safe inference."""

    def __init__(self, path: Path, processor_path: Path | None = None) -> None:
        if not (path / "config.json").is_file():
            raise ConfigError(
                f"no safety checker at {path} (config.json missing)",
                hint="point options.path at the safety_checker folder of a Stable Diffusion checkpoint",
            )
        proc = processor_path or (
            path if (path / "preprocessor_config.json").is_file() else path.parent / "feature_extractor"
        )
        if not (proc / "preprocessor_config.json").is_file():
            raise ConfigError(
                f"no image processor at {proc} (preprocessor_config.json missing)",
                hint="set options.processor_path to the feature_extractor folder",
            )
        try:
            import torch
            from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
            from transformers import CLIPImageProcessor

            self._torch = torch
            self.model = StableDiffusionSafetyChecker.from_pretrained(str(path), local_files_only=True).eval()
            self.processor = CLIPImageProcessor.from_pretrained(str(proc), local_files_only=True)
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - diffusers/transformers raise many kinds for a bad folder
            raise ConfigError(f"cannot load the safety checker from {path}: {exc}") from exc

    def classify(self, images: list[Image.Image], adjustment: float = 0.0) -> list[ConceptResult]:
        torch = self._torch
        try:
            pixels = self.processor(
                images=[im.convert("RGB") for im in images], return_tensors="pt"
            ).pixel_values
            with torch.inference_mode():
                m = self.model
                pixels = pixels.to(dtype=m.visual_projection.weight.dtype)
                embeds = m.visual_projection(m.vision_model(pixels)[1])
                embeds = torch.nn.functional.normalize(embeds.float())
                special = embeds @ torch.nn.functional.normalize(m.special_care_embeds.float()).T
                concept = embeds @ torch.nn.functional.normalize(m.concept_embeds.float()).T
                special = special - m.special_care_embeds_weights.float() + adjustment
                bump = (special > 0).any(dim=1, keepdim=True).float() * 0.01
                concept = concept - m.concept_embeds_weights.float() + adjustment + bump
        except Exception as exc:  # noqa: BLE001
            raise CheckFailed(f"safety checker inference failed: {exc}") from exc
        c, s = concept.numpy(), special.numpy()
        return [
            ConceptResult(bool((c[i] > 0).any()), tuple(map(float, c[i])), tuple(map(float, s[i])))
            for i in range(len(images))
        ]


class ConceptCheck:
    """``image.concepts``: a verdict (``sexual`` by default) when the SD safety checker flags the image."""

    name: ClassVar[str] = "image.concepts"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.INPUT_IMAGE, TargetKind.OUTPUT_IMAGE})

    def __init__(self, models_dir: Path | None = None) -> None:
        self._models_dir = models_dir
        self._lock = threading.Lock()
        self._loaded: dict[tuple[Path, Path | None], SafetyCheckerModel] = {}

    def model_for(self, opts: ConceptOptions) -> SafetyCheckerModel:
        """The model the options name, loaded once (call at start-up to fail early)."""
        path = self._resolve(opts.path)
        proc = self._resolve(opts.processor_path) if opts.processor_path else None
        key = (path, proc)
        model = self._loaded.get(key)
        if model is None:
            with self._lock:
                model = self._loaded.get(key)
                if model is None:
                    model = self._loaded[key] = SafetyCheckerModel(path, proc)
        return model

    def _resolve(self, p: Path) -> Path:
        p = p.expanduser()
        if not p.is_absolute() and self._models_dir is not None:
            p = self._models_dir / p
        return p.resolve()

    def run(self, item: CheckInput) -> list[Verdict]:
        if item.image is None:
            raise CheckFailed(f"{self.name} needs an image (target {item.target})")
        opts = typed_options(item.options, ConceptOptions)
        (res,) = self.model_for(opts).classify([item.image], opts.adjustment)
        if not res.flagged:
            return []
        fired = {str(i): round(m, 4) for i, m in enumerate(res.concept_margins) if m > 0}
        special = {str(i): round(m, 4) for i, m in enumerate(res.special_margins) if m > 0}
        return [
            Verdict(
                check=self.name,
                category=opts.category,
                score=opts.flagged_score,
                target=item.target,
                reason=f"the Stable Diffusion safety checker flagged {len(fired)} concept(s)",
                evidence={
                    "concepts": fired,
                    "special_care": special,
                    "max_margin": round(max(res.concept_margins), 4),
                },
            )
        ]


def build_concepts_check(settings: Any) -> ConceptCheck:
    return ConceptCheck(models_dir=getattr(settings, "models_dir", None))


def describe(v: Verdict) -> str:
    """One line a person reads: which concepts fired (the registry's ``describe``)."""
    concepts = v.evidence.get("concepts") or []
    shown = ", ".join(str(c) for c in concepts[:10]) if isinstance(concepts, list) else str(concepts)
    return f"{v.check}: {v.category.value} {v.score:.2f} — concepts {shown or '(none listed)'}"
