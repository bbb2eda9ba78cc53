"""Safe image decoding, shared by every entry point that accepts an image (HTTP uploads, CLI, verify).

Decoding untrusted files is where image services get hurt: decompression bombs, truncated files,
formats nobody meant to accept. :func:`decode_image` refuses anything outside an allow-list of
formats, checks byte size *before* decoding and pixel counts from the header *before* loading the
pixels, and raises :class:`ImageDecodeError` (a 4xx) naming what is wrong.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from gateway.errors import ImageDecodeError, PayloadTooLarge, UnsupportedMedia

ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"})


@dataclass(frozen=True)
class DecodeLimits:
    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 16_777_216
    max_side: int = 8192
    min_side: int = 8
    max_aspect: float = 64.0
    animated: str = "first_frame"  # or "refuse"
    formats: frozenset[str] = ALLOWED_FORMATS


def decode_image(data: bytes, *, limits: DecodeLimits | None = None, name: str = "image",
                 mode: str = "RGB") -> Image.Image:
    """Decode ``data`` into a fully loaded image in ``mode`` (RGB by default), or raise.

    ``name`` is how errors refer to the input (e.g. ``image``, ``mask``, ``image[1]``).
    """
    lim = limits or DecodeLimits()
    if not data:
        raise ImageDecodeError(f"{name}: empty file", param=name)
    if len(data) > lim.max_bytes:
        raise PayloadTooLarge(f"{name}: {len(data)} bytes exceeds the limit of {lim.max_bytes} bytes", param=name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = (img.format or "").upper()
            if fmt not in lim.formats:
                raise UnsupportedMedia(
                    f"{name}: format {fmt or 'unknown'} is not accepted",
                    param=name, hint=f"accepted formats: {', '.join(sorted(lim.formats))}",
                )
            w, h = img.size
            if w < lim.min_side or h < lim.min_side:
                raise ImageDecodeError(f"{name}: {w}x{h} is smaller than {lim.min_side}x{lim.min_side}", param=name)
            if w > lim.max_side or h > lim.max_side:
                raise ImageDecodeError(f"{name}: {w}x{h} exceeds the maximum side of {lim.max_side} px", param=name)
            if w * h > lim.max_pixels:
                raise ImageDecodeError(
                    f"{name}: {w}x{h} = {w * h} pixels exceeds the limit of {lim.max_pixels} (decompression bomb?)",
                    param=name)
            if max(w, h) / max(1, min(w, h)) > lim.max_aspect:
                raise ImageDecodeError(f"{name}: aspect ratio {w}x{h} exceeds {lim.max_aspect}:1", param=name)
            if getattr(img, "is_animated", False) and getattr(img, "n_frames", 1) > 1:
                if lim.animated == "refuse":
                    raise ImageDecodeError(f"{name}: animated images are not accepted by this policy", param=name)
                img.seek(0)
            img.load()
            img = ImageOps.exif_transpose(img)
            return _to_mode(img, mode)
    except (ImageDecodeError, UnsupportedMedia, PayloadTooLarge):
        raise
    except UnidentifiedImageError as exc:
        raise UnsupportedMedia(f"{name}: not an image (or a format Assay does not read)", param=name) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(f"{name}: decompression bomb refused: {exc}", param=name) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageDecodeError(f"{name}: corrupt or truncated image: {exc}", param=name) from exc


def _to_mode(img: Image.Image, mode: str) -> Image.Image:
    if img.mode == mode:
        return img
    if mode == "RGB" and (img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info)):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.split()[-1])
        return bg
    if img.mode in ("I;16", "I;16B", "I;16L", "I") and mode in ("RGB", "L"):
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        arr = (arr / max(1.0, arr.max()) * 255.0).clip(0, 255).astype("uint8")
        return Image.fromarray(arr, "L").convert(mode)
    return img.convert(mode)
