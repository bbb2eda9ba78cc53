"""Test material for the near-duplicate check, shared by the tests and ``benchmarks/neardup.py``.

The alterations are the ones the acceptance names (5% crop, 0.6x resize, JPEG quality 50, +-20%
brightness, mirror), plus the edits that defeat hashes (side crops, captions, a copy pasted into a
new picture) and images with too little detail to compare; the photographs are scikit-image's
sample data (installed with the ``dev`` extra, nothing downloaded); the tiny open_clip model and
the tiny TorchScript descriptor are built with seeded random weights and saved as local model
folders, the same layouts an operator's real models use.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

#: real photographs put into the test index
INDEXED_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "coins",
    "stereo_motorcycle",
    "immunohistochemistry",
    "retina",
    "clock",
)
#: real photographs (and scans) that are not in it
UNRELATED_PHOTOS = ("moon", "hubble_deep_field", "cell", "page", "horse", "text")


def photo(name: str) -> Image.Image:
    """One scikit-image sample image as RGB."""
    from skimage import data

    arr = getattr(data, name)()
    if isinstance(arr, tuple):  # stereo pairs
        arr = arr[0]
    return Image.fromarray(np.asarray(arr)).convert("RGB")


def crop(im: Image.Image, fraction: float = 0.05) -> Image.Image:
    """Remove ``fraction`` of the width and of the height, half on each side."""
    w, h = im.size
    dx, dy = round(w * fraction / 2), round(h * fraction / 2)
    return im.crop((dx, dy, w - dx, h - dy))


def resize(im: Image.Image, factor: float = 0.6) -> Image.Image:
    return im.resize((round(im.width * factor), round(im.height * factor)), Image.Resampling.LANCZOS)


def jpeg(im: Image.Image, quality: int = 50) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def brightness(im: Image.Image, factor: float) -> Image.Image:
    return ImageEnhance.Brightness(im).enhance(factor)


ALTERATIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "crop 5%": crop,
    "resize 0.6x": resize,
    "JPEG 50": jpeg,
    "brightness +20%": lambda im: brightness(im, 1.2),
    "brightness -20%": lambda im: brightness(im, 0.8),
    "mirror": ImageOps.mirror,
}


def crop_sides(im: Image.Image, keep: float) -> Image.Image:
    """Keep ``keep`` of the width and of the height, centred (0.7: 15% off each side)."""
    return crop(im, 1.0 - keep)


def caption(im: Image.Image, text: str = "SALE 50% OFF - COPY", *, seed: int = 0) -> Image.Image:
    """A bold caption across the lower third (what reposts and memes add)."""
    from PIL import ImageDraw, ImageFont

    out = im.convert("RGB")
    draw = ImageDraw.Draw(out)
    size = max(12, out.height // 9)
    font = ImageFont.load_default(size=size)
    draw.text(
        (out.width // 20, out.height * 2 // 3),
        text,
        fill=(255, 255, 255),
        font=font,
        stroke_width=max(1, size // 12),
        stroke_fill=(0, 0, 0),
    )
    return out


def paste_into(
    im: Image.Image, fraction: float = 0.35, *, size: tuple[int, int] = (640, 512), seed: int = 0
) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """``im`` shrunk to ``fraction`` of the area of a new, unrelated picture; the picture and the box."""
    rng = np.random.default_rng(seed)
    w, h = size
    coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    bg = Image.fromarray(coarse).resize((w, h), Image.Resampling.BICUBIC)
    s = (fraction * w * h / (im.width * im.height)) ** 0.5
    small = im.convert("RGB").resize((max(1, round(im.width * s)), max(1, round(im.height * s))))
    x = int(rng.integers(0, max(1, w - small.width)))
    y = int(rng.integers(0, max(1, h - small.height)))
    bg.paste(small, (x, y))
    return bg, (x, y, small.width, small.height)


def gradient(size: int = 256, *, vertical: bool = False) -> Image.Image:
    ramp = np.linspace(0, 255, size).astype(np.uint8)
    arr = np.tile(ramp[:, None] if vertical else ramp[None, :], (1, size) if vertical else (size, 1))
    return Image.fromarray(arr).convert("RGB")


def low_information_images(seed: int = 0) -> dict[str, Image.Image]:
    """Images with too little detail to compare: blank, near-uniform, gradients, noise."""
    rng = np.random.default_rng(seed)
    near = (245 + rng.integers(0, 6, (256, 256))).astype(np.uint8)
    return {
        "white": Image.new("RGB", (256, 256), (255, 255, 255)),
        "near-white": Image.fromarray(near).convert("RGB"),
        "gradient": gradient(),
        "vertical gradient": gradient(vertical=True),
        "noise": noise_images(1, seed=seed)[0],
    }


def noise_images(n: int, *, seed: int = 0, size: int = 256) -> list[Image.Image]:
    """Uniform RGB noise (what a broken generator emits)."""
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)) for _ in range(n)]


TINY_CLIP_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1},
}


def save_tiny_descriptor(folder: Path, *, seed: int = 0, dim: int = 16) -> Path:
    """A tiny random TorchScript descriptor (conv + pooling) saved as a descriptor folder (SSCD's layout)."""
    import torch

    torch.manual_seed(seed)

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 5, stride=2)
            self.head = torch.nn.Linear(8 * 4 * 4, dim)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.relu(self.conv(x))
            x = torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1)
            return self.head(x)

    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # torch.jit is deprecated in torch 2.x; SSCD ships TorchScript
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(Tiny().eval()).save(str(folder / "tiny.torchscript.pt"))
    (folder / "descriptor.json").write_text(
        json.dumps({"format": "torchscript", "file": "tiny.torchscript.pt", "dim": dim, "input_size": 64})
    )
    return folder


