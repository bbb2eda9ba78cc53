"""Safe image decoding, shared by every entry point that accepts an image (HTTP uploads, CLI, verify).

Decoding untrusted files is where image services get hurt: decompression bombs, truncated files,
formats nobody meant to accept, parsers for exotic formats (EPS runs Ghostscript). :func:`decode_image`

* lets Pillow try only the allow-listed formats (no other parser ever sees the bytes);
* checks the byte size *before* decoding and the pixel count, side and aspect ratio from the header
  *before* loading the pixels;
* takes the first frame of an animated image, or refuses it, as the policy says;
* loads fully, so a truncated or corrupt file fails here and not half-way through a check;
* applies the EXIF orientation, so detectors see the picture the way a person does;
* normalises the colour model: CMYK (through its ICC profile when it has one), 16-bit, palette,
  palette or grey with transparency, alpha (composited on white for RGB) all become ``mode``;

and raises an :class:`~core.errors.ImageDecodeError` (a 4xx) naming what is wrong and what to do.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from core.errors import ImageDecodeError, PayloadTooLarge, UnsupportedMedia

log = logging.getLogger(__name__)

ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"})
#: modes a caller may ask for
OUTPUT_MODES = frozenset({"RGB", "RGBA", "L"})
ANIMATED_POLICIES = ("first_frame", "refuse")

# Pillow's own safety nets must stay on: a truncated file must fail, not decode as grey.
if ImageFile.LOAD_TRUNCATED_IMAGES:  # pragma: no cover - only if someone switched it on globally
    log.warning("PIL.ImageFile.LOAD_TRUNCATED_IMAGES was on; Assay switches it off")
    ImageFile.LOAD_TRUNCATED_IMAGES = False


@dataclass(frozen=True)
class DecodeLimits:
    """What an image must satisfy before its pixels are decoded. Defaults match ``default.yaml``."""

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 16_777_216
    max_side: int = 8192
    min_side: int = 8
    max_aspect: float = 64.0
    animated: str = "first_frame"  # or "refuse"
    formats: frozenset[str] = ALLOWED_FORMATS

    def __post_init__(self) -> None:
        if self.animated not in ANIMATED_POLICIES:
            raise ValueError(f"animated must be one of {ANIMATED_POLICIES}, not {self.animated!r}")
        unknown = {f.upper() for f in self.formats} - ALLOWED_FORMATS
        if unknown:
            raise ValueError(
                f"formats {sorted(unknown)} are not decodable safely; allowed: {sorted(ALLOWED_FORMATS)}"
            )

    @classmethod
    def from_policy(cls, limits: Any) -> DecodeLimits:
        """Build from a policy's ``limits`` section (:class:`gateway.policy.Limits`)."""
        return cls(
            max_bytes=limits.max_upload_bytes,
            max_pixels=limits.max_input_pixels,
            max_side=getattr(limits, "max_input_side", cls.max_side),
            animated=limits.animated,
        )


def decode_image(
    data: bytes, *, limits: DecodeLimits | None = None, name: str = "image", mode: str = "RGB"
) -> Image.Image:
    """Decode ``data`` into a fully loaded image in ``mode`` (RGB by default), or raise.

    ``name`` is how errors refer to the input (e.g. ``image``, ``mask``, ``image[1]``). ``mode`` is
    one of RGB, RGBA or L. The result has its EXIF orientation applied and ``info["assay"]`` holding
    the source format, the frame count and the source pixel mode.
    """
    lim = limits or DecodeLimits()
    if mode not in OUTPUT_MODES:
        raise ValueError(f"mode must be one of {sorted(OUTPUT_MODES)}, not {mode!r}")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageDecodeError(f"{name}: expected the file's bytes, got {type(data).__name__}", param=name)
    if not data:
        raise ImageDecodeError(f"{name}: empty file", param=name, hint="send the image file's bytes")
    if len(data) > lim.max_bytes:
        raise PayloadTooLarge(
            f"{name}: {len(data)} bytes exceeds the limit of {lim.max_bytes} bytes",
            param=name,
            hint="send a smaller or more compressed image",
        )
    formats = sorted(f.upper() for f in lim.formats)
    fmt = ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(bytes(data)), formats=formats)
            fmt = (img.format or "").upper()
            _check_geometry(img.size, lim, name)
            frames = int(getattr(img, "n_frames", 1) or 1)
            if frames > 1:
                if lim.animated == "refuse":
                    raise ImageDecodeError(
                        f"{name}: animated images ({frames} frames) are not accepted by this policy",
                        param=name,
                        hint="send a still image (one frame)",
                    )
                img.seek(0)
            source_mode = img.mode
            img.load()
            _apply_orientation(img, name)
            out = _to_mode(img, mode, name)
    except (ImageDecodeError, UnsupportedMedia, PayloadTooLarge):
        raise
    except UnidentifiedImageError as exc:
        raise UnsupportedMedia(
            f"{name}: not an image, or not in an accepted format",
            param=name,
            hint=f"accepted formats: {', '.join(formats)}",
        ) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(f"{name}: decompression bomb refused: {exc}", param=name) from exc
    except (
        OSError,
        SyntaxError,
        ValueError,
        TypeError,
        ZeroDivisionError,
        EOFError,
        IndexError,
        KeyError,
        struct.error,
    ) as exc:  # what Pillow plugins raise on malformed files
        raise ImageDecodeError(
            f"{name}: corrupt or truncated {fmt or 'image'} file: {exc}",
            param=name,
            hint="re-export the image from an editor and send the complete file",
        ) from exc
    out.info["assay"] = {"format": fmt, "frames": frames, "source_mode": source_mode}
    return out


