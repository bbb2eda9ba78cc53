"""Procedural training data: one coloured shape on a flat background, with a caption.

Why procedural: the default model must be trainable on a fresh machine with no download, and a
closed world of scenes lets the benchmark check every attribute of every generated image. Scenes
are drawn at 4x the native size and box-downsampled, so edges are anti-aliased and backgrounds are
exactly flat. Everything is a pure function of a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from models.default.concepts import (
    COLOUR_NAMES,
    POSITION_ANCHORS,
    POSITIONS,
    SHAPES,
    SIZE_RADII,
    SIZES,
    Attributes,
    colour_rgb,
)

SUPERSAMPLE = 4


@dataclass(frozen=True)
class Scene:
    """Everything that determines one picture (the attributes plus the jitter)."""

    colour: str
    shape: str
    size: str
    position: str
    background: str
    dx: float = 0.0  # centre jitter, fraction of the side
    dy: float = 0.0
    scale: float = 1.0  # radius jitter factor
    rotation: float = 0.0  # degrees

    @property
    def attributes(self) -> Attributes:
        return Attributes(self.colour, self.shape, self.size, self.position, self.background)


def random_scene(rng: np.random.Generator) -> Scene:
    colour = COLOUR_NAMES[rng.integers(len(COLOUR_NAMES))]
    background = colour
    while background == colour:
        background = COLOUR_NAMES[rng.integers(len(COLOUR_NAMES))]
    return Scene(
        colour=colour,
        shape=SHAPES[rng.integers(len(SHAPES))],
        size=SIZES[rng.integers(len(SIZES))],
        position=POSITIONS[rng.integers(len(POSITIONS))],
        background=background,
        dx=float(rng.uniform(-0.045, 0.045)),
        dy=float(rng.uniform(-0.045, 0.045)),
        scale=float(rng.uniform(0.9, 1.1)),
        rotation=float(rng.uniform(-15, 15)),
    )


def _rotate(points: list[tuple[float, float]], cx: float, cy: float, deg: float) -> list[tuple[float, float]]:
    a = math.radians(deg)
    ca, sa = math.cos(a), math.sin(a)
    return [(cx + (x - cx) * ca - (y - cy) * sa, cy + (x - cx) * sa + (y - cy) * ca) for x, y in points]


def _polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if shape == "square":
        h = r * 0.85
        return [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    if shape == "triangle":
        R = r * 1.15
        return [
            (cx + R * math.sin(t), cy - R * math.cos(t) + R * 0.15)
            for t in (0, 2 * math.pi / 3, 4 * math.pi / 3)
        ]
    if shape == "star":
        out = []
        for k in range(10):
            R = r * 1.15 if k % 2 == 0 else r * 0.48
            t = k * math.pi / 5
            out.append((cx + R * math.sin(t), cy - R * math.cos(t) + r * 0.08))
        return out
    if shape == "heart":
        out = []
        for k in range(64):
            t = 2 * math.pi * k / 64
            x = 16 * math.sin(t) ** 3
            y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
            out.append((cx + x * r / 15.5, cy - (y + 2.5) * r / 15.5))
        return out
    raise ValueError(shape)


def render(scene: Scene, size: int = 32) -> np.ndarray:
    """Draw ``scene`` as an ``(size, size, 3)`` uint8 array."""
    big = size * SUPERSAMPLE
    img = Image.new("RGB", (big, big), colour_rgb(scene.background))
    draw = ImageDraw.Draw(img)
    ax, ay = POSITION_ANCHORS[scene.position]
    cx, cy = (ax + scene.dx) * big, (ay + scene.dy) * big
    r = SIZE_RADII[scene.size] * scene.scale * big
    fg = colour_rgb(scene.colour)
    if scene.shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fg)
    elif scene.shape == "ring":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fg)
        ri = r * 0.55
        draw.ellipse((cx - ri, cy - ri, cx + ri, cy + ri), fill=colour_rgb(scene.background))
    else:
        draw.polygon(_rotate(_polygon(scene.shape, cx, cy, r), cx, cy, scene.rotation), fill=fg)
    return np.asarray(img.reduce(SUPERSAMPLE), dtype=np.uint8)


# --- captions -------------------------------------------------------------------------------

_EN_SIZE = {"small": ["small", "little", "tiny"], "large": ["large", "big"]}
_EN_POS = {
    "centre": ["in the centre", "in the center", "in the middle", "centred", "at the center"],
    "left": ["on the left", "at the left", "on the left side", "to the left"],
    "right": ["on the right", "at the right", "on the right side", "to the right"],
    "top": ["at the top", "near the top", "in the upper part", "at the top of the image"],
    "bottom": ["at the bottom", "near the bottom", "in the lower part", "at the bottom of the image"],
}
_EN_COLOUR_ALT = {"gray": ["gray", "grey"]}
_ZH_COLOUR = {
    "red": ["红色", "紅色"],
    "orange": ["橙色", "橘色"],
    "yellow": ["黄色", "黃色"],
    "green": ["绿色", "綠色"],
    "cyan": ["青色"],
    "blue": ["蓝色", "藍色"],
    "purple": ["紫色"],
    "pink": ["粉色", "粉红色", "粉紅色"],
    "brown": ["棕色", "褐色"],
    "black": ["黑色"],
    "white": ["白色"],
    "gray": ["灰色"],
}
_ZH_SHAPE = {
    "circle": ["圆形", "圓形"],
    "square": ["正方形", "方形", "方块"],
    "triangle": ["三角形"],
    "star": ["星形", "五角星", "星星"],
    "heart": ["心形", "爱心", "愛心"],
    "ring": ["圆环", "圓環", "环形"],
}
_ZH_SIZE = {"small": ["小", "小小的"], "large": ["大", "大大的"]}
_ZH_POS = {
    "centre": ["中间", "中央", "中間"],
    "left": ["左边", "左侧", "左邊"],
    "right": ["右边", "右侧", "右邊"],
    "top": ["上方", "顶部", "頂部"],
    "bottom": ["下方", "底部"],
}


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[rng.integers(len(options))]


def caption_en(a: Attributes, rng: np.random.Generator) -> str:
    colour = _pick(rng, _EN_COLOUR_ALT.get(a.colour, [a.colour])) if a.colour else None
    noun = a.shape or _pick(rng, ["shape", "object"])
    adj = " ".join(x for x in (_pick(rng, _EN_SIZE[a.size]) if a.size else None, colour) if x)
    thing = f"{adj} {noun}".strip()
    thing = ("an " if thing[0] in "aeiou" else "a ") + thing
    pos = _pick(rng, _EN_POS[a.position]) if a.position else None
    bgc = _pick(rng, _EN_COLOUR_ALT.get(a.background, [a.background])) if a.background else None
    form = rng.integers(4)
    if bgc is None:
        return f"{thing} {pos}" if pos else thing
    if form == 0:
        parts = [thing, pos, f"on a {bgc} background"] if pos else [thing, f"on a {bgc} background"]
        return " ".join(parts)
    if form == 1:
        return f"{thing} on a {bgc} background" + (f", {pos}" if pos else "")
    if form == 2:
        return f"a {bgc} background with {thing}" + (f" {pos}" if pos else "")
    return f"the background is {bgc}; {thing}" + (f" {pos}" if pos else "")


def caption_zh(a: Attributes, rng: np.random.Generator) -> str:
    colour = _pick(rng, _ZH_COLOUR[a.colour]) if a.colour else ""
    shape = _pick(rng, _ZH_SHAPE[a.shape]) if a.shape else "图形"
    size = _pick(rng, _ZH_SIZE[a.size]) if a.size else ""
    thing = f"一个{size}{'的' if size == '小' or size == '大' else ''}{colour}{shape}"
    pos = _pick(rng, _ZH_POS[a.position]) if a.position else None
    bg = _pick(rng, _ZH_COLOUR[a.background]) if a.background else None
    form = rng.integers(4)
    if bg is None:
        return f"{pos}有{thing}" if pos else thing
    if form == 0:
        return f"{bg}背景上的{thing}" + (f"，在{pos}" if pos else "")
    if form == 1:
        return f"{thing}在{bg}背景的{pos}" if pos else f"{thing}在{bg}背景上"
    if form == 2:
        return f"背景是{bg}的，" + (f"{pos}有{thing}" if pos else thing)
    return f"{bg}的背景，" + (f"{thing}位于{pos}" if pos else thing)


#: Probability that a caption leaves a slot unsaid (so the model learns to fill it in itself).
OMIT = {"colour": 0.04, "shape": 0.04, "size": 0.35, "position": 0.2, "background": 0.15}


def stated(scene: Scene, rng: np.random.Generator) -> Attributes:
    """The attributes a caption of ``scene`` states (some are left out on purpose)."""
    kept = {s: (None if rng.random() < p else getattr(scene, s)) for s, p in OMIT.items()}
    return Attributes(**kept)


def make_example(rng: np.random.Generator, size: int = 32) -> tuple[np.ndarray, str, Attributes]:
    """One training example: image, caption (English or Chinese, half each), stated attributes."""
    scene = random_scene(rng)
    said = stated(scene, rng)
    caption = caption_en(said, rng) if rng.random() < 0.5 else caption_zh(said, rng)
    return render(scene, size), caption, said


def build_dataset(n: int, seed: int, size: int = 32) -> tuple[np.ndarray, list[str], np.ndarray]:
    """``n`` examples: images ``(n, size, size, 3)`` uint8, captions, stated slot ids ``(n, 5)``."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    captions: list[str] = []
    ids = np.empty((n, 5), dtype=np.int64)
    for i in range(n):
        images[i], caption, said = make_example(rng, size)
        captions.append(caption)
        ids[i] = said.slot_ids()
    return images, captions, ids
