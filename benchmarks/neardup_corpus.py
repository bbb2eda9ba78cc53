"""The reference photographs and the distractor set of the copy-detection robustness table.

Why: recall and false matches measured on 13 sample photographs and 1,200 distractors say little
about an index of real works. ``benchmarks/neardup_local.py`` (part 1) indexes at least 200 real
photographs and queries at least 10,000 images that copy none of them; this module says which
images those are, so that the split is fixed, written down once, and checked.

References: the first ``n`` distinct photographs of :mod:`benchmarks.photos` (Debian packages with
per-file licences, scikit-image, scikit-learn; ``make photos``), in its fixed order, each shrunk to
at most :data:`MAX_SIDE` pixels on its long side (the size an index of works usually holds; the
attacks then rescale from there).

Distractors, in four groups (each image labelled with its group):

- ``held-out``: real pictures that are not in the index, cropped (30-100% of each side) and then
  rotated, rescaled, re-encoded, mirrored or pasted onto a procedural background: the photographs
  of :mod:`benchmarks.photos` past the first ``n``; scikit-image samples that it does not list
  (greyscale and microscopy images among them); scikit-image's 200 LFW faces; the renders and
  drawings among the installed wallpapers (plasma-workspace-wallpapers' non-photographic ones,
  mate-backgrounds' abstract and desktop folders); GCompris's painting-puzzle pieces and its
  vocabulary drawings. None of these is a photograph among the references: photos.py keeps one
  copy of each photograph (by pHash) and names the folders it takes photographs from, and these
  come from other folders or are past its first ``n``. Each whole picture is queried once before
  its edited crops, so a held-out picture that did copy a reference would show by name.
- ``model``: the built-in model's outputs (``models/default``, 32x32 native, resized to 512x512 as
  the pipeline does) for random shape prompts, cached in a temporary folder between runs.
- ``texture``: procedural pictures: shapes on plain or textured backgrounds (what the built-in
  model draws, sharper), fractal value noise, stripes and waves, checkerboards and tiles, Voronoi
  cells, scattered lines and dots.
- ``low``: low-information images that must come back "undecided": blank and near-uniform
  pictures, linear and two-colour gradients, uniform and Gaussian noise, mostly-white pages.
"""

from __future__ import annotations

import hashlib
import io
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: the long side of a reference as indexed (and of a held-out picture before its edit)
MAX_SIDE = 1024
#: scikit-image samples that benchmarks/photos.py does not list (so never references)
SKIMAGE_HELD_OUT = (
    "page",
    "text",
    "horse",
    "cell",
    "brick",
    "grass",
    "gravel",
    "logo",
    "microaneurysms",
    "clock",
    "camera",
    "coins",
    "moon",
    "immunohistochemistry",
    "stereo_motorcycle",
)
#: mate-backgrounds folders of renders and drawings (its photographs are in nature/)
MATE_RENDERS = ("/usr/share/backgrounds/mate/abstract", "/usr/share/backgrounds/mate/desktop")
#: GCompris archives of pictures that are not the photographs photos.py takes
GCOMPRIS_DRAWINGS = ("paintings", "lang")
#: share of each group in a distractor set of n images (low-information: a fixed count per seed)
SHARES = {"held-out": 0.45, "model": 0.10, "texture": 0.45}


def fit(im: Image.Image, side: int = MAX_SIDE) -> Image.Image:
    """``im`` as RGB, shrunk (Lanczos) so its long side is at most ``side``."""
    im = im.convert("RGB")
    s = side / max(im.size)
    if s < 1:
        im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.Resampling.LANCZOS)
    return im


