"""Decoding: canonical frame -> fold -> slots -> soft Viterbi -> CRC, with a resync search for crops.

Order of attempts for one image (each attempt is one CRC check, and the number of attempts is
bounded, which is what bounds the false-payload rate):

1. **direct**: the whole image is the marked frame (any size: a rescaled copy resamples back to
   the same frame). Decode at zero tile shift, then at the shift the pilot finds (two checks).
2. **resync** (only if 1 failed and ``search`` is on): the image may be a crop of the marked
   frame, so the size it had in the canonical frame is unknown. For every other side length
   from ``SEARCH_MIN_SCALE`` x canonical up, the luma is resampled to that square and folded;
   the pilot's cyclic correlation gives a peak height (a z-score) and the tile shift. The best
   ``SEARCH_TOP`` sides whose peak clears ``PILOT_Z_MIN`` are decoded at that side and its two
   neighbours (one pixel is 0.4% of scale).

An image yields a payload only if its CRC-24 matches: at most 2 + 3 x ``SEARCH_TOP`` = 11 checks
per image, each passed by chance with probability 2^-24: < 7e-7 false payloads per unmarked image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import cv2
import numpy as np

from provenance.watermark.frame import fold, luma, resample, tile_spectrum
from provenance.watermark.layout import DEFAULT_SCHEME, Layout, SchemeParams, layout_for, read_slots
from provenance.watermark.payload import INFO_BITS, PAYLOAD_BITS, payload_from_bits, payload_hex

SCHEME: Final = "assay-wm1"
#: crop hypotheses for the resync search: the smallest fraction of the marked frame's side left
SEARCH_MIN_SCALE = 0.70
SEARCH_STEP = 2  # canonical pixels between coarse hypotheses
SEARCH_TOP = 3
#: pilot peaks below this are not decoded. Noise alone peaks at ~3.5-4.5 over 4,096 shifts, but a
#: true crop often peaks only a little higher (the crop brings the host back); the CRC, not this
#: threshold, is what rejects a wrong candidate, so the threshold only saves time.
PILOT_Z_MIN = 4.0


@dataclass(frozen=True)
class WatermarkReading:
    """A payload that passed its CRC, and how sure the decoder was."""

    payload: int
    scheme: str
    #: coded bits whose hard decision disagreed with the decoded codeword (corrected by the code)
    bit_errors: int
    coded_bits: int
    #: normalised correlation of the soft values with the decoded codeword, 0..1 (1 = clean)
    correlation: float
    #: pilot peak z-score (a clean, uncropped mark reads ~9; noise stays under ~4.5)
    pilot_z: float
    #: fraction of the marked frame's side this image shows (1.0 = whole image; <1 = a crop)
    scale: float
    shift: tuple[float, float]
    #: "local": assay-wm2's local fallback (windows placed one by one, one projective map)
    method: Literal["direct", "resync", "local"]
    #: the edit the decoder undid, in words (``crop+rotate 4.8°+flip``; "none": read as it is)
    transform: str = "none"

    @property
    def payload_hex(self) -> str:
        """16 hex digits: the key the ledger indexes (``facts["watermark"]["payload"]``)."""
        return payload_hex(self.payload)

    @property
    def bits(self) -> int:
        return PAYLOAD_BITS

    @property
    def confidence(self) -> float:
        """Share of coded bits that arrived right (1.0 = no error needed correcting)."""
        return 1.0 - self.bit_errors / self.coded_bits


def pilot_peak(spec: np.ndarray, layout: Layout) -> tuple[float, float, float]:
    """Cyclic phase-only correlation of the pilot with a folded tile: (z-score, dy, dx).

    Phase-only (each coefficient divided by its magnitude) so that strong image content at a few
    pilot frequencies cannot dominate; the z-score is in units of the correlation's noise level.
    """
    t = layout.params.tile
    g = spec[layout.pilot_ky, layout.pilot_kx]
    acc = np.zeros((t, t), dtype=np.complex128)
    acc[layout.pilot_ky, layout.pilot_kx] = np.conj(layout.pilot_phase) * g / np.maximum(np.abs(g), 1e-12)
    corr = np.real(np.fft.ifft2(acc)) * (t * t) / np.sqrt(len(g) / 2.0)
    iy, ix = np.unravel_index(int(np.argmax(corr)), corr.shape)

    def vertex(cm: float, c0: float, cp: float) -> float:  # sub-pixel peak by a parabola
        den = cm - 2.0 * c0 + cp
        return 0.0 if den >= 0 else float(np.clip(0.5 * (cm - cp) / den, -0.5, 0.5))

    sy = vertex(corr[(iy - 1) % t, ix], corr[iy, ix], corr[(iy + 1) % t, ix])
    sx = vertex(corr[iy, (ix - 1) % t], corr[iy, ix], corr[iy, (ix + 1) % t])
    dy = (iy + sy + t / 2) % t - t / 2
    dx = (ix + sx + t / 2) % t - t / 2
    return float(corr[iy, ix]), float(dy), float(dx)


def ring_weights(spec: np.ndarray, layout: Layout) -> np.ndarray:
    """Per-slot weights 1/sigma(radius), sigma from the fold's own power at that radius.

    Used on the resync path only: a crop breaks the embedder's host cancellation, so the image's
    own spectrum (falling steeply with frequency) is back as interference, and slots at quiet
    radii deserve more trust than slots at loud ones (a whitening, as in a matched filter)."""
    t = layout.params.tile
    k = np.fft.fftfreq(t, 1.0 / t)
    rad = np.rint(np.hypot(k[:, None], k[None, :])).astype(np.int64).ravel()
    power = np.bincount(rad, weights=np.abs(spec.ravel()) ** 2) / np.maximum(np.bincount(rad), 1)
    sigma = np.sqrt(power[np.rint(layout.slot_radius).astype(np.int64)])
    return 1.0 / np.maximum(sigma, 1e-9)


def _try(
    spec: np.ndarray, layout: Layout, shift: tuple[float, float], weighted: bool = False
) -> tuple[int, int, float] | None:
    """Decode at one shift: (payload, bit errors, correlation), or None if the CRC fails."""
    code = layout.params.code
    slots = read_slots(spec, layout, shift)
    if weighted:
        slots = slots * ring_weights(spec, layout)
    soft = slots.sum(axis=1)
    norm = float(np.linalg.norm(soft))
    if norm == 0.0:  # a flat image: nothing to decode
        return None
    soft = soft / norm * np.sqrt(len(soft))
    bits = code.decode(soft, INFO_BITS)
    payload = payload_from_bits(bits)
    if payload is None:
        return None
    sent = 1.0 - 2.0 * code.encode(bits)
    errors = int(np.count_nonzero(np.sign(soft) != sent))
    corr = float(soft @ sent) / (np.sqrt(len(sent)) * np.sqrt(len(soft)))
    return payload, errors, corr


def decode_array(
    pixels: np.ndarray, *, params: SchemeParams = DEFAULT_SCHEME, search: bool = True
) -> WatermarkReading | None:
    """Read the watermark from uint8 pixels, (H, W) grey or (H, W, 3|4) RGB(A); None if absent."""
    layout = layout_for(params)
    n, t = params.canonical, params.tile
    colour = pixels[..., :3] if pixels.ndim == 3 else pixels
    if min(colour.shape[:2]) > 2 * n:
        # Big uploads: shrink the 8-bit pixels first (area filter, linear like the luma), so a
        # 16-megapixel photo never becomes a 200 MB float copy. Every frame the decoder builds is
        # at most canonical-sized, so nothing it reads is lost.
        colour = cv2.resize(colour, (2 * n, 2 * n), interpolation=cv2.INTER_AREA)
    y = luma(colour)
    spec = tile_spectrum(fold(resample(y, n, n), t))
    z, dy, dx = pilot_peak(spec, layout)
    for shift in ((0.0, 0.0), (dy, dx)):
        hit = _try(spec, layout, shift)
        if hit is not None:
            return _reading(hit, layout, z, 1.0, shift, "direct")
    if not search:
        return None
    peaks = []
    for side in range(n - 1, max(t, round(n * SEARCH_MIN_SCALE)) - 1, -SEARCH_STEP):
        zs, *_ = pilot_peak(tile_spectrum(fold(resample(y, side, side), t)), layout)
        peaks.append((zs, side))
    peaks.sort(reverse=True)
    for z0, side0 in peaks[:SEARCH_TOP]:
        if z0 < PILOT_Z_MIN:
            break
        for side in (side0, side0 - 1, side0 + 1):
            spec = tile_spectrum(fold(resample(y, side, side), t))
            zs, dy, dx = pilot_peak(spec, layout)
            hit = _try(spec, layout, (dy, dx), weighted=True)
            if hit is not None:
                return _reading(hit, layout, zs, side / n, (dy, dx), "resync")
    return None


def _reading(
    hit: tuple[int, int, float],
    layout: Layout,
    z: float,
    scale: float,
    shift: tuple[float, float],
    method: Literal["direct", "resync"],
) -> WatermarkReading:
    payload, errors, corr = hit
    return WatermarkReading(
        payload=payload,
        scheme=SCHEME,
        bit_errors=errors,
        coded_bits=layout.n_coded,
        correlation=round(corr, 4),
        pilot_z=round(z, 2),
        scale=round(scale, 4),
        shift=(round(shift[0], 2), round(shift[1], 2)),
        method=method,
        transform="none" if method == "direct" else "crop",
    )
