"""Perceptual codes: 64-bit pHash and dHash of an image, packed as 8 bytes for FAISS binary indexes.

Why these two: a pHash (low-frequency DCT signs) survives resizing, recompression and brightness
changes; a dHash (signs of horizontal gradients) fails differently, and on the robustness set
(``benchmarks/neardup.py``) a 5% crop that moves one past radius 8 usually leaves the other inside
it. Both come from :mod:`imagehash` with its default parameters, so codes computed by other tools
with the same parameters are comparable; the parameters are recorded in every index manifest
(:data:`CODE_SPECS`) and an index computed otherwise is refused rather than silently compared.

Neither code survives a mirror image: queries also hash the mirrored image (see
:func:`query_codes`); the index stores the codes of the originals only.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import imagehash
import numpy as np
from PIL import Image, ImageOps

#: bits per code; FAISS binary indexes take codes as ``CODE_BYTES`` uint8 each
CODE_BITS: Literal[64] = 64
CODE_BYTES = CODE_BITS // 8
#: the largest Hamming radius a search accepts; at half the bits unrelated images start to match
MAX_RADIUS = 32


class CodeType(StrEnum):
    PHASH = "phash"
    DHASH = "dhash"


#: exactly how each code is computed; an index whose manifest records another spec is refused
CODE_SPECS: dict[CodeType, str] = {
    CodeType.PHASH: "imagehash.phash(hash_size=8, highfreq_factor=4) of the L-mode image, bits row-major, "
    "packbits",
    CodeType.DHASH: "imagehash.dhash(hash_size=8) of the L-mode image, bits row-major, packbits",
}

ALL_CODE_TYPES: tuple[CodeType, ...] = (CodeType.PHASH, CodeType.DHASH)


#: the size imagehash shrinks an image to before hashing (pHash: hash_size * highfreq_factor, dHash:
#: (hash_size + 1) x hash_size)
_WORK_SIZE: dict[CodeType, tuple[int, int]] = {CodeType.PHASH: (32, 32), CodeType.DHASH: (9, 8)}


def _pack(h: imagehash.ImageHash) -> np.ndarray:
    return np.packbits(np.asarray(h.hash, dtype=bool).reshape(-1))


def _code_of_small(small: Image.Image, code_type: CodeType) -> np.ndarray:
    # imagehash resizes to the work size first; an image already at that size is only copied
    if code_type is CodeType.PHASH:
        return _pack(imagehash.phash(small, hash_size=8, highfreq_factor=4))
    return _pack(imagehash.dhash(small, hash_size=8))


def _small(gray: Image.Image, code_type: CodeType) -> Image.Image:
    """The image shrunk exactly as imagehash shrinks it (so the code equals imagehash's on ``gray``)."""
    return gray.resize(_WORK_SIZE[code_type], Image.Resampling.LANCZOS)


def image_code(gray: Image.Image, code_type: CodeType) -> np.ndarray:
    """The code of one L-mode image as ``CODE_BYTES`` uint8."""
    return _code_of_small(_small(gray, code_type), CodeType(code_type))


def image_codes(
    image: Image.Image, code_types: tuple[CodeType, ...] | list[CodeType]
) -> dict[CodeType, np.ndarray]:
    """Codes of ``image`` for each requested type (the grey conversion is done once)."""
    gray = image if image.mode == "L" else image.convert("L")
    return {CodeType(ct): image_code(gray, CodeType(ct)) for ct in code_types}


def query_codes(
    image: Image.Image, code_types: tuple[CodeType, ...] | list[CodeType], *, mirror: bool = True
) -> dict[CodeType, np.ndarray]:
    """Query codes per type: shape ``(1, 8)``, or ``(2, 8)`` with the mirrored image's code second.

    The mirrored code is computed from the mirrored *shrunk* image: Pillow's Lanczos resampling is
    mirror-symmetric, so this equals the code of the mirrored full image (checked in the tests) at
    half the cost; shrinking the full image is most of the time a code takes.
    """
    gray = image if image.mode == "L" else image.convert("L")
    out = {}
    for ct in (CodeType(c) for c in code_types):
        small = _small(gray, ct)
        views = [small, ImageOps.mirror(small)] if mirror else [small]
        out[ct] = np.stack([_code_of_small(v, ct) for v in views])
    return out


def hamming(a: np.ndarray, b: np.ndarray) -> int:
    """Hamming distance between two packed codes (for tests and reports; search uses FAISS)."""
    return int(np.unpackbits(np.bitwise_xor(a, b)).sum())
