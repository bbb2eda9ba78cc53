"""Face detection (dlib) and the ``image.faces`` check.

Why it exists: a photorealistic face in an output may be a real person, and an uploaded photo with a
face is where deep-fake edits start; the policy decides (category ``real_person``) whether that is
allowed, held for review or blocked. The same detections feed the protected-likeness gallery
(:mod:`safety.image.likeness`), so :class:`FaceEngine` is the one home of every dlib call:

* models load once per process (HOG from dlib itself; the CNN detector, the 5-point landmark model
  and the 128-d ResNet from the ``face-recognition-models`` package, found without importing it,
  because its ``__init__`` needs ``pkg_resources``);
* detection runs at a fixed working size (``work_side``), so cost is bounded for large images and
  small faces in small images are still found; boxes are reported in the image's own pixels;
* one analysis per image is shared by the faces and likeness checks running concurrently on it;
* dlib errors become :class:`~core.errors.CheckFailed` here, at the one dlib boundary.
"""

from __future__ import annotations

import importlib.util
import math
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from core.errors import CheckFailed, ConfigError
from core.plugins import typed_options
from safety.check import CheckInput
from safety.verdict import Category, TargetKind, Verdict

Detector = Literal["hog", "cnn"]

_MODEL_FILES = {
    "cnn": "mmod_human_face_detector.dat",
    "landmarks": "shape_predictor_5_face_landmarks.dat",
    "resnet": "dlib_face_recognition_resnet_model_v1.dat",
}


def model_path(kind: str) -> Path:
    """Path of a model file shipped in ``face-recognition-models`` (located without importing it)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the face-recognition-models package is not installed",
            hint="pip install face-recognition-models==0.3.0",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / _MODEL_FILES[kind]
    if not path.is_file():
        raise ConfigError(f"dlib model file missing: {path}", hint="reinstall face-recognition-models")
    return path


class FaceOptions(BaseModel):
    """Options of ``image.faces`` (and the detection part of ``image.likeness``) in a policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: HOG is fast (about 25 ms at 512 px on one core); the CNN finds more poses and is far slower on CPU
    detector: Detector = "hog"
    #: the image's long side is scaled to this before detection (bounded cost, small faces kept)
    work_side: int = Field(default=512, ge=128, le=2048)
    #: extra detector upsampling passes at the working size (each ~4x slower, finds faces ~2x smaller)
    upsample: int = Field(default=0, ge=0, le=2)
    #: report faces scoring at least this (0.5 = the detector's own decision boundary)
    min_score: float = Field(default=0.5, ge=0.0, le=1.0)


@dataclass(frozen=True)
class FaceBox:
    """One detected face, in the analysed image's pixel coordinates."""

    x: int
    y: int
    w: int
    h: int
    #: detector margin (SVM score for HOG, MMOD confidence for CNN); 0 is the detector's boundary
    margin: float

    @property
    def score(self) -> float:
        """Margin mapped to 0..1 with the detector boundary at 0.5 (a logistic of twice the margin)."""
        return 1.0 / (1.0 + math.exp(-2.0 * self.margin))

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


