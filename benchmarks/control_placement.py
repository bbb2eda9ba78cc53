"""Benchmark of the built-in model's control input: does the shape land where the control says?

    .venv/bin/python benchmarks/control_placement.py [--n 240] [--strength 1.0] [--json OUT.json]

Prompts are drawn, not listed: for each of ``--n`` items a fixed-seed generator picks a shape, a
colour, a different background colour, the language (English or Chinese, the training captions'
phrasings) and, half of the time, a position word (which the control overrides, so it may
disagree with the control), and places the control shape at a random centre (0.25..0.75 of the
side on both axes), radius (0.13..0.24 of the side) and rotation (±15°). The control image is the
shape's silhouette (``segmentation``, white on black) or its outline (``edges``, 3 px), at 256x256.
Each item is generated at the model's native 32x32 with its own fixed seed, once with the control
image and once without (the baseline, same prompt and seed), and the shape is read back as the
pixels that differ from the border's colour (``models/default/analysis.py``). An item counts as
placed when that region's IoU with the control's silhouette is at least 0.5; the centroid distance
(fraction of the side) is reported beside it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.default import WEIGHTS_DIR  # noqa: E402
from models.default.analysis import _as_array, _segment, analyse  # noqa: E402
from models.default.concepts import COLOUR_NAMES, POSITIONS, SHAPES, SIZE_RADII, Attributes  # noqa: E402
from models.default.data import Scene, caption_en, caption_zh, render  # noqa: E402
from models.default.pipeline import AssayShapesPipeline  # noqa: E402

CONTROL_SIDE = 256
NATIVE = 32
IOU_PLACED = 0.5
TARGET = 0.90


@dataclass(frozen=True)
class Item:
    prompt: str
    shape: str
    colour: str
    cx: float
    cy: float
    radius: float
    rotation: float
    seed: int


@dataclass
class Score:
    control_type: str
    n: int
    placed: float  # IoU >= 0.5 with control
    baseline_placed: float  # IoU >= 0.5 without control (same prompt and seed)
    mean_iou: float
    baseline_mean_iou: float
    median_centroid_distance: float
    baseline_median_centroid_distance: float
    shape: float  # the analyser reads the prompt's shape in the controlled image
    colour: float  # ... and the prompt's colour
    baseline_shape: float


def items(n: int, seed: int = 4242) -> list[Item]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        colour = COLOUR_NAMES[rng.integers(len(COLOUR_NAMES))]
        background = str(rng.choice([c for c in COLOUR_NAMES if c != colour]))
        shape = SHAPES[rng.integers(len(SHAPES))]
        position = POSITIONS[rng.integers(len(POSITIONS))] if rng.random() < 0.5 else None
        asked = Attributes(colour=colour, shape=shape, position=position, background=background)
        text = caption_en(asked, rng) if rng.random() < 0.5 else caption_zh(asked, rng)
        out.append(
            Item(
                prompt=text,
                shape=shape,
                colour=colour,
                cx=float(rng.uniform(0.25, 0.75)),
                cy=float(rng.uniform(0.25, 0.75)),
                radius=float(rng.uniform(0.13, 0.24)),
                rotation=float(rng.uniform(-15, 15)),
                seed=50_000 + i,
            )
        )
    return out


def silhouette(item: Item, side: int) -> np.ndarray:
    """The control shape's silhouette at ``side`` (bool), drawn by the training-data renderer."""
    scene = Scene(
        colour="white",
        shape=item.shape,
        size="small",
        position="centre",
        background="black",
        dx=item.cx - 0.5,
        dy=item.cy - 0.5,
        scale=item.radius / SIZE_RADII["small"],
        rotation=item.rotation,
    )
    return render(scene, side)[..., 0] > 127


def control_image(item: Item, control_type: str) -> Image.Image:
    sil = silhouette(item, CONTROL_SIDE)
    if control_type == "segmentation":
        return Image.fromarray(sil.astype(np.uint8) * 255).convert("RGB")
    ndi: Any = importlib.import_module("scipy.ndimage")  # no type stubs

    outline = sil & ~ndi.binary_erosion(sil, iterations=3)
    return Image.fromarray(outline.astype(np.uint8) * 255).convert("RGB")


