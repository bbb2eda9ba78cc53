"""Helpers for the watermark tests: real photographs from scikit-image, the usual attacks, a context."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import numpy as np
import skimage.data
from PIL import Image

from models.base import ModelInfo
from provenance.marks import MarkContext


def photo(name: str, size: tuple[int, int] = (512, 512)) -> Image.Image:
    """A scikit-image sample photograph as RGB, resized to ``size`` (width, height)."""
    arr = getattr(skimage.data, name)()
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    img = Image.fromarray(arr[..., :3])
    return img if img.size == size else img.resize(size, Image.BICUBIC)


def jpeg(img: Image.Image, quality: int) -> Image.Image:
    """Metadata-free JPEG round trip (Pillow writes no EXIF/XMP unless asked)."""
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def scale(img: Image.Image, factor: float) -> Image.Image:
    w, h = img.size
    return img.resize((round(w * factor), round(h * factor)), Image.BICUBIC)


def wm_context(**overrides: Any) -> MarkContext:
    """A MarkContext for the watermark step (it reads record_id, image_index and options)."""
    base: dict[str, Any] = dict(
        record_id="01JDQ3V6ZK7C3M5W0Y8N2P4R6T",
        content_id="01JDQ3V6ZK7C3M5W0Y8N2P4R6T-0",
        image_index=0,
        tenant="acme",
        policy_id="default",
        policy_digest="sha256:" + "ab" * 32,
        model=ModelInfo(backend="diffusers", model_id="assay-default"),
        created_at=datetime(2026, 11, 25, tzinfo=UTC),
    )
    base.update(overrides)
    return MarkContext(**base)
