"""The visible label: 5% rule measured on the rendered ink of the final image, plate contrast, placement."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from core.errors import MarkError, PolicyError
from gateway.policy import parse_policy
from provenance.label.font import FONT_PATH, LICENSE_PATH, missing_characters
from provenance.label.visible import VisibleLabel, VisibleLabelOptions, draw_label, relative_luminance
from provenance.marks import Artifact
from provenance.testing import mark_context


def ink_coverage(original: Image.Image, labeled: Image.Image, fact: dict) -> np.ndarray:
    """Per-pixel text coverage inside the plate, recovered from the output pixels alone.

    The plate composite P = orig*(1-a) + plate*a is known from the report; the output is
    P*(1-c) + text*c, so c = (out - P) / (text - P), averaged over channels.
    """
    x0, y0, x1, y1 = fact["box"]
    orig = np.asarray(original, dtype=np.float64)[y0:y1, x0:x1]
    out = np.asarray(labeled, dtype=np.float64)[y0:y1, x0:x1]
    plate, text = (0.0, 255.0) if fact["plate"] == "dark" else (255.0, 0.0)
    a = fact["plate_opacity"]
    p = orig * (1 - a) + plate * a
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(np.abs(text - p) > 1, (out - p) / (text - p), 0.0)
    return c.mean(axis=2)


def glyph_runs(cover: np.ndarray) -> list[tuple[int, int, int]]:
    """(x start, x end, ink height) of each run of columns with ink (coverage >= 50%)."""
    ink = cover >= 0.5
    cols = ink.any(axis=0)
    runs, start = [], None
    for x, on in enumerate(list(cols) + [False]):
        if on and start is None:
            start = x
        elif not on and start is not None:
            rows = np.flatnonzero(ink[:, start:x].any(axis=1))
            runs.append((start, x, int(rows[-1] - rows[0] + 1)))
            start = None
    return runs


@pytest.mark.parametrize("text", ["AI生成", "AI-generated"])
@pytest.mark.parametrize("size", [(512, 512), (256, 256), (1024, 1024), (768, 512), (512, 1024)])
def test_principal_glyphs_reach_five_percent_of_the_shorter_side(photos, text, size):
    img = photos["astronaut"].resize(size)
    out, report = draw_label(img, VisibleLabelOptions(text=text))
    need = math.ceil(0.05 * min(size))
    runs = glyph_runs(ink_coverage(img, out, report.as_fact()))
    assert len(runs) >= 4, runs
    # "A" and "I" are the first two glyphs of both labels: measured independently on the output pixels
    assert runs[0][2] >= need and runs[1][2] >= need, (runs[:2], need)
    if text == "AI生成":  # the ideographs are at least as tall as the capitals
        assert all(r[2] >= need for r in runs[2:]), runs
    assert report.glyph_height_px >= need
    assert report.glyph_ratio >= 0.05


@pytest.mark.parametrize(
    "position", ["bottom-right", "bottom-left", "top-right", "top-left", "bottom", "top", "left", "right"]
)
def test_label_sits_at_the_requested_corner_or_edge(photos, position):
    img = photos["coffee"]
    out, report = draw_label(img, VisibleLabelOptions(text="AI生成", position=position))
    x0, y0, x1, y1 = report.box
    margin = round(0.02 * 512)
    if "bottom" in position:
        assert y1 == 512 - margin
    if "top" in position:
        assert y0 == margin
    if "left" in position:
        assert x0 == margin
    if "right" in position:
        assert x1 == 512 - margin
    if position in ("top", "bottom"):
        assert abs((x0 + x1) / 2 - 256) <= 1
    if position in ("left", "right"):
        assert abs((y0 + y1) / 2 - 256) <= 1
    # nothing outside the plate changed
    diff = np.abs(np.asarray(out, np.int16) - np.asarray(img, np.int16)).sum(axis=2)
    ys, xs = np.nonzero(diff)
    assert ys.min() >= y0 and ys.max() < y1 and xs.min() >= x0 and xs.max() < x1


@pytest.mark.parametrize("background", [0, 255, "noise"])
def test_plate_keeps_the_text_legible_on_any_background(noise_image, background):
    img = noise_image if background == "noise" else Image.new("RGB", (512, 512), (background,) * 3)
    out, report = draw_label(img, VisibleLabelOptions(text="AI-generated", plate_opacity=0.3))
    fact = report.as_fact()
    cover = ink_coverage(img, out, fact)
    x0, y0, x1, y1 = report.box
    px = np.asarray(out)[y0:y1, x0:x1]
    text_lum = relative_luminance(px[cover >= 0.98]).mean()
    plate_lum = relative_luminance(px[cover <= 0.02])
    worst = ((np.maximum(text_lum, plate_lum) + 0.05) / (np.minimum(text_lum, plate_lum) + 0.05)).min()
    assert worst >= 4.5
    if background == 0:
        assert report.plate == "light"
    if background == 255:
        assert report.plate == "dark"
    if background == "noise":  # a 0.3 plate cannot give 4.5:1 over noise: the opacity was raised
        assert report.plate_opacity > 0.3


def test_mark_applies_options_records_facts_and_leaves_the_input_alone(photos):
    img = photos["chelsea"]
    before = np.asarray(img).copy()
    art = Artifact(image=img, format="png", data=b"stale")
    ctx = mark_context(options=VisibleLabelOptions.model_validate({"text": "AI生成", "position": "top-left"}))
    art = VisibleLabel().apply(art, ctx)
    assert art.data is None  # the stale encoding was dropped
    assert np.array_equal(np.asarray(img), before)
    fact = art.facts["label.visible"]
    assert fact["text"] == "AI生成" and fact["position"] == "top-left" and fact["glyph_ratio"] >= 0.05


def test_a_label_that_cannot_fit_fails_closed():
    with pytest.raises(MarkError, match="does not fit"):
        draw_label(
            Image.new("RGB", (64, 1024), (90, 90, 90)),
            VisibleLabelOptions(text="Generated by an AI system (AI-generated)"),
        )


def test_text_outside_the_shipped_font_is_refused_up_front():
    assert missing_characters("AI產生") == ["產"]
    with pytest.raises(ValueError, match="cannot draw"):
        VisibleLabelOptions(text="AI產生")
    policy = """
id: bad
unsafe_allow_unmarked: true
marks:
  - {name: label.visible, options: {text: "AI產生"}}
"""
    with pytest.raises(PolicyError, match=r"marks\.0\.options\.text"):
        parse_policy(policy, "bad.yaml")
    with pytest.raises(PolicyError, match=r"bad\.yaml:\d+: marks\.0\.options\.min_glyph_ratio"):
        parse_policy(policy.replace('text: "AI產生"', "min_glyph_ratio: 0.01"), "bad.yaml")


def test_the_font_is_a_small_subset_shipped_with_its_licence():
    assert FONT_PATH.stat().st_size < 100_000
    licence = LICENSE_PATH.read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence and "Modified Version" in licence
    assert missing_characters("AI生成 AI合成 人工智能生成 由人工智能生成 AI-generated 0123") == []
