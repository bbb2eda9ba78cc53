"""Reliability fixtures: the lead's gateway (tests/conftest.py) with a fast photo-crop backend and a
lean policy (every mark, no content checks)."""

from __future__ import annotations

import pytest
from reliability_support import install_lean_policy

from models.testing import PhotoBackend


@pytest.fixture(scope="session")
def tiny_backend() -> PhotoBackend:
    """Overrides the lead's diffusion model here: these tests are about the gateway around a backend."""
    return PhotoBackend()


@pytest.fixture
def lean_auth(state, auth):  # noqa: ANN001, ANN201
    """Authorization header of a requester whose tenant uses the lean policy (all marks, no checks)."""
    install_lean_policy(state)
    return auth
