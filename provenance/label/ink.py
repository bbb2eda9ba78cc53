"""Measuring the label on its rendered ink, the way GB 45438's 5% rule is tested.

Why measure ink and not the font size: a 20 px font does not draw 20 px letters (a capital "A"
of Noto Sans Bold is about 0.73 em, an ideograph about 0.9 em), so a label sized by font size
alone fails the rule it claims to meet. Here a glyph's height is the number of pixel rows in which
the rasterised glyph has ink (coverage >= 50%). The label's height is that of its *principal*
glyphs — capitals, digits and ideographs — the smallest of which must reach the threshold;
lower-case letters and punctuation are shorter by design and are not what the rule measures.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from provenance.label.font import RENDER_LOCK, label_font

#: coverage (0..255) from which a pixel counts as ink
INK_THRESHOLD = 128


def is_principal(ch: str) -> bool:
    """Capitals, digits and CJK ideographs: the glyphs whose height the 5% rule is about."""
    if ch.isdigit() or ("A" <= ch <= "Z"):
        return True
    name = unicodedata.name(ch, "")
    return name.startswith("CJK UNIFIED IDEOGRAPH") or name.startswith("CJK COMPATIBILITY IDEOGRAPH")


def ink_rows(mask: np.ndarray, threshold: int = INK_THRESHOLD) -> int:
    """Number of rows from the first to the last row with ink in a coverage mask (0 if none)."""
    rows = np.flatnonzero((mask >= threshold).any(axis=1))
    return 0 if rows.size == 0 else int(rows[-1] - rows[0] + 1)


@lru_cache(maxsize=4096)
def glyph_ink_height(ch: str, size: int) -> int:
    """Ink height in pixels of one character rendered at ``size`` px."""
    font = label_font(size)
    with RENDER_LOCK:
        mask, _offset = font.getmask2(ch, mode="L")
    arr = np.frombuffer(bytes(mask), dtype=np.uint8)
    w, h = mask.size
    if w == 0 or h == 0:
        return 0
    return ink_rows(arr.reshape(h, w))


@dataclass(frozen=True)
class InkMeasure:
    """The smallest principal glyph of a text at one size, and which glyph that is."""

    size: int
    height_px: int
    glyph: str


def measure_text(text: str, size: int) -> InkMeasure:
    """The label height of ``text`` at ``size``: the smallest ink height among its principal glyphs.

    Text without a principal glyph (all lower-case) is measured on all its visible glyphs instead,
    so that it is never sized by an empty set.
    """
    chars = [c for c in dict.fromkeys(text) if is_principal(c)] or [
        c for c in dict.fromkeys(text) if not c.isspace()
    ]
    if not chars:
        raise ValueError("the label text has no visible characters")
    heights = [(glyph_ink_height(c, size), c) for c in chars]
    h, g = min(heights)
    return InkMeasure(size=size, height_px=h, glyph=g)


def size_for_height(
    text: str, min_height_px: int, *, start: int | None = None, max_size: int = 2000
) -> InkMeasure:
    """The smallest font size whose principal glyphs reach ``min_height_px`` of ink."""
    if min_height_px < 1:
        min_height_px = 1
    size = max(1, start if start is not None else int(min_height_px / 0.9))
    m = measure_text(text, size)
    while m.height_px < min_height_px:
        if size >= max_size:
            raise ValueError(f"cannot reach {min_height_px} px of ink below font size {max_size}")
        size += max(1, (min_height_px - m.height_px) // 2)
        m = measure_text(text, size)
    # step down while the size below still meets the height (the start may have overshot)
    while size > 1:
        below = measure_text(text, size - 1)
        if below.height_px < min_height_px:
            break
        size, m = size - 1, below
    return m
