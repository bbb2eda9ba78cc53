"""PIL adapters: the watermark for images as the rest of Assay holds them.

Colour models: RGB and grey (L) are marked as they are; an alpha channel (RGBA, LA) is kept
untouched beside the marked colour; anything else (palette, CMYK, 16-bit) is converted to RGB
first, since a palette cannot carry a fine-grained mark. Decoding reads the luma whatever the mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from provenance.watermark.decode import WatermarkReading, decode_array
from provenance.watermark.embed import EmbedResult, embed_array
from provenance.watermark.layout import SchemeParams

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
    masking: bool = True,
    params: SchemeParams = SchemeParams(),
) -> WatermarkedImage:
    """Return a marked copy of ``image`` carrying the 64-bit ``payload``.

    Raises ValueError when the image is too small or an argument is out of range.
    """
    alpha = None
    if image.mode in ("RGBA", "LA"):
        alpha = image.getchannel("A")
        base = image.convert("RGB" if image.mode == "RGBA" else "L")
    elif image.mode in ("RGB", "L"):
        base = image
    else:
        base = image.convert("RGB")
    result: EmbedResult = embed_array(
        np.asarray(base), payload, strength=strength, min_psnr=min_psnr, masking=masking, params=params
    )
    out = Image.fromarray(result.pixels, mode=base.mode)
    if alpha is not None:
        out.putalpha(alpha)
    return WatermarkedImage(image=out, psnr=result.psnr, capped=result.capped)


def decode_watermark(
    image: Image.Image, *, search: bool = True, params: SchemeParams = SchemeParams()
) -> WatermarkReading | None:
    """The watermark's payload and decoding quality, or None when the image carries none.

    ``search=False`` skips the crop resynchronisation (about 10x faster; enough for a copy that
    was only recompressed, rescaled or had its brightness changed).
    """
    if min(image.size) < MIN_DECODE_SIDE:
        return None
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    return decode_array(np.asarray(image), params=params, search=search)