@dataclass
class FaceAnalysis:
    """Faces found in one image, plus what computing their descriptors later needs."""

    faces: list[FaceBox]
    detector: Detector
    _work: np.ndarray = field(repr=False)
    _rects: list[Any] = field(repr=False)
    _descriptors: np.ndarray | None = field(default=None, repr=False)
    _shapes: Any = field(default=None, repr=False)  # dlib 5-point landmarks, computed once
    _chips: dict[tuple[int, float], np.ndarray] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class PerImageMemo:
    """Shares one computation per (image object, key) between threads; forgets it when the image dies.

    Keyed by object identity, not content: hashing a 1024 px image costs ~10 ms, and checks receive
    the same decoded image object, which they never modify.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[tuple[int, Any], Future] = {}
        self._watched: set[int] = set()

    def get(self, image: Image.Image, key: Any, compute: Callable[[], Any]) -> Any:
        k = (id(image), key)
        with self._lock:
            existing = self._futures.get(k)
            owner = existing is None
            fut: Future[Any] = Future() if existing is None else existing
            if owner:
                self._futures[k] = fut
                if id(image) not in self._watched:
                    self._watched.add(id(image))
                    weakref.finalize(image, self._forget, id(image))
        if owner:
            try:
                fut.set_result(compute())
            except BaseException as exc:
                with self._lock:
                    self._futures.pop(k, None)
                fut.set_exception(exc)
        return fut.result()

    def _forget(self, image_id: int) -> None:
        with self._lock:
            self._watched.discard(image_id)
            for k in [k for k in self._futures if k[0] == image_id]:
                del self._futures[k]

    def __len__(self) -> int:
        return len(self._futures)


class FaceEngine:
    """Every dlib call Assay makes. Thread-safe; build one per process with :func:`face_engine`."""

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError as exc:  # pragma: no cover - a packaging error
            raise ConfigError("dlib is not installed", hint="pip install dlib-bin") from exc
        self._dlib = dlib
        # dlib detectors and networks keep scratch state: one instance each, used under its lock.
        # (Building the HOG detector costs ~1 s, so one per thread would cost more than it saves.)
        self._hog = dlib.get_frontal_face_detector()
        self._load_lock = threading.Lock()
        self._models: dict[str, Any] = {}
        self._model_locks: dict[str, threading.Lock] = {k: threading.Lock() for k in (*_MODEL_FILES, "hog")}
        self._memo = PerImageMemo()

    # --- models ---------------------------------------------------------------------------
    def _model(self, kind: str) -> Any:
        m = self._models.get(kind)
        if m is None:
            with self._load_lock:
                m = self._models.get(kind)
                if m is None:
                    path = str(model_path(kind))
                    try:
                        m = {
                            "cnn": self._dlib.cnn_face_detection_model_v1,
                            "landmarks": self._dlib.shape_predictor,
                            "resnet": self._dlib.face_recognition_model_v1,
                        }[kind](path)
                    except RuntimeError as exc:
                        raise ConfigError(f"cannot load dlib model {path}: {exc}") from exc
                    self._models[kind] = m
        return m

    def preload(self, *, detector: Detector = "hog", descriptors: bool = False) -> None:
        """Load models now (start-up) instead of on the first request."""
        if detector == "cnn":
            self._model("cnn")
        if descriptors:
            self._model("landmarks")
            self._model("resnet")

    # --- detection ------------------------------------------------------------------------
    def analyse(self, image: Image.Image, opts: FaceOptions | None = None) -> FaceAnalysis:
        """Detect faces in ``image`` (computed once per image object and option set)."""
        o = opts or FaceOptions()
        key = ("detect", o.detector, o.work_side, o.upsample)
        return self._memo.get(image, key, lambda: self._detect(image, o))

    def _detect(self, image: Image.Image, o: FaceOptions) -> FaceAnalysis:
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        w, h = rgb.size
        scale = o.work_side / max(w, h)
        if abs(scale - 1.0) > 1e-3:
            rgb = rgb.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR)
        work = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
        try:
            if o.detector == "hog":
                with self._model_locks["hog"]:
                    rects, margins, _ = self._hog.run(work, o.upsample, 0.0)
                pairs = list(zip(rects, margins, strict=True))
            else:
                with self._model_locks["cnn"]:
                    found = self._model("cnn")(work, o.upsample)
                pairs = [(d.rect, d.confidence) for d in found]
        except RuntimeError as exc:
            raise CheckFailed(f"dlib face detection failed: {exc}") from exc
        faces, rects = [], []
        for rect, margin in sorted(pairs, key=lambda p: -p[1]):
            box = _to_image_box(rect, scale, w, h, float(margin))
            if box is not None and box.score >= o.min_score:
                faces.append(box)
                rects.append(rect)
        return FaceAnalysis(faces=faces, detector=o.detector, _work=work, _rects=rects)

    def descriptors(self, analysis: FaceAnalysis) -> np.ndarray:
        """128-d dlib ResNet descriptors of the analysed faces, shape (n, 128), float32 (computed once)."""
        with analysis._lock:
            if analysis._descriptors is None:
                if not analysis._rects:
                    analysis._descriptors = np.zeros((0, 128), np.float32)
                else:
                    analysis._descriptors = self._describe(analysis._work, self._landmarks(analysis))
            return analysis._descriptors

    def chips(self, analysis: FaceAnalysis, size: int, padding: float = 0.2) -> np.ndarray:
        """Aligned face chips (dlib's 5-point alignment), shape (n, size, size, 3) uint8 RGB.

        The age and gender networks (:mod:`safety.image.age`) were trained on these chips.
        """
        with analysis._lock:
            key = (size, padding)
            got = analysis._chips.get(key)
            if got is None:
                if not analysis._rects:
                    got = np.zeros((0, size, size, 3), np.uint8)
                else:
                    shapes = self._landmarks(analysis)
                    try:
                        out = [
                            np.asarray(
                                self._dlib.extract_image_chip(
                                    analysis._work, self._dlib.get_face_chip_details(s, size, padding)
                                ),
                                dtype=np.uint8,
                            )
                            for s in shapes
                        ]
                    except RuntimeError as exc:
                        raise CheckFailed(f"dlib face alignment failed: {exc}") from exc
                    got = np.stack(out)
                analysis._chips[key] = got
            return got

    def _landmarks(self, analysis: FaceAnalysis) -> Any:
        """5-point landmarks of the analysed faces (caller holds ``analysis._lock``)."""
        if analysis._shapes is None:
            try:
                with self._model_locks["landmarks"]:
                    predictor = self._model("landmarks")
                    shapes = self._dlib.full_object_detections()
                    for r in analysis._rects:
                        shapes.append(predictor(analysis._work, r))
            except RuntimeError as exc:
                raise CheckFailed(f"dlib face landmarks failed: {exc}") from exc
            analysis._shapes = shapes
        return analysis._shapes

    def _describe(self, work: np.ndarray, shapes: Any) -> np.ndarray:
        try:
            with self._model_locks["resnet"]:
                vecs = self._model("resnet").compute_face_descriptor(work, shapes)
        except RuntimeError as exc:
            raise CheckFailed(f"dlib face descriptor failed: {exc}") from exc
        return np.asarray([np.asarray(v, dtype=np.float32) for v in vecs], dtype=np.float32).reshape(-1, 128)


def _to_image_box(rect: Any, scale: float, w: int, h: int, margin: float) -> FaceBox | None:
    x0 = max(0, int(round(rect.left() / scale)))
    y0 = max(0, int(round(rect.top() / scale)))
    x1 = min(w, int(round((rect.right() + 1) / scale)))
    y1 = min(h, int(round((rect.bottom() + 1) / scale)))
    if x1 <= x0 or y1 <= y0:
        return None
    return FaceBox(x0, y0, x1 - x0, y1 - y0, margin)


_ENGINE: FaceEngine | None = None
_ENGINE_LOCK = threading.Lock()


def face_engine() -> FaceEngine:
    """The process-wide :class:`FaceEngine` (models load once; faces and likeness share analyses)."""
    global _ENGINE
    if _ENGINE is None:
        with _ENGINE_LOCK:
            if _ENGINE is None:
                _ENGINE = FaceEngine()
    return _ENGINE


class FacesCheck:
    """``image.faces``: one ``real_person`` verdict per image with faces; boxes and count as evidence."""

    name: ClassVar[str] = "image.faces"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.INPUT_IMAGE, TargetKind.OUTPUT_IMAGE})

    def __init__(self, engine: FaceEngine | None = None) -> None:
        self.engine = engine or face_engine()

    def run(self, item: CheckInput) -> list[Verdict]:
        if item.image is None:
            raise CheckFailed(f"{self.name} needs an image (target {item.target})")
        opts = typed_options(item.options, FaceOptions)
        analysis = self.engine.analyse(item.image, opts)
        if not analysis.faces:
            return []
        top = analysis.faces[0]
        n = len(analysis.faces)
        return [
            Verdict(
                check=self.name,
                category=Category.REAL_PERSON,
                score=top.score,
                target=item.target,
                reason=f"{n} face{'s' if n != 1 else ''} detected",
                evidence={
                    "count": n,
                    "detector": analysis.detector,
                    "faces": [{"box": f.as_list(), "score": round(f.score, 4)} for f in analysis.faces],
                },
            )
        ]


def build_faces_check(settings: Any) -> FacesCheck:  # noqa: ARG001 - the registry passes settings to every factory
    return FacesCheck()


def describe(v: Verdict) -> str:
    """One line a person reads: how many faces, where, how sure (the registry's ``describe``)."""
    ev = v.evidence
    boxes = ", ".join("({},{},{},{})".format(*f["box"]) for f in ev.get("faces", []))
    return f"faces: {ev.get('count', 0)} at {boxes} ({v.category.value} {v.score:.2f})"
