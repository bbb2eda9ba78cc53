"""Where the watermark lives: the canonical frame, the tile, and the keyed map of spectral slots.

Why this shape:

* **Canonical frame.** The luma is resampled to ``canonical`` x ``canonical`` pixels (whatever the
  image's size and aspect) and the mark is designed there; the embedder upsamples its residual to
  the full image and the decoder resamples whatever it receives back to the same frame. So a copy
  scaled to half size is, after resampling, the same frame again: rescaling costs only the
  interpolation loss, not synchronisation.
* **Periodic tile.** The mark is a ``tile`` x ``tile`` pattern repeated over the frame. Folding
  the frame (averaging all tile positions) gathers the mark from every copy, and a crop only
  *shifts* the tile cyclically; the decoder finds that shift with a pilot (below) and the scale
  of a cropped copy from the tile period. A periodic tile is made of Fourier components whose
  frequencies are whole multiples of 1/tile, so it tiles without seams.
* **Slots.** Each Fourier coefficient of the tile in a mid-frequency ring (``r_min`` .. ``r_max``
  cycles per tile) gives two real slots (cosine and sine part). Lower frequencies carry so much
  image energy that cancelling it (see :mod:`~provenance.watermark.embed`) costs too much PSNR;
  higher ones do not survive a 2x downscale followed by JPEG 75 (measured: a 6..20 ring kept
  that case at 100% where 8..24 lost 12-40% of the photos). A keyed, shuffled assignment gives
  every coded bit ``reps`` slots spread over the ring with keyed signs, and a set of whole
  frequencies in the upper part of the ring to the *pilot*, a fixed pattern with known phases
  whose cyclic cross-correlation with the fold finds the tile shift of a cropped copy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from provenance.watermark.conv import ConvCode
from provenance.watermark.payload import INFO_BITS

DEFAULT_KEY = "assay-watermark-v1"


@dataclass(frozen=True)
class SchemeParams:
    """The numbers that define the scheme; embedder and decoder must agree on all of them."""

    canonical: int = 256
    tile: int = 64
    r_min: float = 6.0
    r_max: float = 20.0
    pilot_freqs: int = 48
    pilot_r_min: float = 14.0
    code: ConvCode = ConvCode()
    key: str = DEFAULT_KEY
    #: information bits the code protects (payload + check code); assay-wm1: 64 + CRC-24
    info_bits: int = INFO_BITS
    #: separates the keyed maps of schemes sharing one operator key ("" for assay-wm1)
    domain: str = ""

    @property
    def tiles_per_side(self) -> int:
        return self.canonical // self.tile


#: assay-wm1 under the built-in key (the default argument of the library functions)
DEFAULT_SCHEME = SchemeParams()


@dataclass(frozen=True)
class Layout:
    """The keyed assignment of tile-spectrum slots to the pilot and to the coded bits."""

    params: SchemeParams
    #: pilot: numpy-FFT indices (ky, kx) of whole frequencies and their unit phasors
    pilot_ky: np.ndarray
    pilot_kx: np.ndarray
    pilot_phase: np.ndarray  # complex, |.| = 1
    #: payload slots, shape (n_coded, reps): frequency indices, part (0 = real, 1 = imag), sign
    slot_ky: np.ndarray
    slot_kx: np.ndarray
    slot_imag: np.ndarray
    slot_sign: np.ndarray
    #: signed frequencies (cycles per tile) of the payload slots, for phase correction
    slot_fy: np.ndarray
    slot_fx: np.ndarray
    slot_radius: np.ndarray

    @property
    def n_coded(self) -> int:
        return self.slot_ky.shape[0]

    @property
    def reps(self) -> int:
        return self.slot_ky.shape[1]


def _rng(key: str, purpose: str) -> np.random.Generator:
    seed = hashlib.sha256(f"{key}\x00{purpose}".encode()).digest()
    return np.random.default_rng(int.from_bytes(seed[:16], "big"))


def _signed(k: np.ndarray, n: int) -> np.ndarray:
    return np.where(k >= n // 2, k - n, k)


@lru_cache(maxsize=8)
def layout_for(params: SchemeParams) -> Layout:
    """Build (once per parameter set) the slot map; deterministic in ``params.key``."""
    t = params.tile
    ky, kx = np.meshgrid(np.arange(t), np.arange(t), indexing="ij")
    fy, fx = _signed(ky, t), _signed(kx, t)
    radius = np.hypot(fy, fx)
    # one of each conjugate pair (upper half-plane), no Nyquist row/column (they are real-valued)
    half = (fy > 0) | ((fy == 0) & (fx > 0))
    usable = (
        half
        & (radius >= params.r_min)
        & (radius <= params.r_max)
        & (np.abs(fy) < t // 2)
        & (np.abs(fx) < t // 2)
    )
    rng = _rng(params.key, "layout" + params.domain)
    freqs = rng.permutation(np.flatnonzero(usable.ravel()))
    high = radius.ravel()[freqs] >= params.pilot_r_min
    if params.canonical % params.tile:
        raise ValueError("the canonical frame must hold a whole number of tiles")
    if params.pilot_freqs >= int(high.sum()):
        raise ValueError("the pilot needs more frequencies than the ring has above pilot_r_min")
    pilot = freqs[high][: params.pilot_freqs]
    rest = np.setdiff1d(freqs, pilot, assume_unique=True)
    # each remaining frequency gives two real slots (cosine and sine part)
    slots = np.concatenate([rest * 2, rest * 2 + 1])
    slots = rng.permutation(slots)
    n_coded = params.code.coded_length(params.info_bits)
    reps = len(slots) // n_coded
    if reps < 1:
        raise ValueError(f"ring holds {len(slots)} slots, fewer than the {n_coded} coded bits")
    slots = slots[: n_coded * reps].reshape(n_coded, reps)
    flat, imag = slots // 2, (slots % 2).astype(bool)
    sy, sx = np.unravel_index(flat, (t, t))
    sign = rng.choice(np.array([-1.0, 1.0]), size=slots.shape)
    py, px = np.unravel_index(pilot, (t, t))
    phase = np.exp(2j * np.pi * rng.random(len(pilot)))
    return Layout(
        params=params,
        pilot_ky=py,
        pilot_kx=px,
        pilot_phase=phase,
        slot_ky=sy,
        slot_kx=sx,
        slot_imag=imag,
        slot_sign=sign,
        slot_fy=fy[sy, sx].astype(np.float64),
        slot_fx=fx[sy, sx].astype(np.float64),
        slot_radius=radius[sy, sx],
    )


def read_slots(spec: np.ndarray, layout: Layout, shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Signed slot values, shape (n_coded, reps), of a tile spectrum whose tile is cyclically
    shifted by ``shift`` = (dy, dx) tile pixels (the shift is undone as a phase ramp)."""
    z = spec[layout.slot_ky, layout.slot_kx]
    dy, dx = shift
    if dy or dx:
        t = layout.params.tile
        z = z * np.exp(2j * np.pi * (layout.slot_fy * dy + layout.slot_fx * dx) / t)
    return np.where(layout.slot_imag, z.imag, z.real) * layout.slot_sign


def read_pilot(spec: np.ndarray, layout: Layout) -> np.ndarray:
    """The pilot coefficients, de-rotated by their keyed phases (a clean mark reads real, > 0)."""
    return spec[layout.pilot_ky, layout.pilot_kx] * np.conj(layout.pilot_phase)


def half_spectrum(layout: Layout, bit_delta: np.ndarray, pilot_delta: np.ndarray) -> np.ndarray:
    """The tile spectrum that moves every slot of coded bit i by ``bit_delta[i]`` (in the slot's
    signed units) and pilot frequency j by ``pilot_delta[j]`` (complex, de-rotated units)."""
    t = layout.params.tile
    spec = np.zeros((t, t), dtype=np.complex128)
    add = bit_delta[:, None] * layout.slot_sign
    # every slot is a distinct (frequency, part) pair, so plain fancy-index accumulation is exact
    np.add.at(spec, (layout.slot_ky, layout.slot_kx), np.where(layout.slot_imag, 1j * add, add))
    spec[layout.pilot_ky, layout.pilot_kx] += pilot_delta * layout.pilot_phase
    return spec
