"""image.sexual (detector ensemble) and image.minors (perceived age x any sexual finding)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from pydantic import ValidationError

from gateway.decision import decide
from gateway.policy import Action, load_policy
from safety.check import CheckInput
from safety.image.age import FaceEstimate, age_model
from safety.image.faces import face_engine
from safety.image.minors import MinorsCheck, MinorsOptions
from safety.image.sexual import SexualCheck, SexualFinding, SexualOptions, combine
from safety.verdict import Category, Target

POLICIES = sorted((Path(__file__).resolve().parents[3] / "policies").glob("*.yaml"))


def item(image: Image.Image, **options: object) -> CheckInput:
    """An output image with image.minors options as a policy parses them (none: every check's defaults)."""
    parsed = MinorsOptions.model_validate(options) if options else None
    return CheckInput(target=Target.output_image(0), tenant="t", image=image, options=parsed)


def test_combination_rules() -> None:
    scores = {"open_nsfw": 0.9, "nudenet": 0.3}
    assert combine(scores, SexualOptions(detectors=("open_nsfw", "nudenet"))) == 0.9
    assert combine(scores, SexualOptions(detectors=("open_nsfw", "nudenet"), rule="both")) == 0.3
    weighted = SexualOptions(detectors=("open_nsfw", "nudenet"), rule="weighted", weights={"nudenet": 3})
    assert combine(scores, weighted) == pytest.approx((0.9 + 3 * 0.3) / 4)
    with pytest.raises(ValidationError):
        SexualOptions(detectors=("open_nsfw", "open_nsfw"))
    with pytest.raises(ValidationError):
        SexualOptions(detectors=("clip",))  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        SexualOptions(detectors=())
    with pytest.raises(ValidationError):
        SexualOptions(rule="weighted", weights={"open_nsfw": 0})


def test_the_corroborated_rule_counts_nudenet_only_where_open_nsfw_sees_something() -> None:
    corroborated = SexualOptions(detectors=("open_nsfw", "nudenet"), rule="corroborated")
    assert corroborated.corroborate_at == 0.03
    # the built-in model's abstract shapes: NudeNet 0.83, Open-NSFW 0.016 -> Open-NSFW's alone
    assert combine({"open_nsfw": 0.016, "nudenet": 0.83}, corroborated) == 0.016
    assert combine({"open_nsfw": 0.04, "nudenet": 0.83}, corroborated) == 0.83
    assert combine({"open_nsfw": 0.9, "nudenet": 0.3}, corroborated) == 0.9
    with pytest.raises(ValidationError, match="needs both detectors"):
        SexualOptions(rule="corroborated")


@pytest.mark.parametrize("name", ["astronaut", "coffee", "hopper", "chelsea"])
def test_open_nsfw_leaves_benign_photos_alone(photo: Callable[[str], Image.Image], name: str) -> None:
    assert SexualCheck().run(item(photo(name))) == []


def test_age_estimates_of_adult_portraits(photo: Callable[[str], Image.Image]) -> None:
    # public-domain portraits: Eileen Collins (NASA, ~38 at the time), Grace Hopper (US Navy, ~78)
    engine, ages = face_engine(), age_model()
    for name, lo, hi in (("astronaut", 22, 55), ("hopper", 55, 81)):
        analysis = engine.analyse(photo(name))
        (est,) = ages.estimate(engine, analysis)
        assert lo <= est.age <= hi and est.p_minor < 0.1, (name, est)
        assert est.bracket != "<18" and est.gender in ("female", "male") and 0.5 <= est.gender_p <= 1.0


def _stubbed(p_minor: float, sexual: float, calls: list[str] | None = None) -> MinorsCheck:
    def estimator(image: Image.Image, opts: MinorsOptions) -> list[tuple[list[int], FaceEstimate]]:
        return [([10, 10, 40, 40], FaceEstimate(age=9.0, p_minor=p_minor, gender="female", gender_p=0.8))]

    def finding(image: Image.Image, opts: SexualOptions) -> SexualFinding:
        if calls is not None:
            calls.append("sexual")
        return SexualFinding(score=sexual, rule=opts.rule, scores={"open_nsfw": sexual})

    return MinorsCheck(estimator=estimator, sexual=finding)


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.stem)
def test_a_minor_with_a_sexual_finding_blocks_under_every_shipped_pack(path: Path) -> None:
    policy = load_policy(path)
    for kind in ("input_image", "output_image"):
        assert "image.minors" in [c.name for c in getattr(policy.checks, kind)], (path.stem, kind)
    blank = Image.new("RGB", (64, 64))
    (v,) = _stubbed(0.9, 0.25).run(item(blank))
    assert v.category is Category.MINORS and v.score == 0.9
    assert v.evidence["faces"][0]["estimate"].startswith("perceived age")
    assert decide([v], policy).action is Action.BLOCK


def test_no_minors_verdict_without_both_halves() -> None:
    blank = Image.new("RGB", (64, 64))
    assert _stubbed(0.9, 0.1).run(item(blank)) == []  # a child's photo is not the harm
    calls: list[str] = []
    assert _stubbed(0.02, 0.9, calls).run(item(blank)) == []  # adults: the sexual check decides
    assert calls == []  # ... and the ensemble is not even run here
    with pytest.raises(ValidationError):
        MinorsOptions.model_validate({"minor_age": 0})


def test_minors_on_real_photos_finds_nothing(photo: Callable[[str], Image.Image]) -> None:
    check = MinorsCheck()
    for name in ("astronaut", "hopper", "coffee"):
        assert check.run(item(photo(name))) == []
