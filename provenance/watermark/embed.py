"""Embedding: informed spread spectrum in the folded tile spectrum, closed-loop, PSNR-capped.

How it works (and why):

1. The luma is resampled to the canonical frame and folded into one tile; its Fourier
   coefficients at the keyed slots are what a decoder will read (see :mod:`.layout`).
2. Each coded bit ``i`` must read with sign ``x_i`` and margin ``tau``: the mean of its slots,
   signed, must reach ``tau``. The image itself already contributes to every slot (host
   interference; in textured photos it is several times larger than any invisible mark), so
   instead of adding a fixed pattern we add *exactly what is missing* (improved spread spectrum,
   Malvar & Florencio 2003): bits the host already pushes the right way cost nothing, bits it
   pushes the wrong way are corrected to the margin. The decoder then faces only what the
   attack changes, not the photo. Because every coded bit costs roughly the host's slot energy
   whatever its repetitions, the code is punctured to rate 2/3 (141 coded bits for 88 info bits):
   measured, that saves ~1.5 dB PSNR over rate 1/3 at equal robustness.
3. The correction is an inverse FFT of the tile, tiled over the frame, upsampled to the image's
   own size and added equally to R, G and B (which moves the luma by exactly that amount),
   clamped per pixel so that no channel clips (no hue shift in saturated colours).
4. Resampling and clamping change what the decoder will read, so the loop re-measures the marked
   luma through the decoder's own path and corrects again (``ITERATIONS`` rounds).
5. A PSNR floor caps the energy: an image that would need more (very textured photos) gets a
   proportionally weaker mark instead of a visible one, and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from provenance.watermark.frame import fold, luma, resample, tile_from_half_spectrum, tile_spectrum
from provenance.watermark.layout import SchemeParams, half_spectrum, layout_for, read_pilot, read_slots
from provenance.watermark.payload import info_bits

#: margin per coded bit and pilot amplitude at strength 1.0, in orthonormal tile-spectrum units
BASE_TAU = 1.4
BASE_PILOT = 1.4
ITERATIONS = 3
#: smallest side the embedder accepts (the canonical frame would be mostly interpolation below)
MIN_SIDE = 128


MASK_FLOOR = 6.0  # grey levels of local contrast added before normalising (flat areas keep some mark)
MASK_RANGE = (0.5, 2.0)


def activity_mask(frame: np.ndarray) -> np.ndarray:
    """Relative local contrast (mean 1): where the mark goes. The eye forgives noise in texture
    and sees it on flat sky, so flat areas get less and busy areas more; the loop then tops up
    whatever the mask took away from the decoder's reading. Costs ~0.6 dB of mean PSNR (the
    same reading from less uniform energy) for a visibly cleaner sky (measured on the photos)."""
    mean = cv2.blur(frame, (7, 7))
    std = np.sqrt(np.maximum(cv2.blur(frame * frame, (7, 7)) - mean * mean, 0.0))
    m = (std + MASK_FLOOR) / (float(std.mean()) + MASK_FLOOR)
    return np.clip(m, *MASK_RANGE).astype(np.float32)


@dataclass(frozen=True)
class EmbedResult:
    """The marked pixels and what it cost."""

    pixels: np.ndarray  # uint8, same shape as the input
    psnr: float  # dB, over all channels
    capped: bool  # True when the PSNR floor weakened the mark for this image


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean(np.square(a.astype(np.float32) - b.astype(np.float32), dtype=np.float64)))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def embed_array(
    pixels: np.ndarray,
    payload: int,
    *,
    strength: float = 1.0,
    min_psnr: float = 38.5,
    masking: bool = True,
    params: SchemeParams = SchemeParams(),
) -> EmbedResult:
    """Embed ``payload`` (64-bit int) into ``pixels``: uint8 (H, W) grey or (H, W, 3) RGB.

    ``strength`` scales the margin every coded bit must reach (1.0: robust to JPEG 50 and to a
    0.5x downscale plus JPEG 75 on the benchmark photos); ``min_psnr`` is the floor no image goes
    under; ``masking`` puts more of the mark into texture and less into flat areas.
    """
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3):
        raise ValueError("pixels must be a uint8 array of shape (H, W) or (H, W, 3)")
    h, w = pixels.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ValueError(f"image is {w}x{h}; the watermark needs at least {MIN_SIDE} px on each side")
    if strength <= 0:
        raise ValueError("strength must be > 0")
    layout = layout_for(params)
    t, n = params.tile, params.canonical
    x = 1.0 - 2.0 * params.code.encode(info_bits(payload))  # wanted sign of every coded bit
    tau, pilot_amp = BASE_TAU * strength, BASE_PILOT * strength
    # The residual is added equally to every channel and clamped per pixel so that no channel
    # clips: the hue never shifts, and the luma moves by exactly the clamped residual, so the
    # loop can work on the luma plane alone.
    if pixels.ndim == 3:
        r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
        lo = -np.minimum(np.minimum(r, g), b).astype(np.float32)
        hi = 255.0 - np.maximum(np.maximum(r, g), b).astype(np.float32)
    else:
        lo = -pixels.astype(np.float32)
        hi = 255.0 + lo
    y0 = luma(pixels)
    mask = resample(activity_mask(resample(y0, n, n)), h, w) if masking else np.float32(1.0)
    total = np.zeros((h, w), dtype=np.float32)
    for _ in range(ITERATIONS):
        spec = tile_spectrum(fold(resample(y0 + total, n, n), t))
        have = read_slots(spec, layout).mean(axis=1) * x
        bit_delta = np.maximum(0.0, tau - have) * x
        pilot_delta = pilot_amp - read_pilot(spec, layout)
        tile = tile_from_half_spectrum(half_spectrum(layout, bit_delta, pilot_delta))
        step = resample(np.tile(tile, (n // t, n // t)), h, w) * mask
        total = np.clip(total + step, lo, hi)
    capped = False
    max_mse = 255.0**2 / 10.0 ** (min_psnr / 10.0)
    mse = float(np.mean(np.square(total, dtype=np.float64)))
    if mse > max_mse:
        # weaken the whole mark to the floor (a little under it, for the rounding)
        total *= np.float32(np.sqrt(0.97 * max_mse / mse))
        capped = True
    delta = total[..., None] if pixels.ndim == 3 else total
    out = np.clip(np.rint(pixels + delta), 0, 255).astype(np.uint8)
    return EmbedResult(pixels=out, psnr=_psnr(pixels, out), capped=capped)
