"""Embed and decode on real photographs: the acceptance path (strip + JPEG 75 + 0.5x) and friends."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageEnhance
from wm_support import jpeg, photo, scale

from provenance.watermark import decode_watermark, embed_watermark, payload_for
from provenance.watermark.layout import SchemeParams

ATTACKS = {
    "none": lambda im: im,
    "jpeg50": lambda im: jpeg(im, 50),
    "jpeg75_then_half": lambda im: scale(jpeg(im, 75), 0.5),  # the acceptance case, decoded at 256x256
    "half_then_jpeg75": lambda im: jpeg(scale(im, 0.5), 75),  # the order social networks use
    "half_and_back": lambda im: scale(scale(im, 0.5), 2.0),
    "brighter_20": lambda im: ImageEnhance.Brightness(im).enhance(1.2),
    "darker_20": lambda im: ImageEnhance.Brightness(im).enhance(0.8),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_payload_survives(marked: dict, attack: str) -> None:
    for name, (img, payload) in marked.items():
        reading = decode_watermark(ATTACKS[attack](img), search=False)
        assert reading is not None, f"{name}: no payload after {attack}"
        assert reading.payload == payload
        assert reading.method == "direct" and reading.coded_bits == 141


def test_psnr_floor_and_invisible_energy(photos: dict, marked: dict) -> None:
    for name, (img, _) in marked.items():
        a = np.asarray(photos[name], dtype=np.float64)
        b = np.asarray(img, dtype=np.float64)
        psnr = 10 * np.log10(255**2 / np.mean((a - b) ** 2))
        assert psnr >= 38.4, f"{name}: PSNR {psnr:.2f}"


def test_clean_reading_reports_no_corrected_errors(marked: dict) -> None:
    img, payload = marked["coffee"]
    r = decode_watermark(img, search=False)
    assert r is not None and r.payload == payload and r.payload_hex == f"{payload:016x}"
    assert r.bit_errors == 0 and r.confidence == 1.0 and r.correlation > 0.9 and r.scale == 1.0


@pytest.mark.parametrize("size, factor", [((768, 512), 0.5), ((1024, 1024), 0.5), ((256, 256), 0.75)])
def test_other_sizes_and_aspect_ratios(size: tuple[int, int], factor: float) -> None:
    # A copy must keep >= ~180 px on its short side: below that the upper part of the mark's
    # frequency ring is gone (a 256x256 image halved to 128x128 does not decode).
    img = photo("coffee", size)
    payload = payload_for("01JDQ3V6ZK7C3M5W0Y8N2P4R6T", 7)
    out = embed_watermark(img, payload)
    assert out.image.size == size and out.psnr >= 38.4
    for attacked in (out.image, scale(jpeg(out.image, 75), factor)):
        r = decode_watermark(attacked, search=False)
        assert r is not None and r.payload == payload


def test_a_crop_is_found_by_the_resync_search(marked: dict) -> None:
    img, payload = marked["chelsea"]  # a crop keeping 90% of each side, off-centre
    cropped = img.crop((20, 30, 20 + 461, 30 + 461))
    assert decode_watermark(cropped, search=False) is None  # the direct path cannot see it...
    r = decode_watermark(cropped)  # ...the resync search can
    assert r is not None and r.payload == payload and r.method == "resync"
    assert abs(r.scale - 0.9) < 0.01


def test_unmarked_images_yield_no_payload(photos: dict) -> None:
    rng = np.random.default_rng(1)
    candidates = [
        photos["astronaut"],
        photos["rocket"],
        Image.new("RGB", (512, 512), (128, 128, 128)),  # flat: nothing at all to decode
        Image.fromarray(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)),
        jpeg(photos["coffee"], 50),
    ]
    for img in candidates:
        assert decode_watermark(img) is None


def test_a_different_key_reads_nothing(marked: dict) -> None:
    img, _ = marked["astronaut"]
    assert decode_watermark(img, search=False, params=SchemeParams(key="another-operator")) is None


def test_modes_alpha_and_grey_are_kept() -> None:
    rgba = photo("chelsea").convert("RGBA")
    alpha = Image.linear_gradient("L").resize(rgba.size)
    rgba.putalpha(alpha)
    payload = payload_for("r", 0)
    out = embed_watermark(rgba, payload).image
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out.getchannel("A")), np.asarray(alpha))
    assert decode_watermark(out, search=False).payload == payload

    grey = photo("camera").convert("L")
    out = embed_watermark(grey, payload).image
    assert out.mode == "L"
    assert decode_watermark(jpeg(out, 75), search=False).payload == payload


def test_too_small_images_are_refused_or_ignored() -> None:
    with pytest.raises(ValueError, match="at least 128"):
        embed_watermark(Image.new("RGB", (100, 400)), 1)
    assert decode_watermark(Image.new("RGB", (40, 40))) is None


def test_strength_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="strength"):
        embed_watermark(photo("coffee", (256, 256)), 1, strength=0)


def test_a_large_upload_decodes_after_the_pre_shrink() -> None:
    img = photo("coffee", (2400, 1600))
    payload = payload_for("big", 0)
    marked = embed_watermark(img, payload).image
    r = decode_watermark(jpeg(marked, 80))
    assert r is not None and r.payload == payload


@pytest.mark.parametrize("colour", [(255, 0, 0), (255, 255, 0), (0, 0, 0), (255, 255, 255)])
def test_saturated_and_flat_images_still_carry_the_mark(colour: tuple[int, int, int]) -> None:
    # a channel at 0 or 255 clips; the mark goes through the others (pure red: green and blue up,
    # red down), so even a fully saturated generated image is released marked, not refused
    payload = payload_for("flat", 0)
    out = embed_watermark(Image.new("RGB", (512, 512), colour), payload)
    assert out.psnr >= 38.4
    r = decode_watermark(scale(jpeg(out.image, 75), 0.5), search=False)
    assert r is not None and r.payload == payload
