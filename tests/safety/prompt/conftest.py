"""Fixtures of the prompt-check tests: each check built once per test session (models load once)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from pydantic import BaseModel

from safety.check import CheckInput  # noqa: E402
from safety.verdict import Target  # noqa: E402


@pytest.fixture(scope="session")
def prompt_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory shared by the session's checks (the semantic check caches exemplar vectors here)."""
    return tmp_path_factory.mktemp("prompt-data")


@pytest.fixture(scope="session")
def lexicon(prompt_data_dir: Path):
    from safety.prompt.lexicon import LexiconCheck

    return LexiconCheck(prompt_data_dir)


@pytest.fixture(scope="session")
def persons(prompt_data_dir: Path):
    from safety.prompt.persons import PersonsCheck

    return PersonsCheck(prompt_data_dir)


@pytest.fixture(scope="session")
def pii():
    from safety.prompt.pii import PiiCheck

    return PiiCheck()


@pytest.fixture(scope="session")
def semantic(prompt_data_dir: Path, request: pytest.FixtureRequest):
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
    from safety.prompt.semantic import SemanticCheck

    # exemplar vectors survive between test sessions in pytest's cache (keyed by encoder and texts,
    # so an edited exemplar file is embedded again): embedding them costs ~10 s on two busy cores
    cache = prompt_data_dir / "cache"
    cache.mkdir(exist_ok=True)
    pytest_cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    link = cache / "prompt-semantic"
    # the benign-context model (safety.prompt.context) may have made the folder already
    if pytest_cache is not None and not (link.exists() or link.is_symlink()):
        link.symlink_to(pytest_cache.mkdir("prompt-semantic"), target_is_directory=True)
    return SemanticCheck(prompt_data_dir)


def item(prompt: str | None, *, tenant: str = "t1", options: BaseModel | None = None) -> CheckInput:
    """A prompt check's input; ``options`` parsed as a policy would (None: the check's defaults)."""
    return CheckInput(target=Target.prompt(), tenant=tenant, prompt=prompt, options=options)


@pytest.fixture
def make_item():
    return item
