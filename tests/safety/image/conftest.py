"""Fixtures for the image-safety tests: real photographs, encoders, a likeness gallery on both databases."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gateway.store import migrate

DATA = Path(__file__).resolve().parent / "data"


def _skimage(name: str) -> Image.Image:
    import skimage.data

    arr = getattr(skimage.data, name)()
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    return Image.fromarray(np.ascontiguousarray(arr[..., :3]).astype(np.uint8), "RGB")


@pytest.fixture(scope="session")
def photo() -> Callable[[str], Image.Image]:
    """A real photograph by name: a scikit-image sample or ``hopper`` (tests/.../data/grace_hopper.jpg)."""
    cache: dict[str, Image.Image] = {}

    def get(name: str) -> Image.Image:
        if name not in cache:
            cache[name] = (
                Image.open(DATA / "grace_hopper.jpg").convert("RGB") if name == "hopper" else _skimage(name)
            )
        return cache[name].copy()

    return get


@pytest.fixture(scope="session")
def hopper_bytes() -> bytes:
    return (DATA / "grace_hopper.jpg").read_bytes()


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="session")
def enc() -> Callable[..., bytes]:
    """``enc(image, "JPEG", quality=60)`` -> the encoded bytes."""
    return encode


@pytest.fixture
def gallery(database) -> object:  # noqa: ANN001
    """A likeness gallery on SQLite and PostgreSQL, in a database migrated as in production."""
    from safety.image.likeness import LikenessGallery

    return LikenessGallery(database)


@pytest.fixture
def sqlite_gallery(tmp_path: Path) -> Iterator[object]:
    """A likeness gallery on SQLite only: for tests whose subject is recognition, not storage."""
    from core.store import Database
    from safety.image.likeness import LikenessGallery

    db = Database(f"sqlite:///{tmp_path / 'gallery.db'}")
    migrate(db)
    yield LikenessGallery(db)
    db.dispose()


@pytest.fixture(scope="session")
def face_vectors(photo) -> dict[str, np.ndarray]:
    """dlib descriptors of the portraits, computed once: ``astronaut`` and ``hopper``."""
    from safety.image.faces import face_engine

    engine = face_engine()
    return {n: engine.descriptors(engine.analyse(photo(n)))[0] for n in ("astronaut", "hopper")}
