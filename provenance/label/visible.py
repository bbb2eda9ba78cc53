"""The visible label (`label.visible`): "AI生成" / "AI-generated" drawn on a contrast-aware plate.

Why it looks like this: GB 45438 asks for a conspicuous text label on an edge or corner whose
glyphs are at least 5% of the image's shorter side; California's SB 942 asks that the manifest
disclosure be clear and conspicuous. So the label is sized on its *rendered ink* (see
:mod:`provenance.label.ink`), drawn glyph by glyph at integer positions (so the ink measured is
exactly the ink drawn), and set on a plate whose shade is chosen against what lies under it and
whose opacity is raised until the text reaches the contrast the policy asks for (WCAG 4.5:1 by
default) on every pixel of the plate. A label that cannot meet the rule (image too small for
the text) raises :class:`MarkError`: the pipeline fails closed rather than releasing an image
with an undersized label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import MarkError
from core.plugins import typed_options
from provenance.label.font import RENDER_LOCK, label_font, missing_characters
from provenance.label.ink import InkMeasure, ink_rows, is_principal, size_for_height
from provenance.ledger.bodies import VisibleLabelFacts
from provenance.marks import Artifact, MarkContext

Position = Literal["bottom-right", "bottom-left", "top-right", "top-left", "bottom", "top", "left", "right"]

DEFAULT_TEXT = "AI-generated"


class VisibleLabelOptions(BaseModel):
    """Options of ``label.visible`` in a policy's ``marks:`` list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the label text; the shipped font covers printable ASCII and 人工智能生成合由内容标识
    #: (+ CJK punctuation)
    text: str = Field(default=DEFAULT_TEXT, min_length=1, max_length=48)
    #: a corner, or the middle of an edge
    position: Position = "bottom-right"
    #: principal glyph ink height as a share of the shorter image side (GB 45438: at least 5%)
    min_glyph_ratio: float = Field(default=0.05, ge=0.05, le=0.25)
    #: gap between the plate and the image border, as a share of the shorter side
    margin_ratio: float = Field(default=0.02, ge=0.0, le=0.2)
    #: plate shade: "auto" picks the shade opposite to the pixels under the plate
    plate: Literal["auto", "dark", "light"] = "auto"
    #: starting plate opacity; raised automatically until ``min_contrast`` holds
    plate_opacity: float = Field(default=0.75, ge=0.3, le=1.0)
    #: minimum WCAG contrast ratio between the text and every pixel of the plate
    min_contrast: float = Field(default=4.5, ge=3.0, le=21.0)

    @field_validator("text")
    @classmethod
    def _renderable(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the label text is blank")
        if any(ord(c) < 0x20 for c in v):
            raise ValueError("the label text must be one line without control characters")
        missing = missing_characters(v)
        if missing:
            raise ValueError(
                f"the label font cannot draw {''.join(missing)!r}; use printable ASCII or "
                "人工智能生成合由内容标识 (e.g. 'AI生成', 'AI-generated')"
            )
        return v


# --- colour --------------------------------------------------------------------------------------
_SRGB_TO_LINEAR = np.array(
    [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (np.arange(256) / 255.0)],
    dtype=np.float64,
)


def relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of uint8 sRGB pixels (``...x3``)."""
    lin = _SRGB_TO_LINEAR[rgb.astype(np.uint8)]
    return lin[..., 0] * 0.2126 + lin[..., 1] * 0.7152 + lin[..., 2] * 0.0722


def contrast_ratio(l1: np.ndarray | float, l2: np.ndarray | float) -> np.ndarray:
    hi, lo = np.maximum(l1, l2), np.minimum(l1, l2)
    return (hi + 0.05) / (lo + 0.05)


_DARK = np.array([0, 0, 0], dtype=np.float64)
_LIGHT = np.array([255, 255, 255], dtype=np.float64)


# --- layout --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Glyph:
    ch: str
    mask: np.ndarray  # coverage 0..255, h x w
    x: int  # left of the mask, relative to the pen origin of the text
    y: int  # top of the mask, relative to the baseline


@dataclass(frozen=True)
class LabelLayout:
    """Where the label goes and how big it is; computed before any pixel changes."""

    measure: InkMeasure
    glyphs: tuple[_Glyph, ...]
    text_box: tuple[int, int, int, int]  # ink box relative to (pen origin, baseline)
    pad: int
    plate_size: tuple[int, int]


@lru_cache(maxsize=128)
def _layout(text: str, min_height_px: int) -> LabelLayout:
    """Glyph masks and plate size for ``text`` at the smallest size reaching ``min_height_px``.

    Cached: every image of one size and policy gets the same layout (masks are read-only)."""
    measure = size_for_height(text, min_height_px)
    font = label_font(measure.size)
    glyphs: list[_Glyph] = []
    pen = 0.0
    for ch in text:
        if not ch.isspace():
            with RENDER_LOCK:
                mask, (ox, oy) = font.getmask2(ch, mode="L", anchor="ls")
            w, h = mask.size
            arr = (
                np.frombuffer(bytes(mask), dtype=np.uint8).reshape(h, w)
                if w and h
                else np.zeros((0, 0), np.uint8)
            )
            arr.flags.writeable = False
            glyphs.append(_Glyph(ch, arr, int(round(pen)) + ox, oy))
        with RENDER_LOCK:
            pen += font.getlength(ch)
    boxes = [(g.x, g.y, g.x + g.mask.shape[1], g.y + g.mask.shape[0]) for g in glyphs if g.mask.size]
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    pad = max(2, int(round(0.3 * measure.height_px)))
    return LabelLayout(measure, tuple(glyphs), (x0, y0, x1, y1), pad, (x1 - x0 + 2 * pad, y1 - y0 + 2 * pad))


def _place(pos: str, size: tuple[int, int], plate: tuple[int, int], margin: int) -> tuple[int, int]:
    W, H = size
    pw, ph = plate
    cx, cy = (W - pw) // 2, (H - ph) // 2
    left, right, top, bottom = margin, W - pw - margin, margin, H - ph - margin
    return {
        "bottom-right": (right, bottom),
        "bottom-left": (left, bottom),
        "top-right": (right, top),
        "top-left": (left, top),
        "bottom": (cx, bottom),
        "top": (cx, top),
        "left": (left, cy),
        "right": (right, cy),
    }[pos]


@dataclass(frozen=True)
class LabelReport:
    """What was drawn, for the ledger (``artifact.facts['label.visible']``)."""

    text: str
    position: str
    box: tuple[int, int, int, int]
    font_size: int
    glyph_height_px: int
    glyph_ratio: float
    measured_glyph: str
    plate: str
    plate_opacity: float
    contrast: float

    def as_fact(self) -> dict[str, Any]:
        return VisibleLabelFacts(
            text=self.text,
            position=self.position,
            box=list(self.box),
            font_size=self.font_size,
            glyph_height_px=self.glyph_height_px,
            glyph_ratio=round(self.glyph_ratio, 4),
            measured_glyph=self.measured_glyph,
            plate=self.plate,
            plate_opacity=round(self.plate_opacity, 3),
            contrast=round(self.contrast, 2),
        ).to_body()


def draw_label(image: Image.Image, opts: VisibleLabelOptions) -> tuple[Image.Image, LabelReport]:
    """Draw the label on a copy of ``image`` (RGB) and report what was drawn; raise if it cannot comply."""
    img = image if image.mode == "RGB" else image.convert("RGB")
    W, H = img.size
    short = min(W, H)
    # the rule is ">= 5%": a fractional pixel threshold rounds up
    need = int(math.ceil(opts.min_glyph_ratio * short - 1e-9))
    try:
        layout = _layout(opts.text, max(1, need))
    except ValueError as exc:
        raise MarkError(f"label.visible: cannot size {opts.text!r}: {exc}") from exc
    margin = int(round(opts.margin_ratio * short))
    pw, ph = layout.plate_size
    if pw > W - 2 * margin or ph > H - 2 * margin:
        raise MarkError(
            f"label.visible: a {pw}x{ph} px label {opts.text!r} (glyphs {need} px = "
            f"{opts.min_glyph_ratio:.0%} of {short} px) does not fit a {W}x{H} image",
            hint="use a shorter label text (e.g. 'AI生成') or a larger output size",
        )
    px, py = _place(opts.position, (W, H), (pw, ph), margin)

    arr = np.array(img, dtype=np.uint8)  # a copy: the input image is never modified
    region = arr[py : py + ph, px : px + pw].astype(np.float64)
    if opts.plate == "auto":
        shade = "dark" if float(relative_luminance(region.astype(np.uint8)).mean()) >= 0.18 else "light"
    else:
        shade = opts.plate
    plate_rgb, text_rgb = (_DARK, _LIGHT) if shade == "dark" else (_LIGHT, _DARK)
    text_lum = float(relative_luminance(text_rgb.astype(np.uint8)))

    alpha = opts.plate_opacity
    while True:
        composed = region * (1.0 - alpha) + plate_rgb * alpha
        worst = float(contrast_ratio(relative_luminance(np.rint(composed).astype(np.uint8)), text_lum).min())
        if worst >= opts.min_contrast or alpha >= 1.0:
            break
        alpha = min(1.0, alpha + 0.05)

    # glyphs, each at an integer position (the ink drawn is the ink measured)
    cover = np.zeros((ph, pw), dtype=np.float64)
    ox = layout.pad - layout.text_box[0]
    oy = layout.pad - layout.text_box[1]
    for g in layout.glyphs:
        h, w = g.mask.shape
        if not h or not w:
            continue
        x, y = ox + g.x, oy + g.y
        sub = cover[y : y + h, x : x + w]
        np.maximum(sub, g.mask / 255.0, out=sub)
    out = composed * (1.0 - cover[..., None]) + text_rgb * cover[..., None]
    arr[py : py + ph, px : px + pw] = np.rint(out).astype(np.uint8)

    drawn = (
        min(ink_rows(g.mask) for g in layout.glyphs if is_principal(g.ch))
        if any(is_principal(g.ch) for g in layout.glyphs)
        else layout.measure.height_px
    )
    if (
        drawn < need
    ):  # pragma: no cover - guarded by size_for_height; kept so the rule can never pass silently
        raise MarkError(f"label.visible: drew {drawn} px glyphs, the rule needs {need} px")
    report = LabelReport(
        text=opts.text,
        position=opts.position,
        box=(px, py, px + pw, py + ph),
        font_size=layout.measure.size,
        glyph_height_px=drawn,
        glyph_ratio=drawn / short,
        measured_glyph=layout.measure.glyph,
        plate=shade,
        plate_opacity=alpha,
        contrast=worst,
    )
    return Image.fromarray(arr, "RGB"), report


class VisibleLabel:
    """The ``label.visible`` mark (built once per process; stateless, so thread-safe)."""

    name: ClassVar[str] = "label.visible"

    def apply(self, artifact: Artifact, ctx: MarkContext) -> Artifact:
        opts = typed_options(ctx.options, VisibleLabelOptions)
        artifact.image, report = draw_label(artifact.image, opts)
        artifact.invalidate()
        artifact.facts[self.name] = report.as_fact()
        return artifact


def build(settings: Any) -> VisibleLabel:  # noqa: ARG001 - the registry passes settings to every factory
    return VisibleLabel()
