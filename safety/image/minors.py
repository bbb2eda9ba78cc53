"""The ``image.minors`` check: a face that looks under age together with any sexual finding.

Why it exists: sexual content involving a minor in an output or an upload (a reference or control
image) was caught only by the prompt. This check estimates, per detected face, the probability that
the face looks younger than ``minor_age`` (:mod:`safety.image.age`, CC0 networks) and runs the
sexual-content ensemble (:mod:`safety.image.sexual`) on the same image. When the ensemble's score
reaches ``sexual_at`` — deliberately low: *any* sexual finding — the verdict is ``minors`` with the
highest face's under-age probability as its score, so the policy's ``minors`` thresholds decide
(every shipped pack blocks at 0.5 or lower). A child's face with no sexual finding gives no verdict:
photos of children are not the harm; faces are still reported by ``image.faces``.

Ages are the network's estimates of *appearance*; evidence says so and never names an age as fact.
Imports: :mod:`safety.image.faces`, :mod:`safety.image.age`, :mod:`safety.image.sexual`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from core.errors import CheckFailed
from core.plugins import typed_options
from safety.check import CheckInput
from safety.image.age import AgeGenderModel, FaceEstimate, age_model
from safety.image.faces import FaceEngine, FaceOptions, face_engine
from safety.image.sexual import SexualFinding, SexualOptions, sexual_finding
from safety.verdict import Category, TargetKind, Verdict

__all__ = ["MinorsCheck", "MinorsOptions", "build_minors_check"]


class MinorsOptions(BaseModel):
    """Options of ``image.minors`` in a policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the age below which a face counts as a minor's
    minor_age: int = Field(default=18, ge=1, le=30)
    #: the combined sexual score that counts as "a sexual finding" (Open-NSFW calls < 0.2 safe)
    sexual_at: float = Field(default=0.2, ge=0.0, le=1.0)
    #: faces whose under-age probability is below this are not listed in the evidence
    report_at: float = Field(default=0.1, ge=0.0, le=1.0)
    faces: FaceOptions = FaceOptions()
    sexual: SexualOptions = SexualOptions()


Estimator = Callable[[Image.Image, MinorsOptions], list[tuple[list[int], FaceEstimate]]]
Sexual = Callable[[Image.Image, SexualOptions], SexualFinding]


class MinorsCheck:
    """See the module docstring. Thread-safe; the models are process-wide."""

    name: ClassVar[str] = "image.minors"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.INPUT_IMAGE, TargetKind.OUTPUT_IMAGE})

    def __init__(
        self,
        engine: FaceEngine | None = None,
        ages: AgeGenderModel | None = None,
        *,
        estimator: Estimator | None = None,
        sexual: Sexual | None = None,
    ) -> None:
        self._engine = engine
        self._ages = ages
        self._estimator = estimator or self._estimate
        self._sexual = sexual or sexual_finding

    def _estimate(self, image: Image.Image, opts: MinorsOptions) -> list[tuple[list[int], FaceEstimate]]:
        engine = self._engine or face_engine()
        ages = self._ages or age_model()
        analysis = engine.analyse(image, opts.faces)
        estimates = ages.estimate(engine, analysis, minor_age=opts.minor_age)
        return [(f.as_list(), e) for f, e in zip(analysis.faces, estimates, strict=True)]

    def run(self, item: CheckInput) -> list[Verdict]:
        if item.image is None:
            raise CheckFailed(f"{self.name} needs an image (target {item.target})")
        opts = typed_options(item.options, MinorsOptions)
        faces = self._estimator(item.image, opts)
        young = sorted(
            ((box, e) for box, e in faces if e.p_minor >= opts.report_at), key=lambda p: -p[1].p_minor
        )
        if not young:
            return []  # no face that may be a minor's: nothing for this check (sexual runs elsewhere)
        found = self._sexual(item.image, opts.sexual)
        if found.score < opts.sexual_at:
            return []
        box, top = young[0]
        return [
            Verdict(
                check=self.name,
                category=Category.MINORS,
                score=round(min(1.0, top.p_minor), 4),
                target=item.target,
                reason=(
                    f"a face estimated to look under {opts.minor_age} (probability {top.p_minor:.2f}, "
                    f"model estimate) with a sexual finding ({found.score:.2f}, {found.rule})"
                ),
                evidence={
                    "faces": [
                        {
                            "box": b,
                            "p_under_age": round(e.p_minor, 4),
                            "estimated_age": round(e.age, 1),
                            "estimate": "perceived age by a network, not a person's age",
                        }
                        for b, e in young
                    ],
                    "minor_age": opts.minor_age,
                    "sexual": found.evidence() | {"score": round(found.score, 4)},
                },
            )
        ]


def build_minors_check(settings: Any) -> MinorsCheck:  # noqa: ARG001 - the registry passes settings to every factory
    return MinorsCheck()


def describe(v: Verdict) -> str:
    """One line a person reads: how many faces look under age, the youngest estimate (``Entry.describe``)."""
    faces = v.evidence.get("faces") or []
    ages = [float(f["estimated_age"]) for f in faces if isinstance(f, dict) and "estimated_age" in f]
    youngest = f", youngest perceived age {min(ages):.0f}" if ages else ""
    return f"{v.category.value}: {v.score:.2f} ({len(faces)} face(s) perceived under age{youngest})"
