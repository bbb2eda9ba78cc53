"""The safe decoder: formats, hostile files, and every colour model it must normalise."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.errors import AssayError, ImageDecodeError, PayloadTooLarge, UnsupportedMedia
from core.images import DecodeLimits, decode_image
from gateway.policy import Limits


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def gradient(w: int = 64, h: int = 48) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.uint8)
    y = np.linspace(0, 255, h, dtype=np.uint8)
    arr = np.stack([np.tile(x, (h, 1)), np.tile(y[:, None], (1, w)), np.full((h, w), 90, np.uint8)], -1)
    return Image.fromarray(arr, "RGB")


def png_with_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but whose data is a few bytes: a bomb by its header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


# --- formats -------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"])
def test_allowed_formats_decode_to_rgb(fmt: str) -> None:
    img = decode_image(encode(gradient(), fmt), name="upload")
    assert img.mode == "RGB" and img.size == (64, 48)
    assert img.info["assay"]["format"] == fmt
    # the content survives (lossy formats within tolerance)
    diff = np.abs(np.asarray(img, np.int16) - np.asarray(gradient(), np.int16))
    assert diff.mean() < 12


def test_other_formats_never_reach_a_parser() -> None:
    ppm = encode(gradient(), "PPM")
    with pytest.raises(UnsupportedMedia) as err:
        decode_image(ppm, name="x.png")
    assert "not in an accepted format" in err.value.message and "PNG" in (err.value.hint or "")
    only_png = DecodeLimits(formats=frozenset({"PNG"}))
    with pytest.raises(UnsupportedMedia):
        decode_image(encode(gradient(), "JPEG"), limits=only_png)


def test_non_image_with_image_extension() -> None:
    with pytest.raises(UnsupportedMedia) as err:
        decode_image(b"#!/bin/sh\necho this is not a picture\n" * 20, name="holiday.png")
    assert err.value.status == 415 and "holiday.png" in err.value.message


def test_empty_and_oversized_and_wrong_type() -> None:
    with pytest.raises(ImageDecodeError, match="empty"):
        decode_image(b"")
    with pytest.raises(PayloadTooLarge) as err:
        decode_image(encode(gradient()), limits=DecodeLimits(max_bytes=100))
    assert err.value.status == 413
    with pytest.raises(ImageDecodeError, match="bytes"):
        decode_image("not bytes")  # type: ignore[arg-type]


# --- hostile geometry ------------------------------------------------------------------------------
def test_decompression_bomb_by_header_is_refused_before_decoding() -> None:
    with pytest.raises(ImageDecodeError) as err:
        decode_image(png_with_header(60000, 60000), name="bomb.png")
    assert "exceeds" in err.value.message and err.value.status == 400


def test_real_decompression_bomb() -> None:
    bomb = encode(Image.new("1", (8000, 8000)), "PNG")  # 64 M pixels in a few kB
    assert len(bomb) < 50_000
    with pytest.raises(ImageDecodeError, match="decompression bomb"):
        decode_image(bomb)


def test_pillow_bomb_guard_is_translated_when_limits_are_generous() -> None:
    lim = DecodeLimits(max_pixels=10**10, max_side=100_000)
    with pytest.raises(ImageDecodeError, match="decompression bomb"):
        decode_image(png_with_header(40000, 40000), limits=lim)


@pytest.mark.parametrize(
    "size,what", [((1, 100000), "smaller than"), ((8, 100000), "maximum side"), ((8, 1000), "aspect ratio")]
)
def test_extreme_shapes(size: tuple[int, int], what: str) -> None:
    with pytest.raises(ImageDecodeError, match=what):
        decode_image(png_with_header(*size), name="strip.png")


def test_truncated_png_and_jpeg() -> None:
    rng = np.random.default_rng(0)
    noisy = Image.fromarray(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8))
    for fmt in ("PNG", "JPEG"):
        data = encode(noisy, fmt)
        with pytest.raises(ImageDecodeError, match="corrupt or truncated") as err:
            decode_image(data[: len(data) // 2], name=f"cut.{fmt.lower()}")
        assert err.value.hint


# --- colour models -------------------------------------------------------------------------------
def test_cmyk_becomes_rgb() -> None:
    cmyk = Image.new("CMYK", (16, 16), (255, 0, 0, 0))  # pure cyan
    out = decode_image(encode(cmyk, "JPEG", quality=95))
    assert out.mode == "RGB"
    r, g, b = np.asarray(out).reshape(-1, 3).mean(axis=0)
    assert r < 20 and g > 235 and b > 235
    # a broken embedded ICC profile costs colour accuracy, not the upload
    out = decode_image(encode(cmyk, "TIFF", icc_profile=b"not a profile"))
    assert out.mode == "RGB" and out.getpixel((0, 0))[0] < 20


def test_16_bit_grey_keeps_brightness() -> None:
    arr = np.array([[0, 257 * 128, 65535, 1000]] * 8, dtype=np.uint16).repeat(4, axis=1)
    img = Image.fromarray(arr)  # uint16 -> mode I;16
    out = decode_image(encode(img, "PNG"))
    assert out.info["assay"]["source_mode"].startswith("I")
    row = np.asarray(out)[0, ::4, 0]
    assert list(row) == [0, 128, 255, 4]  # scaled by 1/257, not stretched to the image's maximum


def test_16_bit_rgb_png() -> None:
    import cv2

    rgb16 = np.zeros((16, 16, 3), np.uint16)
    rgb16[..., 0] = 65535
    rgb16[..., 1] = 257 * 100
    ok, data = cv2.imencode(".png", rgb16[..., ::-1])  # OpenCV writes BGR
    assert ok
    out = np.asarray(decode_image(data.tobytes()))
    assert tuple(out[0, 0]) == (255, 100, 0)


def test_palette_with_transparency_composites_on_white() -> None:
    p = Image.new("P", (16, 16), 0)
    p.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    p.paste(1, (8, 0, 16, 16))
    data = encode(p, "PNG", transparency=0)  # palette index 0 (red) is transparent
    rgb = decode_image(data)
    assert rgb.getpixel((0, 0)) == (255, 255, 255) and rgb.getpixel((12, 0)) == (0, 0, 255)
    rgba = decode_image(data, mode="RGBA")
    assert rgba.getpixel((0, 0))[3] == 0 and rgba.getpixel((12, 0)) == (0, 0, 255, 255)
    gif = decode_image(encode(p, "GIF", transparency=0))
    assert gif.getpixel((0, 0)) == (255, 255, 255)


def test_alpha_and_grey_modes() -> None:
    rgba = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    rgba.paste((0, 128, 0, 255), (0, 0, 8, 16))
    out = decode_image(encode(rgba))
    assert out.getpixel((0, 0)) == (0, 128, 0) and out.getpixel((12, 0)) == (255, 255, 255)
    assert decode_image(encode(rgba), mode="RGBA").getpixel((12, 0))[3] == 0
    la = Image.new("LA", (16, 16), (10, 255))
    assert decode_image(encode(la), mode="L").getpixel((0, 0)) == 10
    bw = Image.new("1", (16, 16), 1)
    assert decode_image(encode(bw)).getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display after turning 90 degrees clockwise
    out = decode_image(encode(img, "JPEG", quality=95, exif=exif.tobytes()))
    assert out.size == (20, 40)
    top, bottom = np.asarray(out)[5, 10], np.asarray(out)[35, 10]
    assert top[0] > 200 and top[2] < 60  # red on top
    assert bottom[2] > 200 and bottom[0] < 60


def _animation(fmt: str) -> bytes:
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animated_images_first_frame_or_refused(fmt: str) -> None:
    data = _animation(fmt)
    out = decode_image(data)
    assert out.info["assay"]["frames"] == 3
    r, g, b = out.getpixel((8, 8))
    assert r > 200 and g < 50 and b < 50
    with pytest.raises(ImageDecodeError, match="animated"):
        decode_image(data, limits=DecodeLimits(animated="refuse"))


def test_limits_from_policy_and_argument_checks() -> None:
    lim = DecodeLimits.from_policy(Limits(max_upload_bytes=2048, max_input_pixels=4096, animated="refuse"))
    assert (lim.max_bytes, lim.max_pixels, lim.animated) == (2048, 4096, "refuse")
    with pytest.raises(ValueError):
        DecodeLimits(animated="sometimes")
    with pytest.raises(ValueError):
        DecodeLimits(formats=frozenset({"EPS"}))
    with pytest.raises(ValueError):
        decode_image(encode(gradient()), mode="CMYK")


# --- fuzz: damaged files fail with an Assay error, never anything else ------------------------------
_SEEDS = {fmt: encode(gradient(24, 24), fmt) for fmt in ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(sorted(_SEEDS)), data=st.data())
def test_damaged_files_raise_only_assay_errors(fmt: str, data: st.DataObject) -> None:
    raw = bytearray(_SEEDS[fmt])
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    try:
        img = decode_image(bytes(raw))
    except AssayError as exc:
        assert exc.status in (400, 413, 415)
    else:
        assert img.mode == "RGB" and img.width >= 8
