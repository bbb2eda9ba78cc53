"""Perceived age and gender of detected faces: model estimates, never identity.

Why it exists: "sexual content involving a minor" in an output or an upload was caught only by the
prompt. :class:`AgeGenderModel` gives, per face found by :class:`safety.image.faces.FaceEngine`,
the probability that the face looks under a given age and a perceived-gender estimate; the
``image.minors`` check (:mod:`safety.image.minors`) combines the first with the sexual-content
detectors, and bias monitoring aggregates both. These are *estimates of appearance* made by a
network, reported as such: no verdict or report may present them as a person's age or gender.

The networks are dlib's CC0 age predictor and gender classifier (Cydral Technology), as ONNX,
shipped in ``safety/image/data/age`` (see NOTICE.md there for source, licence and digests). They
read dlib's 5-point aligned chips, which the face engine produces from its own detections, so a
face is detected and aligned once for faces, likeness, age and gender.

Imports: numpy, onnxruntime (lazily), :mod:`core.errors`, :mod:`safety.image.faces`. onnxruntime
errors become ConfigError (loading) or CheckFailed (inference) here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import CheckFailed, ConfigError
from safety.image.faces import FaceAnalysis, FaceEngine

__all__ = ["AGE_CLASSES", "AgeGenderModel", "FaceEstimate", "age_model", "model_dir"]

#: the age each of the 81 output classes stands for (class 0 is a newborn)
AGE_CLASSES = np.asarray([0.25, *range(1, 81)], dtype=np.float32)
_MEANS = np.asarray([122.781998, 117.000999, 104.297997], dtype=np.float32)
_AGE_SIZE, _GENDER_SIZE, _PADDING = 64, 32, 0.2
_GENDERS = ("female", "male")


def model_dir() -> Path:
    return Path(str(resources.files("safety.image").joinpath("data/age")))


@dataclass(frozen=True)
class FaceEstimate:
    """What the networks estimate from one face's appearance."""

    #: expected perceived age in years (the probability-weighted mean over the 81 classes)
    age: float
    #: probability mass of the classes below the ``minor_age`` asked for
    p_minor: float
    #: perceived gender ("female" / "male") and the network's probability for it
    gender: str
    gender_p: float

    @property
    def bracket(self) -> str:
        """A coarse bracket for reports: under 18, 18-29, 30-44, 45-64, 65+."""
        a = self.age
        return "<18" if a < 18 else "18-29" if a < 30 else "30-44" if a < 45 else "45-64" if a < 65 else "65+"


class AgeGenderModel:
    """The two ONNX networks, one session each (thread-safe: ONNX Runtime sessions are)."""

    def __init__(self, directory: Path | None = None, *, threads: int = 1) -> None:
        d = directory or model_dir()
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - a packaging error
            raise ConfigError("onnxruntime is not installed", hint="pip install onnxruntime") from exc
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self._sessions: dict[str, Any] = {}
        for kind in ("age", "gender"):
            path = d / f"{kind}-v1.onnx"
            if not path.is_file():
                raise ConfigError(f"the {kind} model is missing: {path}", hint="reinstall assay")
            try:
                self._sessions[kind] = ort.InferenceSession(
                    str(path), sess_options=opts, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # noqa: BLE001 - the onnxruntime boundary
                raise ConfigError(f"cannot load {path}: {exc}") from exc

    def _run(self, kind: str, chips: np.ndarray) -> np.ndarray:
        x = (chips.astype(np.float32) - _MEANS) / np.float32(256.0)
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        try:
            return np.asarray(self._sessions[kind].run(None, {"images": x})[0], dtype=np.float32)
        except Exception as exc:  # noqa: BLE001 - the onnxruntime boundary
            raise CheckFailed(f"the {kind} network failed: {exc}") from exc

    def age_probabilities(self, chips: np.ndarray) -> np.ndarray:
        """(n, 81) class probabilities for (n, 64, 64, 3) uint8 chips."""
        if len(chips) == 0:
            return np.zeros((0, len(AGE_CLASSES)), np.float32)
        return self._run("age", chips)

    def gender_probabilities(self, chips: np.ndarray) -> np.ndarray:
        """(n, 2) probabilities (female, male) for (n, 32, 32, 3) uint8 chips."""
        if len(chips) == 0:
            return np.zeros((0, 2), np.float32)
        return self._run("gender", chips)

    def estimate(
        self, engine: FaceEngine, analysis: FaceAnalysis, *, minor_age: int = 18
    ) -> list[FaceEstimate]:
        """One estimate per face of ``analysis``, in its order."""
        if not analysis.faces:
            return []
        ages = self.age_probabilities(engine.chips(analysis, _AGE_SIZE, _PADDING))
        genders = self.gender_probabilities(engine.chips(analysis, _GENDER_SIZE, _PADDING))
        under = AGE_CLASSES < minor_age
        out = []
        for a, g in zip(ages, genders, strict=True):
            k = int(g.argmax())
            out.append(
                FaceEstimate(
                    age=float(a @ AGE_CLASSES),
                    p_minor=float(a[under].sum()),
                    gender=_GENDERS[k],
                    gender_p=float(g[k]),
                )
            )
        return out


_MODEL: AgeGenderModel | None = None
_LOCK = threading.Lock()


def age_model() -> AgeGenderModel:
    """The process-wide age and gender networks (load once, ~0.2 s)."""
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            _MODEL = AgeGenderModel()
        return _MODEL