def shape_region(image: Image.Image) -> np.ndarray:
    _bg, fg, _alpha, _clean = _segment(_as_array(image))
    return fg


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = float((a | b).sum())
    return float((a & b).sum()) / union if union else 0.0


def centroid_distance(a: np.ndarray, b: np.ndarray) -> float:
    if a.sum() == 0 or b.sum() == 0:
        return 1.0
    ya, xa = np.nonzero(a)
    yb, xb = np.nonzero(b)
    return float(np.hypot(xa.mean() - xb.mean(), ya.mean() - yb.mean())) / a.shape[0]


def run(pipe: AssayShapesPipeline, control_type: str, its: list[Item], strength: float) -> Score:
    ious, base_ious, dists, base_dists = [], [], [], []
    shapes = colours = base_shapes = 0
    for it in its:
        target = silhouette(it, NATIVE)
        ctl: Image.Image = pipe(  # type: ignore[assignment]  # output_type "pil"
            it.prompt,
            generator=torch.Generator().manual_seed(it.seed),
            control_image=control_image(it, control_type),
            control_type=control_type,
            control_strength=strength,
        ).images[0]
        plain: Image.Image = pipe(it.prompt, generator=torch.Generator().manual_seed(it.seed)).images[0]  # type: ignore[assignment]
        got, base = shape_region(ctl), shape_region(plain)
        ious.append(iou(got, target))
        base_ious.append(iou(base, target))
        dists.append(centroid_distance(got, target))
        base_dists.append(centroid_distance(base, target))
        r, rb = analyse(ctl), analyse(plain)
        shapes += int(r.shape == it.shape)
        colours += int(r.colour == it.colour)
        base_shapes += int(rb.shape == it.shape)
    n = len(its)
    return Score(
        control_type=control_type,
        n=n,
        placed=sum(v >= IOU_PLACED for v in ious) / n,
        baseline_placed=sum(v >= IOU_PLACED for v in base_ious) / n,
        mean_iou=statistics.fmean(ious),
        baseline_mean_iou=statistics.fmean(base_ious),
        median_centroid_distance=statistics.median(dists),
        baseline_median_centroid_distance=statistics.median(base_dists),
        shape=shapes / n,
        colour=colours / n,
        baseline_shape=base_shapes / n,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=WEIGHTS_DIR)
    ap.add_argument("--n", type=int, default=240, help="prompts per control type")
    ap.add_argument("--strength", type=float, default=1.0, help="control_strength (0..2)")
    ap.add_argument("--types", default="segmentation,edges")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    pipe = AssayShapesPipeline.from_pretrained(args.model)
    pipe.set_progress_bar_config(disable=True)
    its = items(args.n)
    t0 = time.perf_counter()
    scores = [run(pipe, t, its, args.strength) for t in args.types.split(",")]
    elapsed = time.perf_counter() - t0
    print(f"control placement, built-in model, {args.n} prompts per type, control_strength {args.strength:g}")
    print(
        "type          placed (IoU>=0.5)  baseline  mean IoU  baseline  centroid dist  baseline"
        "  shape  baseline  colour"
    )
    for s in scores:
        print(
            f"{s.control_type:<13} {s.placed:>17.1%} {s.baseline_placed:>9.1%} {s.mean_iou:>9.3f} "
            f"{s.baseline_mean_iou:>9.3f} {s.median_centroid_distance:>14.3f} "
            f"{s.baseline_median_centroid_distance:>9.3f} {s.shape:>6.1%} {s.baseline_shape:>9.1%} "
            f"{s.colour:>7.1%}"
        )
    print(f"({elapsed:.1f} s; target: placed >= {TARGET:.0%})")
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in scores], indent=2))
    return 0 if all(s.placed >= TARGET for s in scores) else 1


if __name__ == "__main__":
    raise SystemExit(main())
