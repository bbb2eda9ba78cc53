"""Fixtures for the near-duplicate tests: real photos on disk, an index store, a built index, a tiny CLIP."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from safety.neardup.builder import build_index
from safety.neardup.sources import read_source
from safety.neardup.store import IndexStore
from safety.neardup.testing import INDEXED_PHOTOS, photo, save_tiny_clip


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The indexed photos as PNG files, plus one corrupt PNG and one text file."""
    d = tmp_path_factory.mktemp("photos")
    for name in INDEXED_PHOTOS:
        photo(name).save(d / f"{name}.png", compress_level=1)
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (d / "README.txt").write_text("not an image")
    return d


@pytest.fixture
def store(tmp_path: Path) -> IndexStore:
    return IndexStore(tmp_path / "indexes")


@pytest.fixture(scope="session")
def built_once(tmp_path_factory: pytest.TempPathFactory, photo_dir: Path) -> Path:
    store = IndexStore(tmp_path_factory.mktemp("built") / "indexes")
    build_index(store, "train", read_source(photo_dir, licence="CC-BY-4.0", owner="scikit-image"), workers=1)
    return store.folder("train")


@pytest.fixture
def built(store: IndexStore, built_once: Path) -> IndexStore:
    """``store`` holding index ``train`` of the indexed photos (pHash + dHash), a fresh copy per test."""
    shutil.copytree(built_once, store.folder("train"))
    return store


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")