def save_tiny_clip(folder: Path, *, seed: int = 0) -> Path:
    """A 0.1 M-parameter open_clip model from config (random, seeded), saved as a local model folder."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    model = open_clip.model.CLIP(**TINY_CLIP_CONFIG)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(model.state_dict(), str(folder / "open_clip_model.safetensors"))
    (folder / "open_clip_config.json").write_text(
        json.dumps(
            {
                "model_cfg": TINY_CLIP_CONFIG,
                "preprocess_cfg": {"mean": [0.481, 0.458, 0.408], "std": [0.269, 0.261, 0.276]},
            }
        )
    )
    return folder


# --- the robustness evaluation (acceptance test and benchmark table) --------------------------
@dataclass(frozen=True)
class RobustnessRow:
    photo: str
    alteration: str
    found: bool  # the altered copy matched its own original
    best_method: str | None
    best_distance: float | None
    phash_distance: int  # to the original, whichever view (original / mirrored) is closer
    dhash_distance: int
    wrong_matches: tuple[str, ...]  # other indexed works it matched (should be none)


@dataclass(frozen=True)
class RobustnessReport:
    rows: list[RobustnessRow]
    #: (query, matched source id) for unrelated photos and noise that matched anything (should be none)
    false_positives: list[tuple[str, str]]
    unrelated_queries: int

    def found_all(self) -> bool:
        return all(r.found and not r.wrong_matches for r in self.rows)


def evaluate_robustness(
    loaded,
    *,
    radius: int = 8,
    photos: tuple[str, ...] = INDEXED_PHOTOS,
    unrelated: tuple[str, ...] = UNRELATED_PHOTOS,
    noise: int = 8,
) -> RobustnessReport:
    """Query every altered indexed photo, every unrelated photo (and its alterations) and noise.

    ``loaded`` is a :class:`safety.neardup.query.LoadedIndex` built from ``photos`` saved as
    ``<name>.png`` (ids are the file names).
    """
    from safety.neardup.codes import CodeType, hamming, image_codes

    rows = []
    for name in photos:
        original = photo(name)
        ref = image_codes(original, list(CodeType))
        for alt_name, alt in ALTERATIONS.items():
            altered = alt(original)
            matches = loaded.match_image(altered, radius=radius)
            own = [m for m in matches if m.source_id == f"{name}.png"]
            views = [
                image_codes(altered, list(CodeType)),
                image_codes(ImageOps.mirror(altered), list(CodeType)),
            ]
            rows.append(
                RobustnessRow(
                    photo=name,
                    alteration=alt_name,
                    found=bool(own),
                    best_method=own[0].method if own else None,
                    best_distance=own[0].distance if own else None,
                    phash_distance=min(hamming(v[CodeType.PHASH], ref[CodeType.PHASH]) for v in views),
                    dhash_distance=min(hamming(v[CodeType.DHASH], ref[CodeType.DHASH]) for v in views),
                    wrong_matches=tuple(m.source_id for m in matches if m.source_id != f"{name}.png"),
                )
            )
    false_positives = []
    queries = [(n, photo(n)) for n in unrelated]
    queries += [(f"{n} ({a})", alt(im)) for n, im in list(queries) for a, alt in ALTERATIONS.items()]
    queries += [(f"noise {i}", im) for i, im in enumerate(noise_images(noise))]
    for label, im in queries:
        false_positives += [(label, m.source_id) for m in loaded.match_image(im, radius=radius)]
    return RobustnessReport(rows, false_positives, len(queries))
