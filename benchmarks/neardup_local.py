"""Copy detection after real edits: neardup.local beside pHash/dHash, on real photographs, with distractors.

Part 1 (robustness): the references are the first ``--refs`` (200) distinct real photographs of
``benchmarks/photos.py`` (Debian packages with per-file licences, scikit-image, scikit-learn;
``make photos`` installs them; nothing is downloaded), each at most 1,024 pixels on its long
side. Every reference is edited by each attack below (albumentations 2.0.8, MIT, pinned in the dev
extra, for the geometric and photometric edits; Pillow for captions, stickers and paste-ins),
``--draws`` random draws per attack, and each edited copy is queried against an index of the
references with the local detector (``neardup.local``) and with the hash gate (``neardup.hash``,
radius 8) restricted to pHash and to dHash in turn, in the same run. Recall per attack counts a
copy as found when its own reference is matched; a match to another reference is "wrong".

The distractors (``--distractors``, 10,000) copy no reference (``benchmarks/neardup_corpus.py``
says which images they are and why): held-out real pictures (photographs past the first 200,
scikit-image samples photos.py does not list, LFW faces, wallpaper renders, painting-puzzle pieces
and drawings), each whole once and then cropped, rotated, rescaled, re-encoded, mirrored or pasted
onto a texture; ``--model-outputs`` (1,000) outputs of the built-in model; procedural textures; and
``--low`` (300) low-information images (blank, near-uniform, gradients, noise, mostly-white
pages), which must come back "undecided". A distractor that matches any reference is a false
match; the table gives them per group. Six low-information images are also put in the
references' source folder: the build must leave them out.

Part 2 (scale): the same attacked copies (every attack, every reference, ``--scale-draws`` draws)
queried against the 13 references alone and against indexes grown to each ``--scale`` size with
synthetic references, plus distractor queries; prints recall per attack side by side, latency of
the local stage (feature extraction + candidates + verification, one thread; wall and CPU time,
after the start-up read of the candidate stage a gateway replica does), the candidate stage
alone, and memory per million references (candidate stage, resident; the verification data, on
disk). A synthetic reference is 384 descriptors drawn at random from a pool
of real ORB descriptors (``--pool-images`` procedural pictures, the LFW faces, crops of the
held-out photos), each with 8% of its bits flipped, at random positions and angles (see
``_grow``): they fill the buckets as real works would and copy nothing. ``--scale-only`` skips
part 1.

    .venv/bin/python benchmarks/neardup_local.py                 # robustness + 10^4, 10^5
    .venv/bin/python benchmarks/neardup_local.py --scale         # robustness only (~30 min, 2 cores)
    .venv/bin/python benchmarks/neardup_local.py --quick --scale # robustness, 1 draw, 1,500 distractors
    .venv/bin/python benchmarks/neardup_local.py --scale-only --scale 1000000 --pool-images 500
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from neardup_corpus import blank_page as _blank_page  # noqa: E402
from neardup_corpus import procedural as _procedural  # noqa: E402

from safety.neardup.builder import build_index  # noqa: E402
from safety.neardup.check import HashCheck, LocalCheck  # noqa: E402
from safety.neardup.options import HashCheckOptions, LocalCheckOptions  # noqa: E402
from safety.neardup.testing import low_information_images, paste_into, photo  # noqa: E402

#: the query side of the local check as the gateway runs it (keypoints, half-size view)
QUERY = LocalCheckOptions(indexes=["bench"])
#: real photographs in the index (scikit-image sample data + scikit-learn's sample images)
REFERENCES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "coins",
    "stereo_motorcycle",
    "immunohistochemistry",
    "retina",
    "hubble_deep_field",
    "moon",
    "sk:china.jpg",
    "sk:flower.jpg",
)
#: real images that are not in the index; their crops are distractors
HELD_OUT = ("page", "text", "horse", "cell", "brick", "grass", "gravel", "logo", "microaneurysms", "clock")


def load(name: str) -> Image.Image:
    if name.startswith("sk:"):
        from sklearn.datasets import load_sample_image

        return Image.fromarray(load_sample_image(name[3:])).convert("RGB")
    return photo(name)


def _alb(transform) -> Callable[[Image.Image, np.random.Generator], Image.Image]:
    def run(im: Image.Image, rng: np.random.Generator) -> Image.Image:
        import albumentations as A

        t = A.Compose([transform], seed=int(rng.integers(0, 2**31)))
        return Image.fromarray(t(image=np.asarray(im.convert("RGB")))["image"])

    return run


def _crop(lo: float, hi: float):
    def run(im: Image.Image, rng: np.random.Generator) -> Image.Image:
        kw, kh = rng.uniform(lo, hi, 2)
        w, h = im.size
        cw, ch = max(8, int(w * kw)), max(8, int(h * kh))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        return im.crop((x, y, x + cw, y + ch))

    return run


def _text(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    out = im.convert("RGB")
    d = ImageDraw.Draw(out)
    words = ["SALE", "LOL", "COPY", "reposted", "@user_42", "#art", "FREE", "2026", "wow"]
    for _ in range(int(rng.integers(1, 4))):
        size = int(out.height * rng.uniform(0.06, 0.14))
        font = ImageFont.load_default(size=max(10, size))
        text = " ".join(rng.choice(words, int(rng.integers(1, 4))))
        x, y = int(rng.uniform(0, 0.6) * out.width), int(rng.uniform(0, 0.85) * out.height)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        d.text((x, y), text, fill=colour, font=font, stroke_width=max(1, size // 12), stroke_fill=(0, 0, 0))
    return out


def _stickers(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Emoji-like stickers: filled discs with faces and stars over up to ~15% of the picture."""
    out = im.convert("RGB")
    d = ImageDraw.Draw(out)
    for _ in range(int(rng.integers(2, 5))):
        r = int(min(out.size) * rng.uniform(0.05, 0.11))
        cx, cy = int(rng.integers(r, out.width - r)), int(rng.integers(r, out.height - r))
        d.ellipse(
            (cx - r, cy - r, cx + r, cy + r), fill=(255, 205, 40), outline=(120, 80, 0), width=max(1, r // 10)
        )
        e = max(1, r // 5)
        d.ellipse((cx - r // 2 - e, cy - r // 3 - e, cx - r // 2 + e, cy - r // 3 + e), fill=(0, 0, 0))
        d.ellipse((cx + r // 2 - e, cy - r // 3 - e, cx + r // 2 + e, cy - r // 3 + e), fill=(0, 0, 0))
        d.arc(
            (cx - r // 2, cy - r // 4, cx + r // 2, cy + r // 2),
            20,
            160,
            fill=(0, 0, 0),
            width=max(1, r // 8),
        )
    return out


def _paste(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    return paste_into(im, 0.4, seed=int(rng.integers(0, 2**31)))[0]


def _jpeg(lo: int, hi: int):
    def run(im: Image.Image, rng: np.random.Generator) -> Image.Image:
        buf = io.BytesIO()
        im.convert("RGB").save(buf, "JPEG", quality=int(rng.integers(lo, hi + 1)))
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")

    return run


def _rescale(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    f = float(np.exp(rng.uniform(np.log(0.3), np.log(2.0))))
    return im.resize((max(8, round(im.width * f)), max(8, round(im.height * f))), Image.Resampling.BILINEAR)


def _aspect(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    a = float(rng.uniform(0.7, 1.4))
    return im.resize((max(8, round(im.width * a)), im.height), Image.Resampling.BILINEAR)


def _frame(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Screenshot framing: the picture on a UI-coloured canvas with bars, 10-30% padding."""
    p = rng.uniform(0.1, 0.3)
    w, h = im.size
    canvas = Image.new("RGB", (int(w * (1 + 2 * p)), int(h * (1 + 2 * p))), (245, 245, 247))
    d = ImageDraw.Draw(canvas)
    d.rectangle((0, 0, canvas.width, int(h * p * 0.6)), fill=(40, 44, 52))
    canvas.paste(im.convert("RGB"), (int(w * p), int(h * p)))
    return canvas


def attacks() -> dict[str, Callable[[Image.Image, np.random.Generator], Image.Image]]:
    import albumentations as A

    rot = _alb(A.Rotate(limit=(5, 20), border_mode=0, p=1.0))
    rot_neg = _alb(A.Rotate(limit=(-20, -5), border_mode=0, p=1.0))
    mirror = _alb(A.HorizontalFlip(p=1.0))
    jitter = _alb(A.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.5, hue=0.05, p=1.0))
    gray = _alb(A.ToGray(p=1.0))
    blur = _alb(A.GaussianBlur(blur_limit=(3, 7), sigma_limit=(0.8, 2.0), p=1.0))
    crop = _crop(0.5, 0.9)

    def chain(*fs):
        return lambda im, rng: _chain(im, rng, fs)

    return {
        "crop 50-90% of each side": crop,
        "mirror + crop": chain(mirror, crop),
        "rotate 5-20 deg": lambda im, rng: (rot if rng.random() < 0.5 else rot_neg)(im, rng),
        "aspect 0.7-1.4": _aspect,
        "text overlay": _text,
        "emoji stickers": _stickers,
        "pasted as 40% of a new image": _paste,
        "JPEG 30-75": _jpeg(30, 75),
        "rescale 0.3-2x": _rescale,
        "colour jitter": jitter,
        "greyscale": gray,
        "blur": blur,
        "padding / screenshot frame": _frame,
        "chain: crop + text + JPEG": chain(crop, _text, _jpeg(40, 75)),
        "chain: mirror + rotate + jitter": chain(mirror, rot, jitter),
        "chain: rescale + stickers + blur": chain(_rescale, _stickers, blur),
    }


def _chain(im, rng, fs):
    for f in fs:
        im = f(im, rng)
    return im


def distractors(n: int, seed: int) -> list[tuple[str, Image.Image]]:
    """``n`` images that copy none of the references (plus the low-information set)."""
    from skimage import data

    rng = np.random.default_rng(seed)
    out: list[tuple[str, Image.Image]] = [(f"low: {k}", v) for k, v in low_information_images(seed).items()]
    out += [(f"low: page {i}", _blank_page(rng)) for i in range(5)]
    faces = data.lfw_subset()
    for i in range(min(len(faces), n // 5)):
        f = Image.fromarray((faces[i] * 255).astype(np.uint8)).resize((200, 200), Image.Resampling.BICUBIC)
        out.append((f"face {i}", f.convert("RGB")))
    held = [(h, photo(h)) for h in HELD_OUT]
    atk = [_crop(0.3, 0.9), _rescale, _alb_rot(), _jpeg(40, 90)]
    i = 0
    while len(out) < n * 3 // 4:
        name, im = held[i % len(held)]
        f = atk[int(rng.integers(0, len(atk)))]
        out.append((f"held-out {name} #{i}", f(_crop(0.4, 1.0)(im, rng), rng)))
        i += 1
    while len(out) < n:
        out.append((f"procedural #{len(out)}", _procedural(rng)))
    return out


def _alb_rot():
    import albumentations as A

    return _alb(A.Rotate(limit=(-25, 25), border_mode=0, p=1.0))


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1e3, p)) if xs else float("nan")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Runner:
    """Both checks over one index store, timed per query (wall and this thread's CPU)."""

    def __init__(self, store, index: str, min_inliers: int) -> None:
        from core.settings import Settings

        settings = Settings(data_dir=store.root.parent)
        self.local = LocalCheck(settings, store=store)
        self.hash = HashCheck(settings, store=store)
        self.index, self.min_inliers = index, min_inliers
        self.local_wall: list[float] = []
        self.local_cpu: list[float] = []
        self.hash_wall: list[float] = []

    def run(self, im: Image.Image) -> tuple[list, list]:
        from safety.check import CheckInput
        from safety.verdict import Target

        item = CheckInput(
            target=Target.output_image(0),
            tenant="bench",
            image=im,
            options=LocalCheckOptions(indexes=[self.index], min_inliers=self.min_inliers),
        )
        t, c = time.perf_counter(), time.thread_time()
        lv = self.local.run(item)
        self.local_cpu.append(time.thread_time() - c)
        self.local_wall.append(time.perf_counter() - t)
        hitem = CheckInput(
            target=item.target, tenant="bench", image=im, options=HashCheckOptions(indexes=[self.index])
        )
        t = time.perf_counter()
        hv = self.hash.run(hitem)
        self.hash_wall.append(time.perf_counter() - t)
        return lv, hv

    def run_split(self, im: Image.Image) -> tuple[list, dict[str, list]]:
        """The local verdicts and the hash check's verdicts with pHash alone and with dHash alone."""
        from safety.check import CheckInput
        from safety.neardup.codes import CodeType
        from safety.verdict import Target

        lv, _ = self.run(im)
        by_code = {}
        for ct in (CodeType.PHASH, CodeType.DHASH):
            opts = HashCheckOptions(indexes=[self.index], codes=[ct])
            item = CheckInput(target=Target.output_image(0), tenant="bench", image=im, options=opts)
            by_code[ct.value] = self.hash.run(item)
        return lv, by_code


def _ids(vs: list) -> list[str]:
    return [v.evidence["source_id"] for v in vs if "source_id" in v.evidence]


def _index_folder(tmp: Path, name: str, images, planted=()):
    """Save ``images`` ((key, image)) and ``planted`` ones as a source folder ``tmp/name`` and index
    it with local features as ``name`` in ``tmp/name-index``: (store, {key: image}, build report)."""
    from safety.neardup.sources import read_source
    from safety.neardup.store import IndexStore

    src = tmp / name
    src.mkdir()
    refs = {}
    for key, im in images:
        im.save(src / key, compress_level=1)
        refs[key] = im
    for i, (_label, im) in enumerate(planted):
        im.save(src / f"low-information-{i}.png")
    store = IndexStore(tmp / f"{name}-index")
    report = build_index(store, name, read_source(src), local=True, workers=1)
    return store, refs, report


def _references(tmp: Path) -> dict:
    """The real references saved as a source folder and indexed as ``refs`` (for ``--scale-only``)."""
    images = ((n.replace("sk:", "").replace(".jpg", "") + ".png", load(n)) for n in REFERENCES)
    store, refs, _report = _index_folder(tmp, "refs", images)
    return {"store": store, "refs": refs}


def robustness(args: argparse.Namespace, tmp: Path) -> dict:
    """Part 1: recall per attack over the real references, false matches over the distractor set."""
    from neardup_corpus import distractors as corpus_distractors
    from neardup_corpus import held_out_pictures, low_information, split

    t0 = time.perf_counter()
    ref_list, held_photos, per_source = split(args.refs)
    # low-information images in the source folder: the builder must leave them out (never matched)
    planted = low_information(args.seed + 2, 6)
    images = ((name.replace("/", "-") + ".png", im) for name, im in ref_list)
    store, refs, report = _index_folder(tmp, "photos", images, planted)
    m = store.manifest("photos")
    skipped_low = sum(1 for s in report.skipped if Path(s.path).name.startswith("low-information-"))
    held = held_out_pictures(held_photos)
    print(
        f"== robustness: {m.count} real reference photographs ("
        + ", ".join(f"{k} {v}" for k, v in per_source.items())
        + f"; long side <= {max(max(im.size) for im in refs.values())} px), {m.local.keypoints:,} keypoints "
        f"({m.local.keypoints / m.count:.0f}/image); {skipped_low}/{len(planted)} low-information images "
        f"in the source folder left out of the index; {args.draws} draw(s) per attack and photo, "
        f"min_inliers {args.min_inliers}; prepared in {time.perf_counter() - t0:.0f} s",
        flush=True,
    )
    runner = Runner(store, "photos", args.min_inliers)
    rows = []
    inl_true: list[int] = []
    t1 = time.perf_counter()
    print(f"{'attack':<34}{'local':>8}{'pHash':>8}{'dHash':>8}{'wrong':>7}{'undec.':>7}{'med. inl':>9}")
    for i, (attack, fn) in enumerate(attacks().items()):
        if args.attacks and not any(a.strip() in attack for a in args.attacks.split(",")):
            continue
        rng = np.random.default_rng([args.seed, i])  # each attack its own draws, with or without --attacks
        found: dict[str, int] = {"local": 0, "phash": 0, "dhash": 0}
        wrong = undecided = n = 0
        inl = []
        missed = []
        for key, im in refs.items():
            for _ in range(args.draws):
                q = fn(im, rng)
                lv, by_code = runner.run_split(q)
                n += 1
                ids = _ids(lv)
                found["local"] += key in ids
                for code, hv in by_code.items():
                    found[code] += key in _ids(hv)
                wrong += sum(1 for i in ids if i != key)
                undecided += any(v.evidence.get("decision") == "undecided" for v in lv)
                inl += [v.evidence["inliers"] for v in lv if v.evidence.get("source_id") == key]
                if key not in ids:
                    missed.append(key)
        inl_true += inl
        rows.append((attack, found["local"] / n, found["phash"] / n, found["dhash"] / n, wrong, undecided, n))
        print(
            f"{attack:<34}{found['local'] / n:>8.1%}{found['phash'] / n:>8.1%}{found['dhash'] / n:>8.1%}"
            f"{wrong:>7}{undecided:>7}{(np.median(inl) if inl else 0):>9.0f}",
            flush=True,
        )
        if missed and args.show_missed:
            print(f"   missed: {', '.join(missed[: args.show_missed])}")
    singles = [r for r in rows if not r[0].startswith("chain")]
    chains = [r for r in rows if r[0].startswith("chain")]
    copies = sum(r[6] for r in rows)
    wrong_all = sum(r[4] for r in rows)
    print(
        f"{copies} attacked copies in {time.perf_counter() - t1:.0f} s: local min single-edit recall "
        f"{min((r[1] for r in singles), default=1):.1%}, min chain recall "
        f"{min((r[1] for r in chains), default=1):.1%}; matched to a "
        f"wrong reference: {wrong_all}; mean recall pHash {np.mean([r[2] for r in rows]):.1%}, "
        f"dHash {np.mean([r[3] for r in rows]):.1%}",
        flush=True,
    )

    t2 = time.perf_counter()
    groups: dict[str, dict[str, int]] = {}
    examples = []
    low_decided = []
    for group, label, im in corpus_distractors(
        args.distractors, held, args.seed + 1, models=args.model_outputs, low=args.low
    ):
        lv, by_code = runner.run_split(im)
        g = groups.setdefault(group, {"n": 0, "local": 0, "phash": 0, "dhash": 0, "undecided": 0})
        g["n"] += 1
        ids = _ids(lv)
        g["local"] += bool(ids)
        for code, hv in by_code.items():
            g[code] += bool(_ids(hv))
        und = any(v.evidence.get("decision") == "undecided" for v in lv)
        g["undecided"] += und
        if ids:
            examples.append((label, ids[0], lv[0].evidence.get("inliers")))
        if group == "low" and not und:
            low_decided.append(label)
    total = {k: sum(g[k] for g in groups.values()) for k in ("n", "local", "phash", "dhash", "undecided")}
    print(
        f"\ndistractors: {total['n']:,} images that copy no reference, queried in "
        f"{time.perf_counter() - t2:.0f} s (false match: any reference matched)"
    )
    print(f"{'group':<12}{'images':>8}{'local':>10}{'pHash':>10}{'dHash':>10}{'undecided':>11}")
    for name, g in [*groups.items(), ("all", total)]:
        print(f"{name:<12}{g['n']:>8,}{g['local']:>10}{g['phash']:>10}{g['dhash']:>10}{g['undecided']:>11,}")
    print(
        f"false matches per query: local {total['local'] / total['n']:.3%}, pHash "
        f"{total['phash'] / total['n']:.3%}, dHash {total['dhash'] / total['n']:.3%}; low-information "
        f"reported undecided: {groups['low']['undecided']}/{groups['low']['n']}"
        + (f" (decided: {', '.join(low_decided[:6])})" if low_decided else "")
    )
    if examples:
        print("  local false matches (distractor, reference, inliers):", examples[:10])
    print(
        f"latency over all {len(runner.local_wall):,} queries at {m.count} references: local p50 "
        f"{pct(runner.local_wall, 50):.1f} ms wall / {pct(runner.local_cpu, 50):.1f} ms CPU, p95 "
        f"{pct(runner.local_wall, 95):.1f} / {pct(runner.local_cpu, 95):.1f}; "
        f"hash p50 {pct(runner.hash_wall, 50):.2f} ms; load average {os.getloadavg()[0]:.1f}"
    )
    if inl_true:
        print(
            f"inliers of found copies: p5 {np.percentile(inl_true, 5):.0f}, median {np.median(inl_true):.0f}"
        )
    return {
        "rows": rows,
        "false_local": total["local"],
        "wrong": wrong_all,
        "distractors": total["n"],
        "low_ok": groups["low"]["undecided"] == groups["low"]["n"] and skipped_low == len(planted),
        "store": store,
        "index": "photos",
    }


def null_inliers(args: argparse.Namespace, store, n: int, index: str) -> None:
    """Best verified inliers per distractor with no threshold: the chance distribution behind the score."""
    from safety.neardup.local import decode_pts, extract, verify
    from safety.neardup.query import LoadedIndex

    ix = LoadedIndex.open(store, index)
    d = ix.data
    spec = ix.manifest.local
    best = []
    for _label, im in distractors(n, args.seed + 7)[12:]:
        views = extract(im, spec, QUERY.keypoints, mirror=True, coarse=QUERY.coarse_keypoints)
        top = 0
        kpoff = d.local("local.kpoff")
        for row in range(d.count):
            a, b = int(kpoff[row]), int(kpoff[row + 1])
            fr = d.local("local.frame")[row]
            for v in views:
                g = verify(
                    v,
                    decode_pts(np.asarray(d.local("local.pts")[a:b])),
                    np.asarray(d.local("local.desc")[a:b]),
                    (float(fr[0]), float(fr[1])),
                    float(fr[2]),
                    im.size,
                )
                top = max(top, g.inliers if g else 0)
        best.append(top)
    best_a = np.asarray(best)
    print(
        f"chance inliers (best of all {d.count} references x 2 views, {len(best)} distractors): "
        + ", ".join(f">= {k}: {np.mean(best_a >= k):.3f}" for k in (4, 6, 8, 10, 12, 14))
    )


def descriptor_pool(images: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Real ORB descriptors (and their angles) to draw synthetic references from, and what they are.

    ``images`` procedural pictures (shapes on plain or textured backgrounds), scikit-image's LFW
    faces and random crops of the held-out photographs: none is a reference or a copy of one.
    """
    from skimage import data

    from safety.neardup.local import default_spec, extract

    spec = default_spec()
    rng = np.random.default_rng(seed)
    descs, angs = [], []
    faces = data.lfw_subset()
    srcs: list[Image.Image] = [
        Image.fromarray((f * 255).astype(np.uint8)).resize((256, 256), Image.Resampling.BICUBIC)
        for f in faces
    ]
    held = [photo(h) for h in HELD_OUT]
    crops = max(100, images // 4)
    srcs += [_crop(0.3, 0.9)(held[i % len(held)], rng) for i in range(crops)]
    srcs += [_procedural(rng) for _ in range(images)]
    for im in srcs:
        (f,) = extract(im, spec, spec.ref_keypoints)
        descs.append(f.desc)
        angs.append(f.ang)
    d = np.concatenate(descs)
    what = (
        f"{len(d):,} ORB descriptors of {images} procedural images, {len(faces)} LFW faces and {crops} "
        f"crops of the {len(HELD_OUT)} held-out photos"
    )
    return d, np.concatenate(angs), what


def _grow(store, refs_src: Path, n: int, pool: tuple, seed: int, tables: int | None = None) -> float:
    """An index of the real references plus ``n - len(refs)`` synthetic ones; returns build seconds.

    A synthetic reference is ``ref_keypoints`` descriptors drawn at random from the pool, each with
    8% of its 256 bits flipped at random (so no two synthetic descriptors are equal), at random
    positions and angles: a crowd of plausible ORB descriptors that fill the buckets as real works
    would, and that no query copies.
    """
    from safety.neardup.builder import _write_local_tables
    from safety.neardup.local import default_spec, encode_pts
    from safety.neardup.sources import read_source

    t0 = time.perf_counter()
    spec = default_spec()
    if tables:
        spec = spec.model_copy(update={"lsh_tables": tables})
    build_index(store, "big", read_source(refs_src), local=spec, workers=1)
    folder = store.folder("big")
    m = store.manifest("big")
    k_ref = m.local.ref_keypoints
    synth = n - m.count
    rng = np.random.default_rng(seed)
    pool_d = pool[0]
    # a bank of flip masks (8% of bits), reused at random offsets: drawing 256 coins per synthetic
    # descriptor would cost more than everything else here
    bank = np.packbits(rng.random((1 << 16, 256)) < 0.08, axis=1)
    files = {role: info.file for role, info in m.files.items()}
    kpoff = np.fromfile(folder / files["local.kpoff"], dtype=np.uint64)
    total = int(kpoff[-1]) + synth * k_ref
    step = 2000
    with (
        open(folder / files["local.desc"], "ab") as fd,
        open(folder / files["local.pts"], "ab") as fp,
        open(folder / files["local.ang"], "ab") as fa,
        open(folder / files["local.frame"], "ab") as ff,
    ):
        for s in range(0, synth, step):
            c = min(step, synth - s)
            k = c * k_ref
            desc = pool_d[rng.integers(0, len(pool_d), k)]
            desc ^= bank[rng.integers(0, len(bank), k)]
            fd.write(desc.tobytes())
            fp.write(encode_pts(rng.uniform(0, 500, (k, 2))).tobytes())
            fa.write(rng.integers(0, 256, k, dtype=np.uint8).tobytes())
            ff.write(np.tile(np.array([512, 512, 1, 512, 512], np.float32), (c, 1)).tobytes())
    new_off = np.concatenate([kpoff, kpoff[-1] + np.arange(1, synth + 1, dtype=np.uint64) * k_ref])
    new_off.tofile(folder / files["local.kpoff"])
    print(f"   {n:,} references: {synth:,} synthetic rows written, building the inverted file", flush=True)
    local = _write_local_tables(folder, files, m.local, total, progress=True)
    _rewrite_manifest(store, m, n, local, synth)
    return time.perf_counter() - t0


def _query_set(refs: dict, draws: int, seed: int) -> list[tuple[str, str, Image.Image]]:
    """(attack, reference, edited copy) for every attack, reference and draw (the same at every scale)."""
    rng = np.random.default_rng(seed)
    return [
        (a, key, fn(im, rng)) for a, fn in attacks().items() for key, im in refs.items() for _ in range(draws)
    ]


def _recall(runner: Runner, queries: list) -> tuple[dict[str, float], int]:
    found: dict[str, list[bool]] = {}
    wrong = 0
    for attack, key, im in queries:
        ids = _ids(runner.run(im)[0])
        found.setdefault(attack, []).append(key in ids)
        wrong += sum(1 for i in ids if i != key)
    return {a: float(np.mean(v)) for a, v in found.items()}, wrong


def _candidate_cpu(store, images: list[Image.Image]) -> list[float]:
    """CPU seconds of the candidate stage alone per query (features extracted beforehand)."""
    from safety.neardup.local import extract
    from safety.neardup.query import LoadedIndex

    ix = LoadedIndex.open(store, "big", verify=False)
    tables = ix.local_tables()
    out = []
    for im in images:
        views = extract(im, ix.manifest.local, QUERY.keypoints, mirror=True, coarse=QUERY.coarse_keypoints)
        c = time.thread_time()
        tables.candidates(views, 8)
        out.append(time.thread_time() - c)
    return out


def scale(args: argparse.Namespace, tmp: Path, base: dict) -> None:
    """Latency, memory and recall of the local stage at larger indexes (see the module docstring)."""
    from safety.neardup.store import IndexStore

    refs = base["refs"]
    t0 = time.perf_counter()
    pool = descriptor_pool(args.pool_images, args.seed + 3)
    took = time.perf_counter() - t0
    print(f"== scale: synthetic references drawn from {pool[2]} (pool built in {took:.0f} s)")
    queries = _query_set(refs, args.scale_draws, args.seed + 5)
    dis = distractors(args.scale_queries, args.seed + 9)
    small = Runner(base["store"], "refs", args.min_inliers)
    small_recall, _ = _recall(small, queries)
    print(
        f"   {len(refs)} references: local p50 {pct(small.local_wall, 50):.1f} ms wall / "
        f"{pct(small.local_cpu, 50):.1f} ms CPU, p95 {pct(small.local_wall, 95):.1f} / "
        f"{pct(small.local_cpu, 95):.1f} over {len(small.local_wall)} queries",
        flush=True,
    )
    rows = [("13 references", small_recall, None)]
    for n in args.scale:
        store = IndexStore(tmp / f"scale{n}")
        build_s = _grow(store, tmp / "refs", n, pool, args.seed + 11, args.tables)
        m = store.manifest("big")
        folder = store.folder("big")
        sizes = {role: (folder / info.file).stat().st_size for role, info in m.files.items()}
        cand = sum(sizes[r] for r in sizes if r.startswith("local.lsh_") and r != "local.lsh_off")
        fixed = sizes["local.lsh_off"]
        verif = sum(sizes[r] for r in ("local.desc", "local.pts", "local.ang", "local.kpoff", "local.frame"))
        rest = sum(sizes.values()) - cand - fixed - verif
        m0 = rss_mb()
        runner = Runner(store, "big", args.min_inliers)
        t_warm = time.perf_counter()
        # what a gateway replica does at start-up: map the candidate stage and read it into the page
        # cache, so the timed queries measure the search, not the disk
        runner.local.warm(LocalCheckOptions(indexes=["big"]))
        t_warm = time.perf_counter() - t_warm
        recall, wrong = _recall(runner, queries)
        n_att = len(runner.local_wall)
        false = 0
        for _label, im in dis:
            false += bool(_ids(runner.run(im)[0]))
        cand_cpu = _candidate_cpu(store, [q[2] for q in queries[:: max(1, len(queries) // 50)]])
        per_m = 1e6 / n
        print(
            f"== {n:>9,} references, format {m.format}: {m.local.keypoints:,} keypoints, "
            f"{m.local.lsh_tables} tables of {m.local.lsh_bits}-bit keys; built in {build_s:.0f} s; "
            f"{_stored(m.local)}; start-up read of the candidate stage {t_warm:.0f} s\n"
            f"   memory per million references: candidate stage {cand * per_m / 2**30:.2f} GiB + "
            f"{fixed / 2**20:.0f} MiB bucket offsets per index (resident: every query reads ~10^4 "
            f"random buckets); verification data {verif * per_m / 2**30:.2f} GiB (on disk, read for "
            f"the ~8 candidates only); hashes and entries {rest * per_m / 2**30:.2f} GiB; process "
            f"+{rss_mb() - m0:.0f} MB resident after {len(runner.local_wall)} queries\n"
            f"   local query (1 thread, extraction included) over {len(runner.local_wall)} queries: p50 "
            f"{pct(runner.local_wall, 50):.1f} ms wall / {pct(runner.local_cpu, 50):.1f} ms CPU, p95 "
            f"{pct(runner.local_wall, 95):.1f} / {pct(runner.local_cpu, 95):.1f}; hash check p50 "
            f"{pct(runner.hash_wall, 50):.2f} ms; candidate stage alone (what a shard server runs) "
            f"p50 {pct(cand_cpu, 50):.1f} ms CPU, p95 {pct(cand_cpu, 95):.1f}\n"
            f"   attacked copies {n_att}: wrong references {wrong}; distractors {len(dis)}: "
            f"false matches {false}",
            flush=True,
        )
        rows.append((f"{n:,} references", recall, None))
        del runner
        import shutil

        shutil.rmtree(tmp / f"scale{n}", ignore_errors=True)
    print(f"\nrecall per attack ({args.scale_draws} draw(s) x {len(refs)} photos; same copies at every size)")
    print(f"{'attack':<34}" + "".join(f"{r[0]:>20}" for r in rows))
    for a in attacks():
        print(f"{a:<34}" + "".join(f"{r[1][a]:>20.1%}" for r in rows))


def _stored(local) -> str:
    """What share of the keypoints the candidate stage stores (format 4 drops stop-word buckets)."""
    if not local.lsh_postings:
        return "every keypoint in every table (format 3)"
    share = sum(local.lsh_postings) / max(1, local.keypoints * local.lsh_tables)
    return f"buckets over {local.lsh_stop} postings stored empty: {share:.1%} of the postings kept"


def _rewrite_manifest(store, m, n: int, local, synth: int) -> None:
    """The manifest of the grown generation (synthetic rows get synthetic entries)."""
    import json

    from safety.neardup.builder import _info
    from safety.neardup.store import IndexManifest

    folder = store.folder(m.name)
    files = {role: info.file for role, info in m.files.items()}
    with open(folder / files["entries"], "ab") as fe:
        size = m.files["entries"].bytes
        offs = [size]
        for i in range(synth):
            line = (json.dumps({"id": f"synthetic-{i}", "path": None}) + "\n").encode()
            fe.write(line)
            offs.append(offs[-1] + len(line))
    old = np.fromfile(folder / files["offsets"], dtype=np.uint64)
    np.concatenate([old, np.asarray(offs[1:], dtype=np.uint64)]).tofile(folder / files["offsets"])
    # hashes for the synthetic rows: random codes (the hash path is timed at scale in neardup.py)
    rng = np.random.default_rng(0)
    for ct in m.code_types:
        with open(folder / files[ct.value], "ab") as f:
            f.write(rng.integers(0, 256, (synth, 8), dtype=np.uint8).tobytes())
    infos = {role: _info(folder, f) for role, f in files.items()}
    doc = m.model_dump(mode="json")
    doc.update(
        count=n, files={k: v.model_dump() for k, v in infos.items()}, local=local.model_dump(mode="json")
    )
    doc["digest"] = IndexManifest.content_digest(
        name=m.name,
        count=n,
        code_types=m.code_types,
        code_specs=m.code_specs,
        embedding=m.embedding,
        files=infos,
        local=local,
    )
    store.activate(IndexManifest.model_validate(doc))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--refs", type=int, default=200, help="real reference photographs (benchmarks/photos.py)")
    ap.add_argument("--draws", type=int, default=3, help="random draws per attack and reference")
    ap.add_argument("--distractors", type=int, default=10_000, help="images that copy no reference")
    ap.add_argument("--model-outputs", type=int, default=1000, help="built-in model outputs among them")
    ap.add_argument("--low", type=int, default=300, help="low-information images among them")
    ap.add_argument(
        "--show-missed", type=int, default=0, help="name up to this many missed copies per attack"
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="for iterating: 1 draw, 1,500 distractors (100 model outputs, 100 low-information)",
    )
    ap.add_argument("--min-inliers", type=int, default=12)
    ap.add_argument(
        "--attacks", default="", help="part 1 on these attacks only (comma-separated parts of their names)"
    )
    ap.add_argument("--scale", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--scale-queries", type=int, default=60, help="distractor queries per scale step")
    ap.add_argument("--tables", type=int, default=None, help="LSH tables at scale (default: spec)")
    ap.add_argument("--scale-draws", type=int, default=1, help="draws per attack and photo at each scale")
    ap.add_argument("--pool-images", type=int, default=2000, help="procedural images of the descriptor pool")
    ap.add_argument(
        "--scale-only",
        action="store_true",
        help="skip the robustness table: latency, memory, recall at scale",
    )
    ap.add_argument("--null", type=int, default=0, help="distractors for the chance-inlier distribution")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.quick:
        args.draws, args.distractors, args.model_outputs, args.low = 1, 1500, 100, 100
    import cv2

    cv2.setNumThreads(1)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; OpenCV {cv2.__version__}")
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        if args.scale_only:
            scale(args, tmp, _references(tmp))
            return 0
        base = robustness(args, tmp)
        if args.null:
            null_inliers(args, base["store"], args.null, base["index"])
        if args.scale:
            scale(args, tmp, _references(tmp))
    singles = [r for r in base["rows"] if not r[0].startswith("chain")]
    chains = [r for r in base["rows"] if r[0].startswith("chain")]
    ok_single = min((r[1] for r in singles), default=1) >= 0.95
    ok_chain = min((r[1] for r in chains), default=1) >= 0.90
    ok_false = base["false_local"] / base["distractors"] <= 0.001
    ok_low = base["low_ok"]
    print(
        f"\nacceptance: single edits >= 95%: {'PASS' if ok_single else 'FAIL'}; chains >= 90%: "
        f"{'PASS' if ok_chain else 'FAIL'}; false matches <= 0.1%: {'PASS' if ok_false else 'FAIL'}; "
        f"low-information undecided and not indexed: {'PASS' if ok_low else 'FAIL'}"
    )
    return 0 if (ok_single and ok_chain and ok_false and ok_low) else 1


if __name__ == "__main__":
    raise SystemExit(main())
