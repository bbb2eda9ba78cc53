"""Shared helpers of the review tests (a real module: test files cannot import a conftest reliably)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from safety.check import CheckInput
from safety.verdict import Category, TargetKind, Verdict

NAME = "Ada Lovelace"
PROMPT = f"a portrait photo of {NAME} reading in a library"


class PersonCheck:
    """Finds "a person" in every output image (a box) and a name span in the prompt."""

    name: ClassVar[str] = "test.person"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.PROMPT, TargetKind.OUTPUT_IMAGE})

    def run(self, item: CheckInput) -> list[Verdict]:
        if item.target.kind is TargetKind.PROMPT:
            start = (item.prompt or "").find(NAME)
            if start < 0:
                return []
            return [
                Verdict(
                    check=self.name,
                    category=Category.REAL_PERSON,
                    score=0.6,
                    target=item.target,
                    reason=f"names a real person: {NAME}",
                    evidence={"start": start, "end": start + len(NAME), "text": NAME, "person": "ada"},
                )
            ]
        w, h = item.image.size
        return [
            Verdict(
                check=self.name,
                category=Category.REAL_PERSON,
                score=0.9,
                target=item.target,
                reason="1 face detected",
                evidence={"count": 1, "faces": [{"box": [w // 4, h // 4, w // 2, h // 2], "score": 0.9}]},
            )
        ]


def install_review_policy(
    state,
    *,
    four_eyes: list[str],
    tenant: str = "acme",
    policy_id: str = "held",  # noqa: ANN001
    keep_rejected: bool = False,
    sla_hours: float = 24,
) -> None:
    from gateway.policy import Policy

    state.checks.add(PersonCheck())
    base = state.policies.get("default").model_dump()
    base.update(
        id=policy_id,
        checks={
            "prompt": [{"name": "test.person"}],
            "input_image": [],
            "output_image": [{"name": "test.person"}],
        },
        review={"four_eyes": four_eyes, "sla_hours": sla_hours, "keep_rejected_images": keep_rejected},
    )
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


def make_held(client, headers: dict[str, str], *, prompt: str = PROMPT, n: int = 1) -> dict:  # noqa: ANN001
    r = client.post(
        "/v1/images/generations",
        headers=headers,
        json={"prompt": prompt, "size": "256x256", "n": n, "seed": 11},
    )
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
