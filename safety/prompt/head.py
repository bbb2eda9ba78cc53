"""The classifier head of ``prompt.semantic``: per-category probabilities from a USE window vector.

Why it exists: nearest-exemplar scoring sees one exemplar at a time, so a Chinese paraphrase that is
near no single exemplar scores low even when its vector lies squarely in the region of a category.
A softmax regression (one weight row per class: ``benign`` and the seven risky categories) trained
on every labelled dev prompt of both languages (``benchmarks/train_prompt_head.py``, which records
the data's provenance and its cross-validated figures in the file) reads that region directly. It
costs one 8 x 512 product on the vector the check already computed.

Its probability ``p`` of a category becomes a 0..1 score on the scale of the default policy's
thresholds (review 0.5, block 0.7), through the two probabilities the trainer chose by
cross-validation (``review_at``, ``block_at``)::

    p < review_at            -> 0.5 * p / review_at
    review_at <= p < block_at -> 0.5 + 0.2 * (p - review_at) / (block_at - review_at)
    p >= block_at            -> 0.7 + 0.3 * (p - block_at) / (1 - block_at)

A category the policy reviews and blocks at other scores passes them (``score(p, review, block)``):
every shipped pack reviews ``minors`` at 0.3 and blocks it at 0.5, so on the default scale a head
probability between ``review_at`` and ``block_at`` — the band calibrated to *hold* — would block.

The weights file is a NumPy ``.npz`` (no pickle): ``classes`` (str), ``weights`` (classes x dim,
float32), ``bias`` (classes), ``thresholds`` ([review_at, block_at]) and ``provenance`` (a JSON
string). :func:`load_head` answers a missing, malformed or inconsistent file with a ConfigError
that names the file and what is wrong.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigError
from safety.prompt.exemplars import BENIGN
from safety.verdict import Category

__all__ = ["HEAD_CATEGORIES", "HEAD_FILE", "ClassifierHead", "get_head", "load_head", "save_head"]

#: the categories the head scores (real persons and personal data have checks of their own)
HEAD_CATEGORIES = ("sexual", "minors", "violence", "self_harm", "hate", "extremism", "illegal")
HEAD_FILE = Path(str(resources.files("safety.prompt").joinpath("data/head/use_m3.npz")))


@dataclass(frozen=True)
class ClassifierHead:
    """A loaded head. Immutable; thread-safe."""

    path: Path
    classes: tuple[str, ...]
    weights: np.ndarray  # float32 (classes, dim)
    bias: np.ndarray  # float32 (classes,)
    review_at: float
    block_at: float
    provenance: dict[str, Any]

    @property
    def dim(self) -> int:
        return int(self.weights.shape[1])

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """Softmax probabilities (rows: vectors, columns: ``classes``)."""
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ConfigError(
                f"the classifier head {self.path.name} reads {self.dim}-d vectors, got shape {vectors.shape}",
                hint="the head was trained for another encoder: retrain it (benchmarks/train_prompt_head.py)",
            )
        z = vectors.astype(np.float32) @ self.weights.T + self.bias
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def score(self, p: np.ndarray | float, review: float = 0.5, block: float = 0.7) -> np.ndarray:
        """Probabilities mapped onto the policy scale (see the module docstring): ``review_at`` to
        the score ``review``, ``block_at`` to ``block`` (a category the policy blocks earlier, such
        as minors at 0.5, passes its own)."""
        if not 0.0 < review <= block < 1.0:
            raise ConfigError(
                "the head's policy scale must have 0 < review <= block < 1, "
                f"got review {review}, block {block}"
            )
        p = np.asarray(p, dtype=np.float64)
        r, b = self.review_at, self.block_at
        low = review * p / r
        mid = review + (block - review) * (p - r) / max(b - r, 1e-9)
        high = block + (1.0 - block) * (p - b) / max(1.0 - b, 1e-9)
        return np.clip(np.where(p < r, low, np.where(p < b, mid, high)), 0.0, 1.0)


def _fail(path: Path, what: str) -> ConfigError:
    return ConfigError(
        f"classifier head file {path}: {what}",
        hint="regenerate it with benchmarks/train_prompt_head.py, or set options.multilingual.head: false",
    )


def load_head(path: Path) -> ClassifierHead:
    """Read and validate a head file (see the module docstring for its layout)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            fields = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise _fail(path, "not found") from None
    except (OSError, ValueError, EOFError) as exc:  # not an npz, truncated, pickled arrays
        raise _fail(path, f"not a readable .npz ({exc})") from exc
    missing = [k for k in ("classes", "weights", "bias", "thresholds", "provenance") if k not in fields]
    if missing:
        raise _fail(path, f"missing {', '.join(missing)}")
    classes = tuple(str(c) for c in np.asarray(fields["classes"]).reshape(-1))
    if not classes or classes[0] != BENIGN or len(set(classes)) != len(classes):
        raise _fail(path, f"classes must start with {BENIGN!r} and be distinct, got {list(classes)}")
    known = {c.value for c in Category}
    unknown = [c for c in classes[1:] if c not in known]
    if unknown:
        raise _fail(path, f"unknown categories {unknown}")
    weights = np.asarray(fields["weights"])
    bias = np.asarray(fields["bias"])
    if weights.ndim != 2 or weights.shape[0] != len(classes) or bias.shape != (len(classes),):
        raise _fail(
            path, f"weights {weights.shape} and bias {bias.shape} do not match {len(classes)} classes"
        )
    if not (np.isfinite(weights).all() and np.isfinite(bias).all()):
        raise _fail(path, "weights or bias hold NaN or infinity")
    th = np.asarray(fields["thresholds"], dtype=np.float64).reshape(-1)
    if th.shape != (2,) or not (0.0 < th[0] <= th[1] < 1.0):
        raise _fail(
            path, f"thresholds must be [review_at, block_at] with 0 < review_at <= block_at < 1, got {th}"
        )
    try:
        provenance = json.loads(str(fields["provenance"]))
    except json.JSONDecodeError as exc:
        raise _fail(path, f"provenance is not JSON ({exc})") from exc
    if not isinstance(provenance, dict):
        raise _fail(path, "provenance must be a JSON object")
    return ClassifierHead(
        path=path,
        classes=classes,
        weights=weights.astype(np.float32),
        bias=bias.astype(np.float32),
        review_at=float(th[0]),
        block_at=float(th[1]),
        provenance=provenance,
    )


@lru_cache(maxsize=4)
def get_head(path: Path = HEAD_FILE) -> ClassifierHead:
    """The process-wide head read from ``path`` (default: the built-in one)."""
    return load_head(path)


def save_head(
    path: Path,
    *,
    classes: list[str],
    weights: np.ndarray,
    bias: np.ndarray,
    review_at: float,
    block_at: float,
    provenance: dict[str, Any],
) -> None:
    """Write a head file atomically (the trainer's output; :func:`load_head` reads it back)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    with os.fdopen(fd, "wb") as f:
        np.savez_compressed(
            f,
            classes=np.asarray(classes),
            weights=np.asarray(weights, np.float32),
            bias=np.asarray(bias, np.float32),
            thresholds=np.asarray([review_at, block_at], np.float64),
            provenance=np.asarray(json.dumps(provenance, ensure_ascii=False, sort_keys=True)),
        )
    os.replace(tmp, path)
    load_head(path)  # what was written must read back
