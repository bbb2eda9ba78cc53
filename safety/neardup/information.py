"""How much an image's codes and pixels can say: the low-information test of the near-duplicate checks.

Why: a perceptual code is only evidence when its bits come from the picture. A plain gradient, a
near-uniform background or a scanned page lit from one side gives a dHash of 64 equal bits, and
every such image gets the same code: an index that holds one answers "copy" for all of them (a
text page matched random noise and a gradient at distance 0). Uniform noise has the opposite
problem: its codes are arbitrary, and its pixels have no structure a copy could keep.

So each image gets a measure, and an image that carries too little information is neither indexed
(:mod:`~safety.neardup.builder` skips it and says why) nor matched (the checks report "not enough
detail to decide" with the measure instead of a match):

* **reliable code bits** per code type: a bit counts only if the value it thresholds is further
  from the threshold than re-encoding moves it (measured on the robustness photos: JPEG 50 + 0.5x
  moves a 32x32 DCT coefficient by at most ~125 at the 90th percentile, a 9x8 dHash neighbour
  difference by at most 1 grey level). For dHash the reliable bits must also disagree: a code whose
  reliable bits all have one sign says only "brightness rises to the right", so it counts
  ``2 * min(ones, zeros)``;
* **contrast**: grey-level standard deviation at 64x64 (near-uniform images have almost none);
* **structure**: the correlation of neighbouring pixels at 64x64. Photographs, drawings and text
  score 0.3-0.98 (textures such as gravel 0.25); uniform noise scores ~0.

Imports: numpy, Pillow and :mod:`safety.neardup.codes` only (no FAISS, no OpenCV).
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from safety.neardup.codes import CodeType

#: a pHash bit is reliable when its DCT coefficient is this far from the median (imagehash's scale)
PHASH_MARGIN = 150.0
#: a dHash bit is reliable when the neighbouring grey levels differ by more than this
DHASH_MARGIN = 2.0
#: reliable bits a code needs before a match on it is evidence
MIN_CODE_BITS: dict[CodeType, int] = {CodeType.PHASH: 32, CodeType.DHASH: 16}
#: grey-level standard deviation at 64x64 below which an image is near-uniform
MIN_CONTRAST = 4.0
#: neighbour correlation at 64x64 below which an image is noise-like
MIN_STRUCTURE = 0.15
_SIDE = 64


@dataclass(frozen=True)
class Information:
    """The measure of one image (see the module docstring); ``reason`` says why it is too little."""

    contrast: float
    structure: float
    code_bits: dict[str, int]

    def usable_codes(self) -> list[CodeType]:
        """The code types whose bits carry enough information to match on."""
        return [ct for ct in CodeType if self.code_bits.get(ct.value, 0) >= MIN_CODE_BITS[ct]]

    @property
    def reason(self) -> str | None:
        """None when the image has enough detail; else a sentence naming the measure and its limit."""
        if self.contrast < MIN_CONTRAST:
            return f"near-uniform image (grey-level deviation {self.contrast:.1f} < {MIN_CONTRAST:g})"
        if self.structure < MIN_STRUCTURE:
            return f"noise-like image (neighbour correlation {self.structure:.2f} < {MIN_STRUCTURE:g})"
        if not self.usable_codes():
            bits = ", ".join(
                f"{ct.value} {self.code_bits.get(ct.value, 0)} < {MIN_CODE_BITS[ct]}" for ct in CodeType
            )
            return f"too little structure for any code (reliable bits: {bits})"
        return None

    @property
    def enough(self) -> bool:
        return self.reason is None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["contrast"] = round(self.contrast, 2)
        d["structure"] = round(self.structure, 3)
        d["limits"] = {
            "contrast": MIN_CONTRAST,
            "structure": MIN_STRUCTURE,
            "code_bits": {ct.value: n for ct, n in MIN_CODE_BITS.items()},
        }
        return d


#: Pillow's two-step shrink (a box reduction to within 3x of the target, then Lanczos): "practically
#: indistinguishable" from a Lanczos over the full image, per Pillow's docs, and ~5x cheaper at
#: 512x512; the gate's margins do not need the last bit (the codes themselves still use the full
#: Lanczos, they must equal the indexed ones)
_GAP = 3.0


def _phash_bits(gray: Image.Image) -> int:
    fftpack = importlib.import_module("scipy.fftpack")  # the DCT imagehash's pHash uses (no stubs)

    px = np.asarray(gray.resize((32, 32), Image.Resampling.LANCZOS, reducing_gap=_GAP), dtype=np.float64)
    low = fftpack.dct(fftpack.dct(px, axis=0), axis=1)[:8, :8]
    return int((np.abs(low - np.median(low)) > PHASH_MARGIN).sum())


def _dhash_bits(gray: Image.Image) -> int:
    px = np.asarray(gray.resize((9, 8), Image.Resampling.LANCZOS, reducing_gap=_GAP), dtype=np.float64)
    diff = px[:, 1:] - px[:, :-1]
    return 2 * int(min((diff > DHASH_MARGIN).sum(), (diff < -DHASH_MARGIN).sum()))


def measure(image: Image.Image) -> Information:
    """The information measure of ``image`` (any mode; about 1 ms at 512x512)."""
    gray = image if image.mode == "L" else image.convert("L")
    px = np.asarray(gray.resize((_SIDE, _SIDE), Image.Resampling.BOX), dtype=np.float64)
    c = px - px.mean()
    var = float(c.var())
    contrast = float(np.sqrt(var))
    if var > 1e-9:
        structure = float(((c[:, 1:] * c[:, :-1]).mean() + (c[1:, :] * c[:-1, :]).mean()) / (2 * var))
    else:
        structure = 0.0
    bits = {CodeType.PHASH.value: _phash_bits(gray), CodeType.DHASH.value: _dhash_bits(gray)}
    return Information(contrast=contrast, structure=structure, code_bits=bits)


__all__ = ["MIN_CODE_BITS", "MIN_CONTRAST", "MIN_STRUCTURE", "Information", "measure"]
