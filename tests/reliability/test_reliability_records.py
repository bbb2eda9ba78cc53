"""A refused request is evidence too: blocked prompts and blocked outputs are recorded with their
reasons (Interim Measures Art. 14: keep records of illegal content; Deep Synthesis Art. 10), and
nothing of them is released."""

from __future__ import annotations

from typing import ClassVar

from reliability_support import install_lean_policy, install_variant, ledger_report, released_rows

from safety.check import CheckInput
from safety.verdict import Category, TargetKind, Verdict


class _Flags:
    """Flags prompts containing "forbidden" (prompt) and every output image when asked to (image)."""

    name: ClassVar[str] = "test.flags"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.PROMPT, TargetKind.OUTPUT_IMAGE})

    def run(self, item: CheckInput) -> list[Verdict]:
        if item.target.kind is TargetKind.PROMPT:
            hit = "forbidden" in (item.prompt or "")
            return (
                [
                    Verdict(
                        check=self.name,
                        category=Category.EXTREMISM,
                        score=0.95,
                        target=item.target,
                        reason="test term",
                        evidence={"term": "forbidden"},
                    )
                ]
                if hit
                else []
            )
        if getattr(item.options, "block_images", False):  # OpenOptions: no entry describes test.flags
            return [
                Verdict(
                    check=self.name,
                    category=Category.SEXUAL,
                    score=0.99,
                    target=item.target,
                    reason="test finding on the image",
                    evidence={"box": [0, 0, 8, 8]},
                )
            ]
        return []


def _policy(state, *, block_images: bool) -> None:  # noqa: ANN001
    install_lean_policy(state, prompt_storage="digest")
    state.checks.add(_Flags())
    install_variant(
        state,
        "lean",
        "lean-flags",
        checks={
            "prompt": [{"name": "test.flags"}],
            "input_image": [],
            "output_image": [{"name": "test.flags", "options": {"block_images": block_images}}],
        },
    )


def test_a_blocked_prompt_is_recorded_with_its_reasons_and_nothing_runs(
    client, auth, state, monkeypatch
) -> None:
    _policy(state, block_images=False)
    called = []
    monkeypatch.setattr(state.backend, "generate", lambda req: called.append(req))
    r = client.post(
        "/v1/images/generations", headers=auth, json={"prompt": "a forbidden banner", "size": "256x256"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "content_policy_violation"
    assert "data" not in r.json() and called == [], "the model ran for a blocked prompt"
    rec = state.ledger.get(r.json()["assay"]["record_id"])
    assert rec.decision == "block" and rec.categories == ["extremism"]
    assert rec.body["decision"]["reasons"] and rec.body["verdicts"][0]["check"] == "test.flags"
    assert rec.prompt is None and rec.prompt_digest  # digest-only policy: the digest is the evidence
    assert released_rows(state) == [] and ledger_report(state).ok


def test_blocked_outputs_are_recorded_and_never_marked_or_stored(client, auth, state) -> None:
    _policy(state, block_images=True)
    r = client.post(
        "/v1/images/generations", headers=auth, json={"prompt": "a harbour", "size": "256x256", "n": 2}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "content_policy_violation"
    rec = state.ledger.get(r.json()["assay"]["record_id"])
    assert rec.decision == "block" and rec.body["status"] == "blocked"
    assert [o["action"] for o in rec.body["outputs"]] == ["block", "block"]
    assert all(o["blob"] is None and o["sha256"] is None and not o["marks"] for o in rec.body["outputs"])
    assert rec.body["model"]["model_id"]  # what produced the refused images is on record
    assert released_rows(state) == [] and ledger_report(state).ok
    assert not any(p.is_file() for p in state.settings.blob_dir.rglob("*"))