def _check_geometry(size: tuple[int, int], lim: DecodeLimits, name: str) -> None:
    w, h = size
    if w < lim.min_side or h < lim.min_side:
        raise ImageDecodeError(f"{name}: {w}x{h} is smaller than {lim.min_side}x{lim.min_side}", param=name)
    if w > lim.max_side or h > lim.max_side:
        raise ImageDecodeError(
            f"{name}: {w}x{h} exceeds the maximum side of {lim.max_side} px",
            param=name,
            hint="resize the image",
        )
    if w * h > lim.max_pixels:
        raise ImageDecodeError(
            f"{name}: {w}x{h} = {w * h} pixels exceeds the limit of {lim.max_pixels} (decompression bomb?)",
            param=name,
            hint="resize the image",
        )
    if max(w, h) / max(1, min(w, h)) > lim.max_aspect:
        raise ImageDecodeError(f"{name}: aspect ratio of {w}x{h} exceeds {lim.max_aspect:g}:1", param=name)


def _apply_orientation(img: Image.Image, name: str) -> None:
    """Rotate/flip per the EXIF orientation tag. An unreadable EXIF block leaves the image as stored."""
    try:
        ImageOps.exif_transpose(img, in_place=True)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for malformed EXIF
        log.info("%s: EXIF orientation unreadable (%s); using the image as stored", name, exc)


_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _to_mode(img: Image.Image, mode: str, name: str) -> Image.Image:
    if img.mode in _SIXTEEN_BIT:
        # 16-bit grey (and 32-bit int holding 16-bit data): scale 0..65535 -> 0..255 keeping brightness.
        arr = np.asarray(img, dtype=np.float32)
        img = Image.fromarray(np.clip(arr / 257.0 + 0.5, 0, 255).astype(np.uint8), "L")
    elif img.mode == "F":
        raise UnsupportedMedia(
            f"{name}: 32-bit floating-point images are not accepted",
            param=name,
            hint="export as 8- or 16-bit PNG or JPEG",
        )
    elif img.mode == "CMYK":
        img = _cmyk_to_rgb(img)
    elif img.mode == "1":
        img = img.convert("L")
    elif img.mode in ("P", "PA"):
        has_alpha = img.mode == "PA" or "transparency" in img.info
        img = img.convert("RGBA" if has_alpha else "RGB")
    elif img.mode in ("L", "RGB") and "transparency" in img.info:
        img = img.convert("RGBA" if img.mode == "RGB" else "LA")
    elif img.mode in ("La", "RGBa"):
        img = img.convert("RGBA")
    elif img.mode not in ("L", "LA", "RGB", "RGBA", "RGBX", "YCbCr"):
        raise UnsupportedMedia(
            f"{name}: pixel mode {img.mode} is not supported",
            param=name,
            hint="export as 8-bit RGB, RGBA or greyscale",
        )
    if img.mode == mode:
        return img
    if img.mode in ("RGBA", "LA") and mode != "RGBA":
        # transparent pixels become white, as a viewer shows them on a page, not as their hidden colour
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg if mode == "RGB" else bg.convert(mode)
    return img.convert(mode)


def _cmyk_to_rgb(img: Image.Image) -> Image.Image:
    """CMYK -> sRGB through the embedded ICC profile when there is one (Pillow's naive formula otherwise)."""
    icc = img.info.get("icc_profile")
    if icc:
        try:
            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            dst = ImageCms.createProfile("sRGB")
            out = ImageCms.profileToProfile(img, src, dst, outputMode="RGB")  # None only when inPlace
            if out is not None:
                return out
        except Exception as exc:  # noqa: BLE001 - a bad profile only costs colour accuracy
            log.info("CMYK ICC profile unusable (%s); converting without it", exc)
    return img.convert("RGB")
