"""The closed world the default model knows: colours, shapes, sizes, positions.

Why one module: the data generator draws these concepts, the tokenizer maps words onto them, the
text encoder embeds their ids and the benchmark's analyser classifies images back into them. Each
concept therefore has exactly one definition (name, order, RGB or geometry) and every other part
of the default model refers to it by name. The order of each tuple is the id order the shipped
weights were trained with: append, never reorder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Colour:
    name: str
    rgb: tuple[int, int, int]


#: Palette colours, picked far apart in RGB so that a generated pixel has one unambiguous name.
COLOURS: Final[tuple[Colour, ...]] = (
    Colour("red", (220, 30, 35)),
    Colour("orange", (245, 140, 20)),
    Colour("yellow", (245, 220, 30)),
    Colour("green", (40, 165, 60)),
    Colour("cyan", (40, 200, 220)),
    Colour("blue", (30, 70, 215)),
    Colour("purple", (130, 50, 180)),
    Colour("pink", (245, 135, 185)),
    Colour("brown", (125, 75, 35)),
    Colour("black", (20, 20, 20)),
    Colour("white", (245, 245, 245)),
    Colour("gray", (128, 128, 128)),
)
COLOUR_NAMES: Final[tuple[str, ...]] = tuple(c.name for c in COLOURS)

SHAPES: Final[tuple[str, ...]] = ("circle", "square", "triangle", "star", "heart", "ring")
SIZES: Final[tuple[str, ...]] = ("small", "large")
POSITIONS: Final[tuple[str, ...]] = ("centre", "left", "right", "top", "bottom")

#: Object centre (x, y) as fractions of the image side, per position.
POSITION_ANCHORS: Final[dict[str, tuple[float, float]]] = {
    "centre": (0.5, 0.5),
    "left": (0.28, 0.5),
    "right": (0.72, 0.5),
    "top": (0.5, 0.28),
    "bottom": (0.5, 0.72),
}
#: Object radius as a fraction of the image side, per size.
SIZE_RADII: Final[dict[str, float]] = {"small": 0.15, "large": 0.23}

#: The attribute slots a prompt can fill, in the order the text encoder embeds them.
SLOTS: Final[tuple[str, ...]] = ("colour", "shape", "size", "position", "background")
SLOT_VALUES: Final[dict[str, tuple[str, ...]]] = {
    "colour": COLOUR_NAMES,
    "shape": SHAPES,
    "size": SIZES,
    "position": POSITIONS,
    "background": COLOUR_NAMES,
}


def colour_rgb(name: str) -> tuple[int, int, int]:
    for c in COLOURS:
        if c.name == name:
            return c.rgb
    raise KeyError(name)


@dataclass(frozen=True)
class Attributes:
    """What a prompt asks for; ``None`` in a slot means "not said" (the model picks)."""

    colour: str | None = None
    shape: str | None = None
    size: str | None = None
    position: str | None = None
    background: str | None = None

    def slot_ids(self) -> list[int]:
        """One id per slot: 0 means unspecified, value index + 1 otherwise."""
        ids = []
        for slot in SLOTS:
            value = getattr(self, slot)
            ids.append(0 if value is None else SLOT_VALUES[slot].index(value) + 1)
        return ids

    def is_empty(self) -> bool:
        return all(getattr(self, s) is None for s in SLOTS)
