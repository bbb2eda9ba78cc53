"""Registry, policies and the concurrent image stage (safety.runner): the checks as the gateway builds
and runs them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from pydantic import BaseModel

from core.errors import CheckFailed, ComponentError, InvalidRequest
from core.plugins import NoOptions, typed_options
from gateway.decision import decide
from gateway.policy import Action, PolicySet
from safety.check import Check, CheckInput
from safety.registry import BUILTIN_CHECKS, CheckRegistry
from safety.runner import CheckRunner, Step
from safety.verdict import Category, TargetKind, Verdict

REPO = Path(__file__).resolve().parents[3]
IMAGE_CHECKS = (
    "image.nsfw",
    "image.sexual",
    "image.minors",
    "image.faces",
    "image.likeness",
    "image.concepts",
)


def test_checks_are_registered_with_options_models() -> None:
    for name in IMAGE_CHECKS:
        assert name in BUILTIN_CHECKS
        model = BUILTIN_CHECKS[name].options_model()
        assert issubclass(model, BaseModel) and model is not NoOptions


def test_every_policy_pack_runs_the_image_checks_on_inputs_and_outputs() -> None:
    policies = PolicySet.from_dir(REPO / "policies")
    for pol in policies.all():
        for kind in (TargetKind.INPUT_IMAGE, TargetKind.OUTPUT_IMAGE):
            names = [s.name for s in pol.checks.for_target(kind)]
            assert {"image.sexual", "image.minors", "image.faces", "image.likeness"} <= set(names), (
                pol.id,
                kind,
            )
            assert "image.nsfw" not in names, (pol.id, kind)  # NudeNet (AGPL-3.0 licence file) is opt-in
    default = policies.get("default")
    assert default.rule_for(Category.REAL_PERSON).action_for(0.9) is Action.REVIEW
    assert default.rule_for(Category.LIKENESS).action_for(0.5) is Action.BLOCK
    assert policies.get("strict-enterprise").rule_for(Category.REAL_PERSON).action_for(0.9) is Action.BLOCK


def test_registry_builds_each_check_once_and_they_satisfy_the_protocol(settings, database) -> None:
    registry = CheckRegistry(settings)
    for name in IMAGE_CHECKS:
        check = registry.get(name)
        assert isinstance(check, Check) and check.name == name
        assert check.targets == {TargetKind.INPUT_IMAGE, TargetKind.OUTPUT_IMAGE}
        assert registry.get(name) is check


def test_default_policy_on_an_input_portrait_gives_review_naming_the_input(settings, database, photo) -> None:
    registry = CheckRegistry(settings)
    pol = PolicySet.from_dir(REPO / "policies").get("default")
    specs = pol.checks.for_target(TargetKind.INPUT_IMAGE)
    runner = CheckRunner(registry.get)
    try:
        verdicts = runner.run_images(specs, [photo("astronaut")], TargetKind.INPUT_IMAGE, tenant="acme")
    finally:
        runner.close()
    decision = decide(verdicts, pol)
    assert decision.action is Action.REVIEW
    assert [(r.category, r.target, r.check) for r in decision.reasons] == [
        ("real_person", "input_image[0]", "image.faces")
    ]


class _K(BaseModel):
    k: int | None = None


class _Slow:
    targets = frozenset({TargetKind.OUTPUT_IMAGE})

    def __init__(self, label: str, delay: float, fail: bool = False) -> None:
        self.name, self.label, self.delay, self.fail = label, label, delay, fail
        self.threads: list[str] = []

    def run(self, item: CheckInput) -> list[Verdict]:
        self.threads.append(threading.current_thread().name)
        time.sleep(self.delay)
        if self.fail:
            raise CheckFailed(f"{self.label} broke")
        return [
            Verdict(
                check=self.label,
                category=Category.OTHER,
                score=0.1,
                target=item.target,
                evidence={"opt": typed_options(item.options, _K).k},
            )
        ]


def _runner(*checks: _Slow, **kw: object) -> CheckRunner:
    return CheckRunner({c.name: c for c in checks}.__getitem__, **kw)  # type: ignore[arg-type]


def test_stage_runs_checks_concurrently_and_keeps_order() -> None:
    a, b, c = _Slow("a", 0.3), _Slow("b", 0.3), _Slow("c", 0.05)
    img, img2 = Image.new("RGB", (16, 16)), Image.new("RGB", (8, 8))
    timed: list[tuple[str, float]] = []
    runner = _runner(a, b, c, on_latency=lambda name, s: timed.append((name, s)))
    steps = [Step("a", _K(k=1)), Step("b", _K()), Step("c", _K(k=3))]
    t = time.perf_counter()
    out = runner.run_images(steps, [img, img2], TargetKind.OUTPUT_IMAGE, tenant="t")
    runner.close()
    assert time.perf_counter() - t < 1.0  # one after the other: 1.3 s
    assert [v.check for v in out] == ["a", "b", "c", "a", "b", "c"] and out[0].evidence == {"opt": 1}
    assert [str(v.target) for v in out] == ["output_image[0]"] * 3 + ["output_image[1]"] * 3
    assert len({*a.threads, *b.threads}) >= 2
    assert sorted(n for n, _ in timed) == ["a", "a", "b", "b", "c", "c"]
    assert all(s >= 0.04 for _, s in timed)


def test_stage_fails_closed_after_every_call_finished() -> None:
    img = Image.new("RGB", (16, 16))
    a, b = _Slow("a", 0.2), _Slow("b", 0.01, fail=True)
    runner = _runner(a, b)
    with pytest.raises(CheckFailed, match="^b broke$"):
        runner.run_images([Step("a"), Step("b")], [img], TargetKind.OUTPUT_IMAGE, tenant="t")
    assert len(a.threads) == 1  # a ran to its end before the error left
    assert runner.run_images([], [img], TargetKind.OUTPUT_IMAGE, tenant="t") == []
    assert runner.run_images([Step("a")], [], TargetKind.OUTPUT_IMAGE, tenant="t") == []
    runner.close()


class _Raises:
    targets = frozenset(TargetKind)

    def __init__(self, name: str, exc: BaseException) -> None:
        self.name, self.exc = name, exc

    def run(self, item: CheckInput) -> list[Verdict]:
        raise self.exc


@pytest.mark.parametrize(
    ("kind", "exc", "raised"),
    [
        (TargetKind.INPUT_IMAGE, InvalidRequest("bad upload"), InvalidRequest),  # the client's: 4xx
        (TargetKind.OUTPUT_IMAGE, InvalidRequest("bad output"), CheckFailed),  # ours: fail closed
        (TargetKind.OUTPUT_IMAGE, ComponentError("index down"), ComponentError),
        (TargetKind.OUTPUT_IMAGE, ValueError("boom"), CheckFailed),
    ],
)
def test_runner_maps_errors(kind: TargetKind, exc: BaseException, raised: type) -> None:
    runner = CheckRunner({"x": _Raises("x", exc)}.__getitem__)  # type: ignore[dict-item]
    with pytest.raises(raised) as info:
        runner.run_images([Step("x")], [Image.new("RGB", (8, 8))], kind, tenant="t")
    assert type(info.value) is raised
    runner.close()


def test_runner_prefers_the_clients_error_and_redacts_the_prompt() -> None:
    prompt = "a portrait of Jane Q. Example at her desk"
    checks = {
        "a": _Raises("a", ValueError(f"cannot read {prompt!r}")),
        "b": _Raises("b", InvalidRequest("unreadable upload")),
    }
    runner = CheckRunner(checks.__getitem__)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="unreadable upload"):
        runner.run_images(
            [Step("a"), Step("b")], [Image.new("RGB", (8, 8))], TargetKind.INPUT_IMAGE, tenant="t"
        )
    with pytest.raises(CheckFailed) as info:
        runner.run_prompt([Step("a")], prompt, tenant="t")
    assert "Jane" not in info.value.message and "ValueError" in info.value.message
    assert info.value.details == {"check": "a"}
    runner.close()
