"""A deterministic analyser that reads a default-model image back into attributes.

Why: prompt adherence of the default model is measured, not eyeballed. The analyser names the
background colour (the border's median, and whether the border is clean), the foreground colour
(median of the pixels that differ from the background), the position (centroid of those pixels,
nearest anchor) and the shape (nearest neighbours among masks rendered by the training-data
generator itself, so the analyser knows exactly the shapes the model was taught). Everything is
numpy and fixed seeds: the same image always gets the same reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from models.default.concepts import COLOUR_NAMES, COLOURS, POSITION_ANCHORS, SHAPES
from models.default.data import random_scene, render

ANALYSIS_SIZE = 32
_PALETTE = np.array([c.rgb for c in COLOURS], dtype=np.float32)
#: A pixel this far (RGB Euclidean) from the background colour belongs to the object.
FOREGROUND_DISTANCE = 60.0
#: A border pixel this close to the background's palette colour counts as clean.
CLEAN_DISTANCE = 40.0
#: Share of the border (object pixels excluded) that must be clean for a "clean background".
CLEAN_SHARE = 0.9
_MASK_SIDE = 12


@dataclass(frozen=True)
class Reading:
    background: str
    background_clean: bool
    colour: str | None  # None: no object found
    position: str | None
    shape: str | None
    object_pixels: int


def _nearest_colour(rgb: np.ndarray) -> str:
    return COLOUR_NAMES[int(np.argmin(((_PALETTE - rgb) ** 2).sum(axis=1)))]


def _as_array(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    image = image.convert("RGB")
    if image.size != (ANALYSIS_SIZE, ANALYSIS_SIZE):
        image = image.resize((ANALYSIS_SIZE, ANALYSIS_SIZE), Image.Resampling.BOX)
    return np.asarray(image, dtype=np.float32)


def _mask_vector(alpha: np.ndarray) -> np.ndarray:
    """The object's soft mask, cropped to its box, centred in a square, scaled to 12x12."""
    ys, xs = np.nonzero(alpha > 0.5)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = alpha[y0:y1, x0:x1]
    side = max(crop.shape)
    sq = np.zeros((side, side), dtype=np.float32)
    oy, ox = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    sq[oy : oy + crop.shape[0], ox : ox + crop.shape[1]] = crop
    small = Image.fromarray((sq * 255).astype(np.uint8)).resize(
        (_MASK_SIDE, _MASK_SIDE), Image.Resampling.BILINEAR
    )
    v = np.asarray(small, dtype=np.float32).ravel() / 255.0
    return v / (np.linalg.norm(v) + 1e-6)


def _segment(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Background RGB, foreground boolean mask, soft alpha, and whether the border is clean."""
    border = np.concatenate(
        [
            arr[:2].reshape(-1, 3),
            arr[-2:].reshape(-1, 3),
            arr[:, :2].reshape(-1, 3),
            arr[:, -2:].reshape(-1, 3),
        ]
    )
    bg = np.median(border, axis=0)
    dist_bg = np.sqrt(((arr - bg) ** 2).sum(axis=-1))
    fg_mask = dist_bg > FOREGROUND_DISTANCE
    on_bg = np.sqrt(((border - bg) ** 2).sum(axis=-1)) <= FOREGROUND_DISTANCE
    palette_bg = _PALETTE[COLOUR_NAMES.index(_nearest_colour(bg))]
    clean = np.sqrt(((border[on_bg] - palette_bg) ** 2).sum(axis=-1)) <= CLEAN_DISTANCE
    is_clean = bool(on_bg.sum() > 0 and clean.mean() >= CLEAN_SHARE)
    if fg_mask.sum() == 0:
        return bg, fg_mask, np.zeros_like(dist_bg), is_clean
    fg = np.median(arr[fg_mask], axis=0)
    span = max(float(np.sqrt(((fg - bg) ** 2).sum())), 1.0)
    alpha = np.clip(dist_bg / span, 0.0, 1.0)
    return bg, fg_mask, alpha, is_clean


@lru_cache(maxsize=1)
def _shape_bank() -> tuple[np.ndarray, np.ndarray]:
    """Masks of 3,000 generator scenes (seed 12345) and their shape ids."""
    rng = np.random.default_rng(12345)
    vecs, labels = [], []
    for _ in range(3000):
        scene = random_scene(rng)
        _, fg_mask, alpha, _ = _segment(render(scene, ANALYSIS_SIZE).astype(np.float32))
        if fg_mask.sum() == 0:
            continue
        vecs.append(_mask_vector(alpha))
        labels.append(SHAPES.index(scene.shape))
    return np.stack(vecs), np.array(labels)


def classify_shape(alpha: np.ndarray, k: int = 5) -> str:
    bank, labels = _shape_bank()
    d = bank @ _mask_vector(alpha)
    top = labels[np.argsort(-d)[:k]]
    votes = np.bincount(top, minlength=len(SHAPES))
    return SHAPES[int(np.argmax(votes))]


def analyse(image: Image.Image | np.ndarray) -> Reading:
    arr = _as_array(image)
    bg, fg_mask, alpha, clean = _segment(arr)
    background = _nearest_colour(bg)
    n = int(fg_mask.sum())
    if n < 3:
        return Reading(background, clean, None, None, None, n)
    colour = _nearest_colour(
        np.median(arr[alpha > 0.8] if (alpha > 0.8).sum() >= 3 else arr[fg_mask], axis=0)
    )
    ys, xs = np.nonzero(fg_mask)
    w = alpha[fg_mask]
    cx = float((xs + 0.5) @ w / w.sum()) / ANALYSIS_SIZE
    cy = float((ys + 0.5) @ w / w.sum()) / ANALYSIS_SIZE
    position = min(
        POSITION_ANCHORS,
        key=lambda p: (POSITION_ANCHORS[p][0] - cx) ** 2 + (POSITION_ANCHORS[p][1] - cy) ** 2,
    )
    return Reading(background, clean, colour, position, classify_shape(alpha), n)
