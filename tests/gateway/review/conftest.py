"""Review fixtures: a policy that holds every output for review, keys for each role, held generations.

The hold is real: the pipeline runs with a check (``test.person``) that reports a face-like
``real_person`` finding (score 0.9, a box) on each output image and a name span in the prompt;
default.yaml's rule (``real_person: review_at 0.5``) holds the image. Everything after that —
queue, claims, marks on release, ledger — is the production code. Tests that need the real
image checks use ``image.faces`` (dlib) on a photo with a face.

The backend: most review tests need a held image, not a diffusion model, and the tiny random-weight
model takes seconds per image on a busy two-core machine; ``PhotoBackend`` returns a real photo
(scikit-image's astronaut: it has a face) with the ModelInfo a backend must give. A module that
wants the real model overrides ``review_backend`` with ``tiny_backend``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from models.base import GenerationMode, GenerationRequest, GenerationResult, ModelInfo
from safety.check import CheckInput
from safety.verdict import Category, TargetKind, Verdict

NAME = "Ada Lovelace"
PROMPT = f"a portrait photo of {NAME} reading in a library"


class PhotoBackend:
    """A backend that "generates" a crop of a real photo (deterministic per seed); edits tint the input."""

    def __init__(self) -> None:
        from PIL import Image
        from skimage import data

        self._photo = Image.fromarray(data.astronaut()).convert("RGB")

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(backend="test", model_id="test-photo", revision="1", weights_digest="sha256:" + "0" * 64)

    def check_request(self, request: GenerationRequest) -> None:
        return None

    def generate(self, request: GenerationRequest) -> GenerationResult:
        from PIL import Image, ImageEnhance

        seed = request.seed if request.seed is not None else 0
        images = []
        for i in range(request.n):
            if request.mode is GenerationMode.TXT2IMG:
                off = (seed + i) % 40
                img = self._photo.crop((off, off, 512 - 40 + off, 512 - 40 + off))
            else:
                img = ImageEnhance.Color(request.image).enhance(0.5 + 0.1 * i)
            images.append(img.resize((request.width, request.height), Image.Resampling.BICUBIC))
        model = self.info.model_copy(update={"seed": seed, "seeds": [seed + i for i in range(request.n)],
                                             "width": request.width, "height": request.height})
        return GenerationResult(images=images, model=model, elapsed_s=0.0)


@pytest.fixture(scope="session")
def review_backend() -> PhotoBackend:
    return PhotoBackend()


@pytest.fixture
def state(settings, review_backend):  # noqa: ANN001, ANN201 - overrides tests/conftest.py's
    from gateway.state import AppState

    st = AppState(settings, backend=review_backend)
    yield st
    st.close()


class PersonCheck:
    """Finds "a person" in every output image (a box) and a name span in the prompt."""

    name: ClassVar[str] = "test.person"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.PROMPT, TargetKind.OUTPUT_IMAGE})

    def run(self, item: CheckInput) -> list[Verdict]:
        if item.target.kind is TargetKind.PROMPT:
            start = (item.prompt or "").find(NAME)
            if start < 0:
                return []
            return [Verdict(check=self.name, category=Category.REAL_PERSON, score=0.6, target=item.target,
                            reason=f"names a real person: {NAME}",
                            evidence={"start": start, "end": start + len(NAME), "text": NAME, "person": "ada"})]
        w, h = item.image.size
        return [Verdict(check=self.name, category=Category.REAL_PERSON, score=0.9, target=item.target,
                        reason="1 face detected",
                        evidence={"count": 1, "faces": [{"box": [w // 4, h // 4, w // 2, h // 2], "score": 0.9}]})]


def install_review_policy(state, *, four_eyes: list[str], tenant: str = "acme", policy_id: str = "held",  # noqa: ANN001
                          keep_rejected: bool = False, sla_hours: float = 24) -> None:
    from gateway.policy import Policy

    state.checks.add(PersonCheck())
    base = state.policies.get("default").model_dump()
    base.update(id=policy_id, checks={"prompt": [{"name": "test.person"}], "input_image": [],
                                      "output_image": [{"name": "test.person"}]},
                review={"four_eyes": four_eyes, "sla_hours": sla_hours, "keep_rejected_images": keep_rejected})
    state.policies.add(Policy.model_validate(base))
    state.keys.ensure_tenant(tenant, policy_id)
    state.keys.set_policy(tenant, policy_id)


@dataclass
class Keys:
    requester: str
    reviewer1: str
    reviewer2: str
    other_tenant_reviewer: str
    other_requester: str
    admin: str
    ids: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, who)}"}


@pytest.fixture
def keys(state) -> Keys:  # noqa: ANN001
    made = {}
    ids = {}
    for who, tenant, role in [("requester", "acme", "requester"), ("reviewer1", "acme", "reviewer"),
                              ("reviewer2", "acme", "reviewer"), ("other_tenant_reviewer", "globex", "reviewer"),
                              ("other_requester", "globex", "requester"), ("admin", "ops", "admin")]:
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


def make_held(client, headers: dict[str, str], *, prompt: str = PROMPT, n: int = 1) -> dict:  # noqa: ANN001
    r = client.post("/v1/images/generations", headers=headers,
                    json={"prompt": prompt, "size": "256x256", "n": n, "seed": 11})
    assert r.status_code == 202, r.text[:500]
    body = r.json()
    assert body["data"] == [] and body["assay"]["status"] == "held" and body["assay"]["review_id"]
    return body["assay"]


def ledger_ok(state) -> None:  # noqa: ANN001
    """The whole ledger verifies (what `assay audit verify` runs)."""
    from provenance.ledger.checkpoint import Checkpoints, load_signer
    from provenance.ledger.verify import verify_ledger

    cps = Checkpoints(state.ledger, load_signer(state.settings))
    cps.create()  # a signed checkpoint over everything, so verify checks signatures too
    report = verify_ledger(state.ledger, cps.verifier)
    assert report.ok, report.summary()


def review_records(state, review_id: str) -> list:  # noqa: ANN001
    """The ledger's review records of one review, in log order."""
    out = []
    for i in range(state.ledger.head().size):
        rec = state.ledger.get_index(i)
        if rec.kind == "review" and rec.body.get("review_id") == review_id:
            out.append(rec)
    return out
