"""Fixtures for the C2PA tests: a throwaway PKI (good and bad credentials) and settings pointing at it."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from core.settings import Settings
from provenance.testing import TestPki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def photo() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut()).convert("RGB")


@pytest.fixture
def make_settings(tmp_path: Path):  # noqa: ANN201
    def make(*, start_up_rules: bool = True, **kw) -> Settings:  # noqa: ANN003
        """``start_up_rules=False`` builds them past Settings' production validator (``model_construct``),
        to test the refusals of the loaders behind it (the second line of defence)."""
        if not start_up_rules:
            return Settings.model_construct(data_dir=tmp_path / "data", **kw)
        return Settings(data_dir=tmp_path / "data", **kw)

    return make
