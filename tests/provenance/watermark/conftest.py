"""Fixtures for the watermark tests (helpers live in wm_support.py)."""

from __future__ import annotations

import pytest
from PIL import Image
from wm_support import photo

from provenance.watermark import embed_watermark, payload_for

RECORD = "01JDQ3V6ZK7C3M5W0Y8N2P4R6T"


@pytest.fixture(scope="session")
def photos() -> dict[str, Image.Image]:
    """Four real photographs at 512x512: a portrait, a still life, a cat, an outdoor scene."""
    return {n: photo(n) for n in ("astronaut", "coffee", "chelsea", "rocket")}


@pytest.fixture(scope="session")
def marked(photos: dict[str, Image.Image]) -> dict[str, tuple[Image.Image, int]]:
    """Each photo marked with its own payload: name -> (marked image, payload)."""
    out = {}
    for i, (name, img) in enumerate(photos.items()):
        payload = payload_for(RECORD, i)
        out[name] = (embed_watermark(img, payload).image, payload)
    return out
