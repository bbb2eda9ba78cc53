"""Review fixtures: a policy that holds every output for review, keys for each role, held generations.

The hold is real: the pipeline runs with a check (``test.person``) that reports a face-like
``real_person`` finding (score 0.9, a box) on each output image and a name span in the prompt;
default.yaml's rule (``real_person: review_at 0.5``) holds the image. Everything after that —
queue, claims, marks on release, ledger — is the production code. Tests that need the real
image checks use ``image.faces`` (dlib) on a photo with a face.

The backend: most review tests need a held image, not a diffusion model, and the tiny random-weight
model takes seconds per image on a busy two-core machine; ``models.testing.PhotoBackend`` returns
crops of a real photo (here only scikit-image's astronaut: it has a face) with the ModelInfo a
backend must give. A module that wants the real model overrides ``review_backend`` with
``tiny_backend``.
"""

from __future__ import annotations

import pytest

from models.testing import PhotoBackend
from tests.gateway.review.support import Keys, install_review_policy


@pytest.fixture(scope="session")
def review_backend() -> PhotoBackend:
    return PhotoBackend(photos=("astronaut",))


@pytest.fixture
def state(settings, review_backend):  # noqa: ANN001, ANN201 - overrides tests/conftest.py's
    from gateway.state import AppState

    st = AppState(settings, backend=review_backend)
    yield st
    st.close()


@pytest.fixture
def keys(state) -> Keys:  # noqa: ANN001
    made = {}
    ids = {}
    for who, tenant, role in [
        ("requester", "acme", "requester"),
        ("reviewer1", "acme", "reviewer"),
        ("reviewer2", "acme", "reviewer"),
        ("other_tenant_reviewer", "globex", "reviewer"),
        ("other_requester", "globex", "requester"),
        ("admin", "ops", "admin"),
    ]:
        key, pub = state.keys.create(tenant, role, name=who)
        made[who] = key
        ids[who] = pub.id
    return Keys(**made, ids=ids)


@pytest.fixture
def held_policy(state) -> None:  # noqa: ANN001
    """acme's policy holds real persons for review; four-eyes applies to real_person."""
    install_review_policy(state, four_eyes=["real_person"])
    install_review_policy(state, four_eyes=["real_person"], tenant="ops")
    install_review_policy(state, four_eyes=[], tenant="globex", policy_id="held-one")