def split(n: int) -> tuple[list[tuple[str, Image.Image]], list[tuple[str, Image.Image]], dict[str, int]]:
    """(references, held-out photographs, references per source): the first ``n`` photographs of
    benchmarks/photos.py and the rest. Raises ValueError when fewer than ``n`` are installed."""
    from photos import photo_records

    records = photo_records()
    if len(records) < n:
        raise ValueError(
            f"{n} reference photographs asked, {len(records)} installed: run `make photos` "
            "(see benchmarks/photos.py)"
        )
    refs = [(p.name, fit(im)) for p, im in records[:n]]
    held = [(f"photo {p.name}", fit(im)) for p, im in records[n:]]
    per_source: dict[str, int] = {}
    for p, _ in records[:n]:
        per_source[p.source] = per_source.get(p.source, 0) + 1
    return refs, held, per_source


def held_out_pictures(photos: list[tuple[str, Image.Image]]) -> list[tuple[str, Image.Image]]:
    """Every real picture that is not a reference: ``photos`` (photos.py's past the first n) and
    the other sources of the module docstring; a source that is not installed is left out with a
    note on stderr."""
    out = list(photos)
    from safety.neardup.testing import photo

    for name in SKIMAGE_HELD_OUT:
        try:
            out.append((f"skimage {name}", fit(photo(name))))
        except (OSError, ValueError, AttributeError) as e:  # a scikit-image without one of them
            print(f"corpus: skimage {name} skipped ({e})", file=sys.stderr)
    from skimage import data

    for i, f in enumerate(data.lfw_subset()):
        face = Image.fromarray((f * 255).astype(np.uint8)).resize((200, 200), Image.Resampling.BICUBIC)
        out.append((f"face {i}", face.convert("RGB")))
    out += _wallpaper_renders()
    out += _gcompris_drawings()
    return out


def _wallpaper_renders() -> list[tuple[str, Image.Image]]:
    import photos

    out = []
    plasma = photos._PLASMA
    if plasma.is_dir():
        for folder in sorted(
            p for p in plasma.iterdir() if p.is_dir() and p.name not in photos._PLASMA_PHOTOS
        ):
            files = sorted((folder / "contents" / "images").glob("*x*.*"))
            sized = [(int(f.stem.split("x")[0]), f) for f in files if f.stem.split("x")[0].isdigit()]
            fitting = [s for s in sized if s[0] <= 2560] or sized
            if fitting:
                out.append((f"plasma render {folder.name}", fit(Image.open(max(fitting)[1]))))
    else:
        print("corpus: plasma-workspace-wallpapers not installed: its renders left out", file=sys.stderr)
    for d in MATE_RENDERS:
        for f in sorted(Path(d).glob("*.*")):
            if f.suffix.lower() in (".jpg", ".png"):
                out.append((f"mate render {f.stem}", fit(Image.open(f))))
    return out


def _gcompris_drawings() -> list[tuple[str, Image.Image]]:
    import photos

    out = []
    for stem in GCOMPRIS_DRAWINGS:
        archive = photos._GCOMPRIS_RCC / f"{stem}.rcc"
        if not archive.is_file():
            print(f"corpus: {archive} not installed: left out", file=sys.stderr)
            continue
        for member, blob in photos.rcc_members(archive):
            if member.lower().endswith((".webp", ".png", ".jpg", ".jpeg")):
                im = Image.open(io.BytesIO(blob))
                if min(im.size) >= 64:
                    out.append((f"gcompris {stem} {Path(member).stem}", fit(_flatten(im))))
    return out


def _flatten(im: Image.Image) -> Image.Image:
    """A drawing with transparency on white (as it is shown)."""
    if im.mode in ("RGBA", "LA", "P"):
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    return im.convert("RGB")


