"""Registry, policies and the concurrent image stage: the checks as the gateway builds and runs them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from core.errors import CheckFailed
from gateway.decision import decide
from gateway.policy import Action, PolicySet
from safety.check import Check, CheckInput
from safety.image.stage import run_image_checks, warm_up
from safety.registry import BUILTIN_CHECKS, CheckRegistry, options_model
from safety.verdict import Category, Target, TargetKind, Verdict

REPO = Path(__file__).resolve().parents[3]
IMAGE_CHECKS = ("image.nsfw", "image.faces", "image.likeness", "image.concepts")


def test_checks_are_registered_with_options_models() -> None:
    for name in IMAGE_CHECKS:
        assert name in BUILTIN_CHECKS
        model = options_model(name)
        assert model is not None and hasattr(model, "model_validate")


def test_every_policy_pack_runs_the_image_checks_on_inputs_and_outputs() -> None:
    policies = PolicySet.from_dir(REPO / "policies")
    for pol in policies.all():
        for kind in (TargetKind.INPUT_IMAGE, TargetKind.OUTPUT_IMAGE):
            names = [s.name for s in pol.checks.for_target(kind)]
            assert {"image.nsfw", "image.faces", "image.likeness"} <= set(names), (pol.id, kind)
    default = policies.get("default")
    assert default.rule_for(Category.REAL_PERSON).action_for(0.9) is Action.REVIEW
    assert default.rule_for(Category.LIKENESS).action_for(0.5) is Action.BLOCK
    assert policies.get("strict-enterprise").rule_for(Category.REAL_PERSON).action_for(0.9) is Action.BLOCK


def test_registry_builds_each_check_once_and_they_satisfy_the_protocol(settings, database) -> None:
    registry = CheckRegistry(settings)
    for name in ("image.nsfw", "image.faces", "image.likeness", "image.concepts"):
        check = registry.get(name)
        assert isinstance(check, Check) and check.name == name
        assert check.targets == {TargetKind.INPUT_IMAGE, TargetKind.OUTPUT_IMAGE}
        assert registry.get(name) is check


def test_default_policy_on_an_input_portrait_gives_review_naming_the_input(settings, database, photo) -> None:
    registry = CheckRegistry(settings)
    pol = PolicySet.from_dir(REPO / "policies").get("default")
    specs = pol.checks.for_target(TargetKind.INPUT_IMAGE)
    checks = [(registry.get(s.name), s.options) for s in specs]
    verdicts = run_image_checks(checks, photo("astronaut"), target=Target.input_image(0), tenant="acme")
    decision = decide(verdicts, pol)
    assert decision.action is Action.REVIEW
    assert [(r.category, r.target, r.check) for r in decision.reasons] == [
        ("real_person", "input_image[0]", "image.faces")
    ]


class _Slow:
    name = "test.slow"
    targets = frozenset({TargetKind.OUTPUT_IMAGE})

    def __init__(self, label: str, delay: float, fail: bool = False) -> None:
        self.label, self.delay, self.fail = label, delay, fail
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
                evidence={"opt": item.options.get("k")},
            )
        ]


def test_stage_runs_checks_concurrently_and_keeps_order() -> None:
    a, b, c = _Slow("a", 0.3), _Slow("b", 0.3), _Slow("c", 0.05)
    img = Image.new("RGB", (16, 16))
    t = time.perf_counter()
    out = run_image_checks(
        [(a, {"k": 1}), (b, {}), (c, {"k": 3})], img, target=Target.output_image(1), tenant="t"
    )
    assert time.perf_counter() - t < 0.55
    assert [v.check for v in out] == ["a", "b", "c"] and out[0].evidence == {"opt": 1}
    assert str(out[2].target) == "output_image[1]"
    assert len({*a.threads, *b.threads}) == 2


def test_stage_fails_closed() -> None:
    img = Image.new("RGB", (16, 16))
    with pytest.raises(CheckFailed, match="b broke"):
        run_image_checks(
            [(_Slow("a", 0.01), {}), (_Slow("b", 0.01, fail=True), {})],
            img,
            target=Target.output_image(0),
            tenant="t",
        )
    assert run_image_checks([], img, target=Target.output_image(0), tenant="t") == []


def test_warm_up_runs_every_check(settings, database) -> None:
    registry = CheckRegistry(settings)
    slow = _Slow("s", 0.0)
    warm_up([(registry.get("image.nsfw"), {}), (registry.get("image.faces"), {}), (slow, {})])
    assert len(slow.threads) == 1
