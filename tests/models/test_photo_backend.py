"""models.testing.PhotoBackend: the shipped fast fake backend (reliability, review, crash tests)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from models.base import GenerationMode, GenerationRequest
from models.testing import PhotoBackend


def test_photo_backend_is_deterministic_and_edits_its_input() -> None:
    backend = PhotoBackend()
    req = GenerationRequest(prompt="x", width=256, height=128, n=3, seed=5)
    a, b = backend.generate(req), backend.generate(req)
    assert [im.size for im in a.images] == [(256, 128)] * 3
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a.images, b.images, strict=True))
    assert len({np.asarray(im).tobytes() for im in a.images}) == 3  # one photo per image index
    assert a.model.model_id == backend.info.model_id and a.model.seeds == [5, 6, 7]
    red = Image.new("RGB", (64, 64), (220, 20, 20))
    edit = backend.generate(
        GenerationRequest(prompt="x", width=64, height=64, n=1, mode=GenerationMode.IMG2IMG, image=red)
    )
    r, g, _ = np.asarray(edit.images[0]).mean(axis=(0, 1))
    assert 120 < r < 220 and g > 20  # the input, less saturated
    faces = PhotoBackend(photos=("astronaut",)).generate(req)
    assert all(np.asarray(im).shape == (128, 256, 3) for im in faces.images)
