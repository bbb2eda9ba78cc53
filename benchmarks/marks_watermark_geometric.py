"""Geometric robustness of the watermark: ``assay-wm2`` beside ``assay-wm1`` in one run, on the same
real photographs, per attack: exact payload recovery, the transform wm2 says it undid, PSNR, embed
and decode time; and false payloads on >= 1,000 unmarked images, each attacked.

Photographs: :func:`benchmarks.marks_watermark.photographs` (512x512 crops of the 17 photographs
installed with scikit-image and scikit-learn). Unmarked images:
:func:`benchmarks.marks_watermark.unmarked_images` (random crops at 200-1024 px, random
variations, synthetic extremes), then one attack of the table each, cycling, decoded by the
decoder ``verify`` runs (every scheme, full search).

Attacks are written with OpenCV and Pillow (albumentations is not installed in this
environment); every one re-encodes pixels only. Crops keep the stated share of each side at a
seeded random offset and are not scaled back; rotations turn about the centre and keep the size
(corners filled by reflection, as phone editors do); "pad 30%" adds a white frame of 15% of
each side on each side (a screenshot); text and emoji overlays cover ~20% of the area.

    .venv/bin/python benchmarks/marks_watermark_geometric.py [--photos 24] [--unmarked 1000] [--jobs 2]

Times are per call on this machine; ``cpu`` is the process's own CPU time (what the code costs,
whatever else runs on the shared cores), ``wall`` the elapsed time.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageEnhance, ImageFont  # noqa: E402

from benchmarks.marks_watermark import photographs, unmarked_images  # noqa: E402


def _jpeg(a: np.ndarray, q: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=q)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _scale(a: np.ndarray, fx: float, fy: float | None = None) -> np.ndarray:
    h, w = a.shape[:2]
    size = (max(1, round(w * fx)), max(1, round(h * (fx if fy is None else fy))))
    return np.asarray(Image.fromarray(a).resize(size, Image.Resampling.BICUBIC))


def _crop(a: np.ndarray, keep: float, seed: int) -> np.ndarray:
    h, w = a.shape[:2]
    rng = np.random.default_rng(seed)
    ch, cw = round(h * keep), round(w * keep)
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return np.ascontiguousarray(a[y : y + ch, x : x + cw])


def _rotate(a: np.ndarray, deg: float) -> np.ndarray:
    h, w = a.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    return cv2.warpAffine(a, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _perspective(a: np.ndarray, share: float, seed: int) -> np.ndarray:
    h, w = a.shape[:2]
    rng = np.random.default_rng(seed)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + rng.uniform(-share, share, (4, 2)).astype(np.float32) * np.float32([w, h])
    m = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(a, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _pad(a: np.ndarray, share: float) -> np.ndarray:
    h, w = a.shape[:2]
    py, px = round(h * share / 2), round(w * share / 2)
    return cv2.copyMakeBorder(a, py, py, px, px, cv2.BORDER_CONSTANT, value=(255, 255, 255))


def _enhance(a: np.ndarray, kind: str, f: float) -> np.ndarray:
    e = {"b": ImageEnhance.Brightness, "c": ImageEnhance.Contrast, "s": ImageEnhance.Color}[kind]
    return np.asarray(e(Image.fromarray(a)).enhance(f))


def _hue(a: np.ndarray, shift: int) -> np.ndarray:
    hsv = cv2.cvtColor(a, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + shift) % 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def _grey(a: np.ndarray) -> np.ndarray:
    g = np.asarray(Image.fromarray(a).convert("L"))
    return np.stack([g] * 3, -1)


def _font(size: int) -> ImageFont.ImageFont:
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",):
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def _text(a: np.ndarray) -> np.ndarray:
    """Meme captions: white text with a black outline, top and bottom bands (~20% of the area)."""
    im = Image.fromarray(a)
    d = ImageDraw.Draw(im)
    h = a.shape[0]
    f = _font(h // 10)
    for y, words in ((h // 30, "WHEN THE MODEL"), (h - h // 7, "GENERATES IT")):
        d.text((a.shape[1] // 20, y), words, font=f, fill="white", stroke_width=3, stroke_fill="black")
    return np.asarray(im)


def _emoji(a: np.ndarray, seed: int) -> np.ndarray:
    """Opaque stickers (filled discs with a face) covering ~20% of the area at seeded places."""
    rng = np.random.default_rng(seed)
    im = Image.fromarray(a)
    d = ImageDraw.Draw(im)
    h, w = a.shape[:2]
    r = int(0.13 * min(h, w))
    for _ in range(4):
        cx, cy = int(rng.integers(r, w - r)), int(rng.integers(r, h - r))
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 204, 0), outline=(90, 60, 0), width=3)
        d.ellipse((cx - r // 3, cy - r // 3, cx - r // 6, cy), fill="black")
        d.ellipse((cx + r // 6, cy - r // 3, cx + r // 3, cy), fill="black")
        d.arc((cx - r // 2, cy - r // 4, cx + r // 2, cy + r // 2), 20, 160, fill="black", width=4)
    return np.asarray(im)


def _noise(a: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(a + rng.normal(0, 255 * sigma, a.shape), 0, 255).astype(np.uint8)


Attack = Callable[[np.ndarray, int], np.ndarray]
ATTACKS: dict[str, Attack] = {
    "none": lambda a, s: a,
    "JPEG 75": lambda a, s: _jpeg(a, 75),
    "JPEG 50": lambda a, s: _jpeg(a, 50),
    "JPEG 75 + 0.5x": lambda a, s: _scale(_jpeg(a, 75), 0.5),
    "0.5x": lambda a, s: _scale(a, 0.5),
    "0.75x": lambda a, s: _scale(a, 0.75),
    "1.5x": lambda a, s: _scale(a, 1.5),
    "0.3x": lambda a, s: _scale(a, 0.3),
    "aspect 4:3 squeeze": lambda a, s: _scale(a, 0.75, 1.0),
    "crop 90%": lambda a, s: _crop(a, 0.9, s),
    "crop 75%": lambda a, s: _crop(a, 0.75, s),
    "crop 50%": lambda a, s: _crop(a, 0.5, s),
    "rotate 1°": lambda a, s: _rotate(a, 1.0),
    "rotate 2°": lambda a, s: _rotate(a, 2.0),
    "rotate 5°": lambda a, s: _rotate(a, 5.0),
    "rotate 10°": lambda a, s: _rotate(a, -10.0),
    "rotate 15°": lambda a, s: _rotate(a, 15.0),
    "rotate 90°": lambda a, s: np.ascontiguousarray(np.rot90(a)),
    "flip horizontal": lambda a, s: np.ascontiguousarray(a[:, ::-1]),
    "flip vertical": lambda a, s: np.ascontiguousarray(a[::-1]),
    "perspective 5%": lambda a, s: _perspective(a, 0.05, s),
    "blur σ2": lambda a, s: cv2.GaussianBlur(a, (0, 0), 2.0),
    "noise σ0.05": lambda a, s: _noise(a, 0.05, s),
    "brightness +30%": lambda a, s: _enhance(a, "b", 1.3),
    "brightness -30%": lambda a, s: _enhance(a, "b", 0.7),
    "contrast +30%": lambda a, s: _enhance(a, "c", 1.3),
    "contrast -30%": lambda a, s: _enhance(a, "c", 0.7),
    "hue +20° / saturation x1.3": lambda a, s: _enhance(_hue(a, 10), "s", 1.3),
    "greyscale": lambda a, s: _grey(a),
    "text overlay 20%": lambda a, s: _text(a),
    "emoji overlay 20%": lambda a, s: _emoji(a, s),
    "white padding 30%": lambda a, s: _pad(a, 0.3),
    "crop 90% + rotate 3° + 0.75x + JPEG 75": lambda a, s: _jpeg(
        _scale(_rotate(_crop(a, 0.9, s), 3.0), 0.75), 75
    ),
    "padding + 0.8x + JPEG 70": lambda a, s: _jpeg(_scale(_pad(a, 0.3), 0.8), 70),
    "crop 75% + flip + rotate 5° + JPEG 80": lambda a, s: _jpeg(_rotate(_crop(a, 0.75, s)[:, ::-1], 5.0), 80),
}


def _payload(i: int) -> int:
    from provenance.watermark import payload_for

    return payload_for("01JDQ3V6ZK7C3M5W0Y8N2P4R6T", i)


def _one_photo(args: tuple[int, np.ndarray, list[str]]) -> dict:
    """Embed both schemes into one photo, run every attack, decode each scheme on its own copy."""
    from provenance.watermark import decode_watermark, embed_watermark

    i, rgb, attacks = args
    payload = _payload(i)
    out: dict = {"psnr": {}, "embed": {}, "hits": {}, "decode_cpu": {}, "decode_wall": {}, "words": {}}
    img = Image.fromarray(rgb)
    for scheme in ("assay-wm2", "assay-wm1"):
        c0, w0 = time.process_time(), time.perf_counter()
        marked = embed_watermark(img, payload, scheme=scheme)  # type: ignore[arg-type]
        out["embed"][scheme] = (time.process_time() - c0, time.perf_counter() - w0)
        out["psnr"][scheme] = marked.psnr
        pixels = np.asarray(marked.image)
        for name in attacks:
            attacked = ATTACKS[name](pixels, 1000 * i + len(name))
            c0, w0 = time.process_time(), time.perf_counter()
            r = decode_watermark(Image.fromarray(attacked), scheme=scheme)  # type: ignore[arg-type]
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            got = None if r is None else r.payload
            out["hits"][(scheme, name)] = "ok" if got == payload else ("wrong" if got is not None else "miss")
            out["decode_cpu"][(scheme, name)] = cpu
            out["decode_wall"][(scheme, name)] = wall
            if scheme == "assay-wm2" and r is not None:
                out["words"][name] = r.transform
    return out


def _one_unmarked(args: tuple[int, np.ndarray]) -> tuple[str, bool, float, float]:
    """One unmarked image under attack ``i mod len(ATTACKS)``, decoded as ``verify`` does (every
    scheme, full search; wm2 first): (attack, any payload read, wm2 cpu s, wm1 cpu s)."""
    from provenance.watermark import decode_watermark

    i, rgb = args
    names = list(ATTACKS)
    name = names[i % len(names)]
    img = Image.fromarray(ATTACKS[name](rgb, i))
    c0 = time.process_time()
    r2 = decode_watermark(img, scheme="assay-wm2")
    c1 = time.process_time()
    r1 = decode_watermark(img, scheme="assay-wm1")
    return name, r2 is not None or r1 is not None, c1 - c0, time.process_time() - c1


def _p50(xs: list[float]) -> float:
    return statistics.median(xs) * 1000 if xs else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=24)
    ap.add_argument("--unmarked", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--attacks", default="", help="comma-separated subset of attack names")
    args = ap.parse_args()
    attacks = [a for a in args.attacks.split(",") if a] or list(ATTACKS)
    photos = photographs(args.photos)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(_one_photo, [(i, rgb, attacks) for i, (_, rgb) in enumerate(photos)]))
        print(f"photos done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        unmarked = unmarked_images(args.unmarked) if args.unmarked else []
        false = list(pool.map(_one_unmarked, list(enumerate(unmarked)), chunksize=8))
    n = len(results)
    print(f"## Watermark robustness, {n} photographs 512x512 (assay-wm2 beside assay-wm1, same run)\n")
    for scheme in ("assay-wm2", "assay-wm1"):
        ps = [r["psnr"][scheme] for r in results]
        emb = [r["embed"][scheme][0] for r in results]
        print(
            f"- {scheme}: PSNR mean {statistics.mean(ps):.2f} dB, min {min(ps):.2f} dB; "
            f"embed p50 {_p50(emb):.0f} ms cpu"
        )
    print()
    false_by: dict[str, list[bool]] = {}
    for name, hit, _, _ in false:
        false_by.setdefault(name, []).append(hit)
    print(
        "| attack | wm2 exact payload | wm1 exact payload | wrong payloads | false payloads (unmarked, "
        "same attack) | wm2 decode p50 cpu ms | wm2 said |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in attacks:
        row = []
        for scheme in ("assay-wm2", "assay-wm1"):
            ok = sum(r["hits"][(scheme, name)] == "ok" for r in results)
            row.append(f"{ok}/{n} ({100 * ok / n:.0f}%)")
        wrong = sum(r["hits"][(s, name)] == "wrong" for r in results for s in ("assay-wm2", "assay-wm1"))
        cpu = _p50([r["decode_cpu"][("assay-wm2", name)] for r in results])
        said = statistics.mode([r["words"][name] for r in results if name in r["words"]] or ["-"])
        fb = false_by.get(name, [])
        fcell = f"{sum(fb)}/{len(fb)}" if fb else "-"
        print(f"| {name} | {row[0]} | {row[1]} | {wrong} | {fcell} | {cpu:.0f} | {said} |")
    if false:
        n_false = sum(hit for _, hit, _, _ in false)
        c2 = [c for _, _, c, _ in false]
        c1 = [c for _, _, _, c in false]
        both = [a + b for a, b in zip(c2, c1, strict=True)]
        print(
            f"\nFalse payloads: {n_false} of {len(false)} attacked unmarked images (every scheme, "
            f"full search). Decode of an unmarked image, cpu ms p50 / p95: wm2 {_p50(c2):.0f} / "
            f"{np.percentile(c2, 95) * 1000:.0f}, wm1 {_p50(c1):.0f} / {np.percentile(c1, 95) * 1000:.0f}, "
            f"both (what verify runs) {_p50(both):.0f} / {np.percentile(both, 95) * 1000:.0f}"
        )
    allc = [r["decode_cpu"][("assay-wm2", a)] for r in results for a in attacks]
    print(f"\nwm2 decode over all attacked photos: p50 {_p50(allc):.0f} ms cpu")
    print(f"total {time.perf_counter() - t0:.0f} s wall, {args.jobs} processes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
