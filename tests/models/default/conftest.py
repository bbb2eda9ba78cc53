"""Fixtures for the default model's tests: one untrained pipeline folder per session (fast)."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def untrained_dir(tmp_path_factory: pytest.TempPathFactory):
    from models.default import save_untrained

    torch.set_num_threads(1)
    return save_untrained(tmp_path_factory.mktemp("default-untrained"), seed=0)
