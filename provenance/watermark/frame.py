"""Pixel plumbing shared by embedder and decoder: luma, resampling to the canonical frame, folding.

Kept apart so that embedder and decoder cannot drift: both see the image through exactly these
functions. All arrays are float32 luma in 0..255.
"""

from __future__ import annotations

import cv2
import numpy as np

#: ITU-R BT.601 luma weights: adding the same delta to R, G and B moves the luma by that delta
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def luma(rgb: np.ndarray) -> np.ndarray:
    """Luma of an (H, W, 3) RGB or (H, W) grey array, float32."""
    if rgb.ndim == 2:
        return rgb.astype(np.float32)
    return cv2.transform(np.ascontiguousarray(rgb[..., :3]).astype(np.float32), LUMA[None, :])


def resample(y: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a float plane: area averaging when shrinking (no aliasing), bicubic when growing."""
    h, w = y.shape
    if (h, w) == (height, width):
        return y
    shrinking = height * width < h * w
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(y, (width, height), interpolation=interp)


def fold(frame: np.ndarray, tile: int) -> np.ndarray:
    """Average of all tile-periodic positions: ``out[y, x] = mean(frame[y + i*tile, x + j*tile])``.

    A frame whose sides are not multiples of ``tile`` (a cropped copy) is folded with partial
    tiles; each tile position is averaged over the pixels that exist. The frame's mean is
    removed first so that missing pixels count as "no signal", not as black.
    """
    h, w = frame.shape
    if h % tile == 0 and w % tile == 0:
        return frame.reshape(h // tile, tile, w // tile, tile).mean(axis=(0, 2))
    centred = frame - frame.mean()
    ph, pw = -h % tile, -w % tile
    padded = np.pad(centred, ((0, ph), (0, pw)))
    counts = np.pad(np.ones_like(centred), ((0, ph), (0, pw)))
    hh, ww = padded.shape
    s = padded.reshape(hh // tile, tile, ww // tile, tile).sum(axis=(0, 2))
    c = counts.reshape(hh // tile, tile, ww // tile, tile).sum(axis=(0, 2))
    return s / np.maximum(c, 1.0)


def tile_spectrum(folded: np.ndarray) -> np.ndarray:
    """Orthonormal 2-D FFT of a folded tile."""
    return np.fft.fft2(folded, norm="ortho")


def tile_from_half_spectrum(spec: np.ndarray) -> np.ndarray:
    """The real tile whose spectrum is ``spec`` on the upper half-plane (and its conjugate below).

    ``spec`` holds one coefficient of each conjugate pair; the result's orthonormal FFT equals
    ``spec`` at those frequencies.
    """
    return np.real(np.fft.ifft2(2.0 * spec, norm="ortho")).astype(np.float32)
