"""The font the visible label is drawn with: a small OFL subset shipped inside the package.

Why it is shipped: the label must render the same on every machine (a container without CJK
fonts would otherwise draw "AI生成" as empty boxes, and the 5% rule would be measured on
nothing). ``fonts/AssayLabelSans-Bold.otf`` is a subset of Noto Sans CJK SC Bold (SIL OFL 1.1,
``fonts/OFL.txt``) holding printable ASCII and the ideographs of the GB 45438 wordings; it is
rebuilt by ``fonts/make_subset.py``. Text outside it is refused up front, never drawn as tofu.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import ImageFont

from core.errors import ConfigError

FONT_PATH = Path(__file__).resolve().parent / "fonts" / "AssayLabelSans-Bold.otf"
LICENSE_PATH = FONT_PATH.with_name("OFL.txt")

_lock = threading.Lock()
#: FreeType faces are not safe to rasterise from two threads at once; glyph rendering is ~0.1 ms,
#: so one lock around it costs nothing measurable and keeps concurrent requests correct
RENDER_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def supported_characters() -> frozenset[str]:
    """Every character the shipped font has a glyph for."""
    if not FONT_PATH.is_file():
        raise ConfigError(
            f"the label font is missing: {FONT_PATH}",
            hint="reinstall assay-gateway; the font ships inside the package",
        )
    with TTFont(FONT_PATH, lazy=True) as font:
        return frozenset(chr(cp) for cp in font.getBestCmap())


def missing_characters(text: str) -> list[str]:
    """Characters of ``text`` the label font cannot draw, in order of first appearance."""
    have = supported_characters()
    seen: list[str] = []
    for ch in text:
        if ch not in have and ch not in seen:
            seen.append(ch)
    return seen


@lru_cache(maxsize=256)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_PATH), size=size, layout_engine=ImageFont.Layout.BASIC)


def label_font(size: int) -> ImageFont.FreeTypeFont:
    """The label font at ``size`` px (cached; FreeType faces are loaded once per size)."""
    if size < 1:
        raise ValueError(f"font size must be positive, got {size}")
    with _lock:  # lru_cache is thread-safe for reads, but two threads could each load one face
        return _font(size)
