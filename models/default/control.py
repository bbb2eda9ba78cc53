"""Control for the built-in model: a layout image says where the shape goes.

Why it works without control weights: the model draws one shape on a flat background, so a layout
is fully described by *which pixels are the shape*. The control image is read into that region
(``segmentation``: the shape's silhouette in any colour on a plain background; ``scribble`` and
``edges``: its outline, filled; ``canny``: a picture's Canny edges, filled), a layout picture is
painted from it (the prompt's colour inside, its background outside; what the prompt leaves out
is drawn from the seed, as the model would choose it), and the model denoises from that layout
noised to a level set by ``control_strength`` (SDEdit, the model's own image-to-image path), with
the background farther than ``MARGIN`` pixels from the region set back to the noised layout at
every step (RePaint's known-region rule, the model's inpainting path). The prompt's position and
size words are overridden by the layout; its shape, colours and the model still decide what is
drawn inside it. No weights were trained for control: it is structure-guided sampling. The
placement rate is measured by ``benchmarks/control_placement.py``.

Imports: numpy, scipy.ndimage, PIL, cv2 (canny only); the default model's concepts.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from typing import Any, Final

import numpy as np
from PIL import Image

from models.default.concepts import COLOUR_NAMES, Attributes, colour_rgb

#: the control types the built-in model serves
CONTROL_TYPES: Final[tuple[str, ...]] = ("segmentation", "scribble", "edges", "canny")
#: the resolution the region is read at before it is reduced to the model's native size
_READ_SIDE = 128
#: a pixel this far (grey levels) from the control image's border median belongs to the region
_REGION_DISTANCE = 48.0
#: the smallest region accepted, as a share of the image (a stray dot is no layout)
MIN_REGION_SHARE = 0.004
#: control_strength -> the share of the denoising that is redone from the noised layout
#: pixels around the region (at native size) where the model may still draw the shape's edge
MARGIN = 2
_STRENGTH_SLOPE = 0.45
_MIN_REDO = 0.3


def redo_share(control_strength: float) -> float:
    """How much of the denoising is redone from the layout: 1.0 (the layout is noised away) at
    strength 0, 0.55 at 1 (the default), 0.3 from 1.56 up (``control_strength`` in 0..2)."""
    return float(min(1.0, max(_MIN_REDO, 1.0 - _STRENGTH_SLOPE * control_strength)))


def control_region(image: Image.Image, control_type: str, side: int) -> np.ndarray:
    """The region the control image marks, as a soft ``(side, side)`` mask in 0..1.

    Raises ``ValueError`` naming the problem: an unknown type, or an image that marks no region.
    """
    ndi: Any = importlib.import_module("scipy.ndimage")  # no type stubs

    if control_type not in CONTROL_TYPES:
        raise ValueError(
            f"the built-in model has no {control_type!r} control; it serves {', '.join(CONTROL_TYPES)}"
        )
    grey = image.convert("L").resize((_READ_SIDE, _READ_SIDE), Image.Resampling.BOX)
    if control_type == "canny":
        import cv2

        marked = cv2.Canny(np.asarray(grey), 100, 200) > 0
    else:
        arr = np.asarray(grey, dtype=np.float32)
        border = np.concatenate([arr[:2].ravel(), arr[-2:].ravel(), arr[:, :2].ravel(), arr[:, -2:].ravel()])
        marked = np.abs(arr - float(np.median(border))) > _REGION_DISTANCE
    if control_type != "segmentation":  # an outline: its inside is the region
        marked = ndi.binary_fill_holes(ndi.binary_closing(marked, iterations=2))
    region = np.asarray(
        Image.fromarray(marked.astype(np.uint8) * 255).resize((side, side), Image.Resampling.BOX),
        dtype=np.float32,
    )
    region /= 255.0
    if float(region.mean()) < MIN_REGION_SHARE:
        raise ValueError(
            f"the {control_type} control image marks no region: draw the shape's "
            + ("silhouette" if control_type == "segmentation" else "closed outline")
            + " in a colour that stands out from a plain background"
        )
    return region


def layout_attributes(asked: Attributes, rng: np.random.Generator) -> Attributes:
    """The attributes a layout is painted and conditioned with: the prompt's colours (what it
    leaves out drawn from ``rng``, the two always different) and shape; no size or position (the
    layout places and sizes the shape)."""
    colour = asked.colour
    background = asked.background
    if colour is None:
        colour = str(rng.choice([c for c in COLOUR_NAMES if c != background]))
    if background is None or background == colour:
        background = str(rng.choice([c for c in COLOUR_NAMES if c != colour]))
    return replace(asked, colour=colour, background=background, position=None, size=None)


def outside(region: np.ndarray, margin: int = MARGIN) -> np.ndarray:
    """1 where the layout keeps its background: farther than ``margin`` pixels from the region."""
    ndi: Any = importlib.import_module("scipy.ndimage")  # no type stubs

    return (~ndi.binary_dilation(region > 0.5, iterations=margin)).astype(np.float32)


def layout_image(region: np.ndarray, attrs: Attributes) -> np.ndarray:
    """``(3, side, side)`` in -1..1: the colour inside the region, the background outside."""
    assert attrs.colour is not None and attrs.background is not None
    fg = np.array(colour_rgb(attrs.colour), dtype=np.float32)[:, None, None]
    bg = np.array(colour_rgb(attrs.background), dtype=np.float32)[:, None, None]
    img = bg * (1.0 - region[None]) + fg * region[None]
    return img / 127.5 - 1.0


__all__ = [
    "CONTROL_TYPES",
    "MARGIN",
    "MIN_REGION_SHARE",
    "control_region",
    "layout_attributes",
    "layout_image",
    "outside",
    "redo_share",
]
