"""Control for diffusers backends: ControlNet and T2I-Adapter models from local folders, and the
preprocessors that turn a caller's image into the map a control model expects.

Why it exists: enterprises need to say *where* things go (a product's outline, a person's pose), and
the control image is an input like any upload: it is checked, stored and named in the record by
the gateway; here it only becomes pipeline arguments. Control models are named by the operator,
one folder per control type (``ASSAY_CONTROL_MODELS=canny=/m/cn-canny,pose=/m/cn-pose``), loaded
once with the real diffusers classes (``ControlNetModel``, ``FluxControlNetModel``,
``SD3ControlNetModel``, ``T2IAdapter``: whatever the folder's ``config.json`` names), and combined
with the base pipeline through ``from_pipe`` (no second copy of the base weights).

Preprocessors need no weights: ``canny`` computes edges (OpenCV) from a photo; ``pose``, ``depth``,
``scribble``, ``lineart``, ``segmentation`` and ``edges`` take the map the caller sends as is.

Imports: diffusers, cv2, numpy (lazily); :mod:`core.errors`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from core.errors import ConfigError, InvalidRequest


def _canny(image: Image.Image, *, low: int = 100, high: int = 200) -> Image.Image:
    import cv2
    import numpy as np

    grey = np.asarray(image.convert("L"))
    edges = cv2.Canny(grey, low, high)
    return Image.fromarray(edges).convert("RGB")


def _as_sent(image: Image.Image) -> Image.Image:
    return image.convert("RGB")


#: control type -> preprocessor; every type a control model may be registered under
PREPROCESSORS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "canny": _canny,
    "edges": _as_sent,
    "pose": _as_sent,
    "depth": _as_sent,
    "scribble": _as_sent,
    "lineart": _as_sent,
    "segmentation": _as_sent,
}

#: config.json ``_class_name`` -> kind; the classes diffusers loads control models with
_CLASSES: dict[str, str] = {
    "ControlNetModel": "controlnet",
    "ControlNetUnionModel": "controlnet",
    "SD3ControlNetModel": "controlnet",
    "FluxControlNetModel": "controlnet",
    "QwenImageControlNetModel": "controlnet",
    "T2IAdapter": "t2i-adapter",
}


@dataclass(frozen=True)
class ControlModel:
    """One loaded control model: the type it serves, its kind, class and weights digest."""

    control_type: str
    kind: str  # controlnet | t2i-adapter
    model: Any
    folder: Path
    digest: str

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.control_type}:{type(self.model).__name__}"


def parse_control_models(value: str | None) -> dict[str, Path]:
    """``canny=/m/cn,pose=/m/pose`` -> ``{"canny": Path, ...}``; bad entries name what is wrong."""
    out: dict[str, Path] = {}
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, folder = item.partition("=")
        name = name.strip().lower()
        if not sep or not name or not folder.strip():
            raise ConfigError(
                f"ASSAY_CONTROL_MODELS entry {item!r} is not TYPE=FOLDER",
                param="ASSAY_CONTROL_MODELS",
                hint="e.g. canny=/models/controlnet-canny,pose=/models/controlnet-pose",
            )
        if name not in PREPROCESSORS:
            raise ConfigError(
                f"ASSAY_CONTROL_MODELS: unknown control type {name!r}",
                param="ASSAY_CONTROL_MODELS",
                hint=f"types: {', '.join(PREPROCESSORS)}",
            )
        if name in out:
            raise ConfigError(f"ASSAY_CONTROL_MODELS names {name!r} twice", param="ASSAY_CONTROL_MODELS")
        out[name] = Path(folder.strip()).expanduser()
    return out


def load_control_model(control_type: str, folder: Path, *, dtype: Any, device: str) -> ControlModel:
    """Load the control model in ``folder`` with the diffusers class its config names."""
    import diffusers

    from models.digest import folder_digest

    config = folder / "config.json"
    try:
        cls_name = str(json.loads(config.read_text())["_class_name"])
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(
            f"control model {control_type}: {config} is missing or unreadable ({exc})",
            param="ASSAY_CONTROL_MODELS",
            hint="point it at a folder saved with ControlNetModel/T2IAdapter.save_pretrained()",
        ) from exc
    kind = _CLASSES.get(cls_name)
    if kind is None:
        raise ConfigError(
            f"control model {control_type}: {cls_name} is not a ControlNet or T2I-Adapter class",
            param="ASSAY_CONTROL_MODELS",
            hint=f"known: {', '.join(sorted(_CLASSES))}",
        )
    try:
        model = getattr(diffusers, cls_name).from_pretrained(folder, torch_dtype=dtype).to(device)
    except (OSError, ValueError, RuntimeError, TypeError) as exc:
        raise ConfigError(
            f"cannot load control model {control_type} from {folder}: {exc}", param="ASSAY_CONTROL_MODELS"
        ) from exc
    return ControlModel(control_type, kind, model, folder, folder_digest(folder))


def control_pipeline(base: Any, mode_auto: Any, control: ControlModel) -> Any:
    """The base pipeline combined with ``control`` (``mode_auto`` is an ``AutoPipelineFor*`` class)."""
    if control.kind == "controlnet":
        return mode_auto.from_pipe(base, controlnet=control.model)
    import diffusers

    name = type(base).__name__
    adapter_cls = {
        "StableDiffusionPipeline": "StableDiffusionAdapterPipeline",
        "StableDiffusionXLPipeline": "StableDiffusionXLAdapterPipeline",
    }.get(name)
    if adapter_cls is None or mode_auto.__name__ != "AutoPipelineForText2Image":
        raise InvalidRequest(
            f"a T2I-Adapter works with text-to-image on SD and SDXL, not {name} "
            f"({mode_auto.__name__.removeprefix('AutoPipelineFor').lower()})",
            param="control_type",
        )
    cls = getattr(diffusers, adapter_cls)
    expected, _optional = cls._get_signature_keys(cls)
    parts = {k: v for k, v in base.components.items() if k in expected}
    parts.setdefault("safety_checker", None)
    parts.setdefault("feature_extractor", None)
    return cls(**parts, adapter=control.model)


def control_arguments(
    pipe: Any, control_image: Image.Image, strength: float, *, has_input: bool
) -> dict[str, Any]:
    """The call arguments of ``pipe`` that carry the control image and its strength.

    Control pipelines name them differently: ``image`` (SD ControlNet text-to-image, T2I-Adapter),
    ``control_image`` (ControlNet img2img/inpaint, SD3, FLUX), and the scale as
    ``controlnet_conditioning_scale`` or ``adapter_conditioning_scale``.
    """
    import inspect

    params = inspect.signature(pipe.__call__).parameters
    out: dict[str, Any] = {}
    if "control_image" in params:
        out["control_image"] = control_image
    elif not has_input:
        out["image"] = control_image
    else:
        raise InvalidRequest(
            f"{type(pipe).__name__} takes no control image beside an input image", param="control_image"
        )
    for scale in ("controlnet_conditioning_scale", "adapter_conditioning_scale"):
        if scale in params:
            out[scale] = strength
            break
    return out