# --- procedural pictures -------------------------------------------------------------------------
def procedural(rng: np.random.Generator, size: int = 384) -> Image.Image:
    """Shapes on a plain or textured background (what the built-in model draws, sharper)."""
    bg = tuple(int(c) for c in rng.integers(0, 256, 3))
    im = Image.new("RGB", (size, size), bg)
    if rng.random() < 0.5:  # textured background
        tex = rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
        im = Image.fromarray(tex).resize((size, size), Image.Resampling.BICUBIC)
    d = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(1, 7))):
        x0, y0 = rng.integers(0, size, 2)
        x1, y1 = x0 + rng.integers(20, size // 2), y0 + rng.integers(20, size // 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = rng.integers(0, 3)
        if shape == 0:
            d.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == 1:
            d.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            d.polygon([(int(x0), int(y1)), (int((x0 + x1) // 2), int(y0)), (int(x1), int(y1))], fill=colour)
    return im


def _palette(rng: np.random.Generator, k: int) -> np.ndarray:
    return rng.integers(0, 256, (k, 3)).astype(np.float32)


def _colourise(field: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A [0, 1] field mapped through a random two- or three-colour ramp."""
    pal = _palette(rng, 3)
    f = field[..., None]
    arr = np.where(f < 0.5, pal[0] + (pal[1] - pal[0]) * f * 2, pal[1] + (pal[2] - pal[1]) * (f - 0.5) * 2)
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def _value_noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """Fractal value noise (clouds, marble, sand at the fine end)."""
    acc = np.zeros((size, size), np.float32)
    amp, total = 1.0, 0.0
    base = int(rng.integers(2, 8))
    for octave in range(int(rng.integers(3, 7))):
        cells = base * 2**octave
        grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
        layer = np.asarray(
            Image.fromarray((grid * 255).astype(np.uint8)).resize((size, size), Image.Resampling.BICUBIC),
            np.float32,
        )
        acc += amp * layer / 255
        total += amp
        amp *= float(rng.uniform(0.4, 0.7))
    acc /= total
    return (acc - acc.min()) / max(1e-6, float(acc.max() - acc.min()))


def _waves(rng: np.random.Generator, size: int) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    out = np.zeros((size, size), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        a = rng.uniform(0, np.pi)
        f = rng.uniform(0.02, 0.3)
        out += np.sin((x * np.cos(a) + y * np.sin(a)) * f + rng.uniform(0, 6.3))
    out = (out - out.min()) / max(1e-6, float(out.max() - out.min()))
    return (out > 0.5).astype(np.float32) if rng.random() < 0.5 else out


def _tiles(rng: np.random.Generator, size: int) -> Image.Image:
    cell = int(rng.integers(8, 64))
    n = size // cell + 1
    pal = _palette(rng, int(rng.integers(2, 6))).astype(np.uint8)
    idx = rng.integers(0, len(pal), (n, n)) if rng.random() < 0.5 else (np.indices((n, n)).sum(0) % 2)
    arr = pal[idx].repeat(cell, 0).repeat(cell, 1)[:size, :size]
    im = Image.fromarray(arr)
    if rng.random() < 0.5:
        im = im.rotate(float(rng.uniform(0, 90)), resample=Image.Resampling.BILINEAR, expand=False)
    return im


def _voronoi(rng: np.random.Generator, size: int) -> Image.Image:
    k = int(rng.integers(8, 80))
    seeds = rng.uniform(0, size, (k, 2)).astype(np.float32)
    y, x = np.mgrid[0:size:2, 0:size:2].astype(np.float32)
    d = (x[..., None] - seeds[:, 0]) ** 2 + (y[..., None] - seeds[:, 1]) ** 2
    lab = d.argmin(-1)
    pal = _palette(rng, k).astype(np.uint8)
    im = Image.fromarray(pal[lab]).resize((size, size), Image.Resampling.NEAREST)
    return im


def _strokes(rng: np.random.Generator, size: int) -> Image.Image:
    im = Image.new("RGB", (size, size), tuple(int(c) for c in rng.integers(0, 256, 3)))
    d = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(10, 120))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            pts = [tuple(int(v) for v in rng.integers(0, size, 2)) for _ in range(2)]
            d.line(pts, fill=colour, width=int(rng.integers(1, 6)))
        else:
            cx, cy = rng.integers(0, size, 2)
            r = int(rng.integers(2, 12))
            d.ellipse((int(cx) - r, int(cy) - r, int(cx) + r, int(cy) + r), fill=colour)
    return im


def texture(rng: np.random.Generator, size: int = 384) -> tuple[str, Image.Image]:
    """One procedural picture and its kind."""
    kind = ("shapes", "value noise", "waves", "tiles", "voronoi", "strokes")[int(rng.integers(0, 6))]
    if kind == "shapes":
        return kind, procedural(rng, size)
    if kind == "value noise":
        return kind, _colourise(_value_noise(rng, size), rng)
    if kind == "waves":
        return kind, _colourise(_waves(rng, size), rng)
    if kind == "tiles":
        return kind, _tiles(rng, size)
    if kind == "voronoi":
        return kind, _voronoi(rng, size)
    return kind, _strokes(rng, size)


# --- low information ---------------------------------------------------------------------------
def blank_page(rng: np.random.Generator) -> Image.Image:
    """A mostly white page: a light gradient and sensor noise (what scanners and UIs produce)."""
    w, h = 420, 594
    ramp = np.linspace(235 + rng.integers(0, 10), 255, w)[None, :].repeat(h, 0)
    arr = (ramp + rng.normal(0, 0.6, (h, w))).clip(0, 255).astype(np.uint8)
    return Image.fromarray(arr).convert("RGB")


def low_information(seed: int, count: int) -> list[tuple[str, Image.Image]]:
    """``count`` low-information images: the test set of safety.neardup.testing over several seeds
    (blank, near-white, gradients, noise) plus coloured near-uniform pictures, two-colour gradients
    at random angles, Gaussian noise and mostly-white pages, at random sizes."""
    from safety.neardup.testing import low_information_images

    rng = np.random.default_rng(seed)
    out: list[tuple[str, Image.Image]] = []
    s = seed
    while len(out) < count:
        out += [(f"low {k} #{s}", v) for k, v in low_information_images(s).items()]
        s += 1
        w, h = (int(v) for v in rng.integers(128, 900, 2))
        c = rng.integers(0, 256, 3).astype(np.float32)
        flat = c + rng.normal(0, rng.uniform(0.3, 1.5), (h, w, 1))
        out.append((f"low near-uniform colour #{s}", Image.fromarray(flat.clip(0, 255).astype(np.uint8))))
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        a = rng.uniform(0, 2 * np.pi)
        t = x * np.cos(a) + y * np.sin(a)
        t = ((t - t.min()) / max(1e-6, float(t.max() - t.min())))[..., None]
        c2 = rng.integers(0, 256, 3).astype(np.float32)
        grad = c + (c2 - c) * t
        out.append((f"low two-colour gradient #{s}", Image.fromarray(grad.clip(0, 255).astype(np.uint8))))
        g = rng.normal(128, rng.uniform(20, 60), (h, w, 3))
        out.append((f"low gaussian noise #{s}", Image.fromarray(g.clip(0, 255).astype(np.uint8))))
        out.append((f"low blank page #{s}", blank_page(rng)))
    return out[:count]


# --- model outputs -----------------------------------------------------------------------------
def model_outputs(n: int, seed: int) -> list[Path]:
    """``n`` outputs of the built-in model (PNG files, 512x512), generated once and cached in a
    temporary folder named for the weights, ``n`` and ``seed``."""
    import torch

    from models.default import WEIGHTS_DIR
    from models.default.data import caption_en, random_scene
    from models.default.pipeline import AssayShapesPipeline

    weights = hashlib.sha256()
    for f in sorted(Path(WEIGHTS_DIR).rglob("*")):
        if f.is_file():
            weights.update(f.name.encode() + str(f.stat().st_size).encode())
    folder = Path(tempfile.gettempdir()) / f"assay-bench-model-outputs-{weights.hexdigest()[:12]}-{seed}"
    folder.mkdir(exist_ok=True)
    files = [folder / f"{i:05d}.png" for i in range(n)]
    todo = [i for i, f in enumerate(files) if not f.is_file()]
    if todo:
        torch.set_num_threads(2)
        pipe = AssayShapesPipeline.from_pretrained(WEIGHTS_DIR, torch_dtype=torch.float32)
        pipe.set_progress_bar_config(disable=True)
        for k in range(0, len(todo), 16):
            batch = todo[k : k + 16]
            rngs = [np.random.default_rng(seed * 1_000_003 + i) for i in batch]
            texts = [caption_en(random_scene(r).attributes, r) for r in rngs]
            gens = [torch.Generator().manual_seed(seed * 1_000_003 + i) for i in batch]
            for i, im in zip(batch, pipe(texts, generator=gens, height=512, width=512).images, strict=True):
                tmp = files[i].with_suffix(".part")
                im.save(tmp, "PNG", compress_level=1)
                tmp.replace(files[i])
        print(f"corpus: {len(todo)} model outputs generated into {folder}", file=sys.stderr)
    return files


# --- the distractor set ------------------------------------------------------------------------
def _edit_held_out(im: Image.Image, rng: np.random.Generator) -> tuple[str, Image.Image]:
    """A random crop (30-100% of each side), then one more edit."""
    w, h = im.size
    kw, kh = rng.uniform(0.3, 1.0, 2)
    cw, ch = max(32, int(w * kw)), max(32, int(h * kh))
    x, y = int(rng.integers(0, max(1, w - cw + 1))), int(rng.integers(0, max(1, h - ch + 1)))
    out = im.crop((x, y, x + cw, y + ch))
    edit = ("crop", "rotate", "rescale", "JPEG", "mirror", "pasted")[int(rng.integers(0, 6))]
    if edit == "rotate":
        out = out.rotate(float(rng.uniform(-25, 25)), resample=Image.Resampling.BILINEAR, expand=True)
    elif edit == "rescale":
        f = float(np.exp(rng.uniform(np.log(0.4), np.log(2.0))))
        out = out.resize((max(16, round(out.width * f)), max(16, round(out.height * f))))
    elif edit == "JPEG":
        buf = io.BytesIO()
        out.save(buf, "JPEG", quality=int(rng.integers(30, 90)))
        out = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    elif edit == "mirror":
        out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    elif edit == "pasted":
        bg = texture(rng, 512)[1]
        s = 400 / max(out.size)
        small = out.resize((max(16, round(out.width * s)), max(16, round(out.height * s))))
        bg.paste(
            small, (int(rng.integers(0, 512 - small.width + 1)), int(rng.integers(0, 512 - small.height + 1)))
        )
        out = bg
    return edit, out


def distractors(
    n: int, held: list[tuple[str, Image.Image]], seed: int, *, models: int, low: int
) -> Iterator[tuple[str, str, Image.Image]]:
    """(group, label, image) for ``n`` images that copy no reference, made one at a time.

    ``low`` low-information images, ``models`` built-in model outputs, then held-out pictures
    (each whole once, then edited crops) and procedural pictures in the module's shares.
    """
    if n < low + models:
        raise ValueError(
            f"{n} distractors cannot hold {low} low-information images and {models} model outputs"
        )
    rng = np.random.default_rng(seed)
    for label, im in low_information(seed, low):
        yield "low", label, im
    for f in model_outputs(models, seed):
        yield "model", f"model output {f.stem}", Image.open(f).convert("RGB")
    rest = n - low - models
    n_held = round(rest * SHARES["held-out"] / (SHARES["held-out"] + SHARES["texture"]))
    for i in range(n_held):
        name, im = held[i % len(held)]
        if i < len(held):
            yield "held-out", f"{name} (whole)", im
        else:
            edit, out = _edit_held_out(im, rng)
            yield "held-out", f"{name} ({edit} #{i})", out
    for i in range(rest - n_held):
        kind, im = texture(rng, int(rng.integers(256, 640)))
        yield "texture", f"texture {kind} #{i}", im


__all__ = [
    "MAX_SIDE",
    "blank_page",
    "distractors",
    "fit",
    "held_out_pictures",
    "low_information",
    "model_outputs",
    "procedural",
    "split",
    "texture",
]
