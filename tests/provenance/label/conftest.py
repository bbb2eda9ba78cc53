"""Fixtures for the label tests: real photographs (scikit-image) at 512x512 and a mark context."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def photos() -> dict[str, Image.Image]:
    from skimage import data

    out = {}
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        arr = getattr(data, name)()
        out[name] = Image.fromarray(arr).convert("RGB").resize((512, 512), Image.Resampling.BICUBIC)
    return out


@pytest.fixture(scope="session")
def noise_image() -> Image.Image:
    rng = np.random.default_rng(7)
    return Image.fromarray(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8))
