"""Nudity detection with NudeNet's ONNX detector and the ``image.nsfw`` check.

Why it exists: a generated or uploaded image showing sexual content must be found whatever the
prompt said. NudeNet ships its detector (a small YOLO, ``320n.onnx``) inside the ``nudenet`` package,
so it runs offline with no download. :class:`NudeNetDetector` runs that model with its own session
(thread count set for a shared 2-core budget) and reproduces the package's pre- and post-processing
exactly (a test compares it with ``nudenet.NudeDetector``), vectorised, so it can take a decoded PIL
image instead of a file. Detections of exposed and, at a lower weight, covered intimate body parts
map to the shared category ``sexual``; the verdict lists each detection's label, score and box.
onnxruntime errors become :class:`~core.errors.CheckFailed` here, at the one onnxruntime boundary.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import CheckFailed, ConfigError
from core.plugins import typed_options
from safety.check import CheckInput
from safety.verdict import Category, TargetKind, Verdict

#: the detector's classes, in the order of its output channels (from nudenet/nudenet.py)
LABELS: tuple[str, ...] = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
EXPLICIT_LABELS = frozenset(
    {
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "ANUS_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "BUTTOCKS_EXPOSED",
    }
)
SUGGESTIVE_LABELS = frozenset(
    {"FEMALE_GENITALIA_COVERED", "ANUS_COVERED", "FEMALE_BREAST_COVERED", "BUTTOCKS_COVERED"}
)

_INPUT_SIZE = 320
_CANDIDATE_MIN = 0.2  # nudenet keeps boxes whose best class scores >= 0.2 ...
_NMS_SCORE, _NMS_IOU = 0.25, 0.45  # ... then class-agnostic NMS with these


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: tuple[int, int, int, int]  # x, y, w, h in image pixels


def model_file() -> Path:
    """The ONNX model inside the installed ``nudenet`` package."""
    spec = importlib.util.find_spec("nudenet")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the nudenet package is not installed", hint="pip install 'nudenet>=3.4,<4'")
    path = Path(next(iter(spec.submodule_search_locations))) / "320n.onnx"
    if not path.is_file():
        raise ConfigError(f"NudeNet model missing: {path}", hint="reinstall nudenet")
    return path


class NudeNetDetector:
    """NudeNet's detector on decoded images. Thread-safe (an onnxruntime session may run concurrently)."""

    def __init__(self, model_path: str | Path | None = None, *, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads  # image checks run side by side; one core each
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        path = str(model_path or model_file())
        try:
            self._session = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
            raise ConfigError(f"cannot load the NudeNet model {path}: {exc}") from exc
        self._input = self._session.get_inputs()[0].name

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """Pad right/bottom to a square, resize to 320, scale to 0..1, channels as nudenet feeds them.

        nudenet reads files with OpenCV (BGR), applies ``COLOR_RGBA2BGR`` (a swap to RGB for 3
        channels) and ``blobFromImage(swapRB=True)``: the model sees B, G, R planes.
        """
        import cv2

        rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"), dtype=np.uint8)
        h, w = rgb.shape[:2]
        side = max(h, w)
        padded = np.zeros((side, side, 3), np.uint8)
        padded[:h, :w] = rgb
        small = cv2.resize(padded, (_INPUT_SIZE, _INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
        return np.ascontiguousarray(small[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0)

    def detect(self, image: Image.Image) -> list[Detection]:
        blob = self.preprocess(image)
        try:
            (out,) = self._session.run(None, {self._input: blob})[:1]
        except Exception as exc:  # noqa: BLE001
            raise CheckFailed(f"NudeNet inference failed: {exc}") from exc
        return _postprocess(out, image.size)


def _postprocess(output: np.ndarray, size: tuple[int, int]) -> list[Detection]:
    import cv2

    w, h = size
    side = max(w, h)
    rows = np.squeeze(output).T  # (candidates, 4 + classes)
    cls_scores = rows[:, 4:]
    best = cls_scores.max(axis=1)
    keep = best >= _CANDIDATE_MIN
    if not keep.any():
        return []
    rows, best, cls = rows[keep], best[keep], cls_scores[keep].argmax(axis=1)
    cx, cy, bw, bh = (rows[:, i].astype(np.float64) * side / _INPUT_SIZE for i in range(4))
    x = np.clip(cx - bw / 2, 0, w)
    y = np.clip(cy - bh / 2, 0, h)
    bw = np.minimum(bw, w - x)
    bh = np.minimum(bh, h - y)
    boxes = np.stack([x, y, bw, bh], axis=1)
    idx = cv2.dnn.NMSBoxes(boxes.tolist(), best.astype(float).tolist(), _NMS_SCORE, _NMS_IOU)
    return [
        Detection(LABELS[int(cls[i])], float(best[i]), tuple(int(v) for v in boxes[i]))  # type: ignore[arg-type]
        for i in np.asarray(idx).reshape(-1)
    ]


class NsfwOptions(BaseModel):
    """Options of ``image.nsfw`` in a policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: detections below this score are ignored (NudeNet's own NMS floor is 0.25)
    min_detection_score: float = Field(default=0.3, ge=0.0, le=1.0)
    #: labels whose detection score counts fully toward ``sexual``
    explicit_labels: frozenset[str] = EXPLICIT_LABELS
    #: labels that count at ``suggestive_weight`` (covered intimate parts)
    suggestive_labels: frozenset[str] = SUGGESTIVE_LABELS
    suggestive_weight: float = Field(default=0.5, ge=0.0, le=1.0)

    @field_validator("explicit_labels", "suggestive_labels")
    @classmethod
    def _known(cls, v: frozenset[str]) -> frozenset[str]:
        unknown = set(v) - set(LABELS)
        if unknown:
            raise ValueError(f"unknown NudeNet labels {sorted(unknown)}; known: {', '.join(LABELS)}")
        return frozenset(v)


def weigh(detections: list[Detection], opts: NsfwOptions) -> list[tuple[float, Detection]]:
    """Detections that count toward ``sexual``, each with its weighted score, best first."""
    weighted: list[tuple[float, Detection]] = []
    for d in detections:
        if d.score < opts.min_detection_score:
            continue
        if d.label in opts.explicit_labels:
            weighted.append((d.score, d))
        elif d.label in opts.suggestive_labels:
            weighted.append((d.score * opts.suggestive_weight, d))
    return sorted(weighted, key=lambda p: -p[0])


class NsfwCheck:
    """``image.nsfw``: a ``sexual`` verdict when NudeNet finds intimate body parts.

    score = max over mapped detections of (detection score x label weight); evidence lists every
    mapped detection (label, score, box) so a reviewer sees where.
    """

    name: ClassVar[str] = "image.nsfw"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.INPUT_IMAGE, TargetKind.OUTPUT_IMAGE})

    def __init__(self, detector: NudeNetDetector | None = None) -> None:
        self.detector = detector or NudeNetDetector()

    def run(self, item: CheckInput) -> list[Verdict]:
        if item.image is None:
            raise CheckFailed(f"{self.name} needs an image (target {item.target})")
        opts = typed_options(item.options, NsfwOptions)
        weighted = weigh(self.detector.detect(item.image), opts)
        if not weighted:
            return []
        score, top = weighted[0]
        return [
            Verdict(
                check=self.name,
                category=Category.SEXUAL,
                score=min(1.0, score),
                target=item.target,
                reason=f"NudeNet found {top.label.lower().replace('_', ' ')} ({top.score:.2f})",
                evidence={
                    "detections": [
                        {
                            "label": d.label,
                            "score": round(d.score, 4),
                            "weighted": round(s, 4),
                            "box": list(d.box),
                        }
                        for s, d in weighted
                    ]
                },
            )
        ]


_LOCK = threading.Lock()
_DETECTOR: NudeNetDetector | None = None


def nudenet_detector() -> NudeNetDetector:
    """The process-wide NudeNet session (image.nsfw, image.sexual and image.minors share it)."""
    global _DETECTOR
    with _LOCK:
        if _DETECTOR is None:
            _DETECTOR = NudeNetDetector()
        return _DETECTOR


def build_nsfw_check(settings: Any) -> NsfwCheck:  # noqa: ARG001 - the registry passes settings to every factory
    """Registry factory: one NudeNet session per process."""
    return NsfwCheck(nudenet_detector())


def describe(v: Verdict) -> str:
    """One line a person reads: the category, the score and each detection (the registry's ``describe``)."""
    labels = ", ".join(f"{d['label']} {d['score']:.2f}" for d in v.evidence.get("detections", []))
    return f"{v.category.value}: {v.score:.2f} ({labels})"
