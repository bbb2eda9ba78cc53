"""PIL adapters: the watermark for images as the rest of Assay holds them.

Colour models: RGB and grey (L) are marked as they are; an alpha channel (RGBA, LA) is kept
untouched beside the marked colour; anything else (palette, CMYK, 16-bit) is converted to RGB
first, since a palette cannot carry a fine-grained mark. Decoding reads the luma whatever the mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from provenance.watermark import wm2
from provenance.watermark.decode import SCHEME as WM1
from provenance.watermark.decode import WatermarkReading, decode_array
from provenance.watermark.embed import EmbedResult, embed_array
from provenance.watermark.layout import DEFAULT_SCHEME, SchemeParams

Scheme = Literal["assay-wm1", "assay-wm2"]
SCHEMES: tuple[Scheme, ...] = ("assay-wm2", "assay-wm1")


def _params(scheme: str, params: SchemeParams) -> SchemeParams:
    """The scheme's own parameters under the key ``params`` carries (one key serves both)."""
    if scheme == wm2.SCHEME:
        return params if params.domain == wm2.DEFAULT_PARAMS.domain else wm2.params_for(params.key)
    if scheme == WM1:
        return params if params.domain == "" else SchemeParams(key=params.key)
    raise ValueError(f"unknown watermark scheme {scheme!r}; known: {', '.join(SCHEMES)}")


#: below this side the decoder does not even try (the canonical frame would be all interpolation)
MIN_DECODE_SIDE = 64


@dataclass(frozen=True)
class WatermarkedImage:
    image: Image.Image
    psnr: float
    capped: bool  # the PSNR floor weakened the mark for this image


def embed_watermark(
    image: Image.Image,
    payload: int,
    *,
    strength: float = 1.0,
    min_psnr: float = 38.5,
    masking: bool | None = None,
    params: SchemeParams = DEFAULT_SCHEME,
    scheme: Scheme = WM1,
) -> WatermarkedImage:
    """Return a marked copy of ``image`` carrying the 64-bit ``payload`` in ``scheme``.

    ``masking`` None takes the scheme's default (wm1: texture masking on; wm2: an even spread,
    which reads back from a crop ~2x better, measured). Raises ValueError when the image is too
    small, an argument is out of range or the scheme is unknown.
    """
    p = _params(scheme, params)
    embed = wm2.embed_array if scheme == wm2.SCHEME else embed_array
    if masking is None:
        masking = scheme != wm2.SCHEME
    alpha = None
    if image.mode in ("RGBA", "LA"):
        alpha = image.getchannel("A")
        base = image.convert("RGB" if image.mode == "RGBA" else "L")
    elif image.mode in ("RGB", "L"):
        base = image
    else:
        base = image.convert("RGB")
    result: EmbedResult = embed(
        np.asarray(base), payload, strength=strength, min_psnr=min_psnr, masking=masking, params=p
    )
    out = Image.fromarray(result.pixels, mode=base.mode)
    if alpha is not None:
        out.putalpha(alpha)
    return WatermarkedImage(image=out, psnr=result.psnr, capped=result.capped)


def decode_watermark(
    image: Image.Image,
    *,
    search: bool = True,
    params: SchemeParams = DEFAULT_SCHEME,
    scheme: Scheme | None = WM1,
) -> WatermarkReading | None:
    """The watermark's payload and decoding quality, or None when the image carries none.

    ``search=False`` skips the geometric resynchronisation (enough for a copy that was only
    recompressed, rescaled or had its brightness changed). ``scheme`` None tries every scheme,
    newest first (what ``verify`` does).
    """
    if min(image.size) < MIN_DECODE_SIDE:
        return None
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    pixels = np.asarray(image)
    for name in SCHEMES if scheme is None else (scheme,):
        decode = wm2.decode_array if name == wm2.SCHEME else decode_array
        reading = decode(pixels, params=_params(name, params), search=search)
        if reading is not None:
            return reading
    return None
