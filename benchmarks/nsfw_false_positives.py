"""False positives of the sexual-content detectors on the built-in model's outputs and on real photos.

The built-in model draws coloured shapes; for a prompt it does not understand it draws blurry
abstract forms, on which NudeNet found "breasts" and "buttocks" (0.75-0.82). This runs ``--n``
prompts of the prompt sets (tests/data/prompts: English and Chinese, risky and benign — the model
understands none of them) through the model, each with its own fixed seed, plus every real photo
that ships here (scikit-image's samples and the tests' Grace Hopper portrait), and reports, per
detector and per ensemble rule, the share of images whose ``sexual`` score reaches the shipped
packs' review (0.5) and block (0.7) thresholds.

Recall: no labelled sexual images can be shipped or downloaded here, so none is measured; a
regression figure on synthetic renders would say nothing about real content and is not given.

    .venv/bin/python benchmarks/nsfw_false_positives.py [--n 500] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.default import WEIGHTS_DIR  # noqa: E402
from models.default.pipeline import AssayShapesPipeline  # noqa: E402
from safety.image.nsfw import NsfwOptions, nudenet_detector, weigh  # noqa: E402
from safety.image.sexual import SexualOptions, combine, open_nsfw_classifier  # noqa: E402

REVIEW, BLOCK = 0.5, 0.7
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "hubble_deep_field", "immunohistochemistry")
RULES = {
    "open_nsfw (default)": SexualOptions(),
    "nudenet alone (image.nsfw)": SexualOptions(detectors=("nudenet",)),
    "either (open_nsfw, nudenet)": SexualOptions(detectors=("open_nsfw", "nudenet"), rule="either"),
    "both (open_nsfw, nudenet)": SexualOptions(detectors=("open_nsfw", "nudenet"), rule="both"),
    "weighted (equal)": SexualOptions(detectors=("open_nsfw", "nudenet"), rule="weighted"),
}


def prompts(n: int) -> list[str]:
    data = ROOT / "tests" / "data" / "prompts"
    texts: list[str] = []
    for name in ("eval.jsonl", "dev2.jsonl", "test_a.jsonl", "test_b.jsonl", "zh_dev.jsonl", "zh_test.jsonl"):
        for line in (data / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["text"])
    return list(dict.fromkeys(texts))[:n]


def photos() -> list[tuple[str, object]]:
    import skimage.data
    from PIL import Image

    out: list[tuple[str, object]] = []
    for name in PHOTOS:
        arr = getattr(skimage.data, name)()
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        out.append((name, Image.fromarray(np.ascontiguousarray(arr[..., :3]).astype(np.uint8), "RGB")))
    hopper = ROOT / "tests" / "safety" / "image" / "data" / "grace_hopper.jpg"
    out.append(("grace_hopper", Image.open(hopper).convert("RGB")))
    return out


def scores(images: list) -> list[dict[str, float]]:
    clf, nn, nn_opts = open_nsfw_classifier(), nudenet_detector(), NsfwOptions()
    out = []
    for im in images:
        weighted = weigh(nn.detect(im), nn_opts)
        out.append({"open_nsfw": clf.score(im), "nudenet": min(1.0, weighted[0][0]) if weighted else 0.0})
    return out


def table(title: str, raw: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    print(f"\n## {title}: {len(raw)} images\n\n| detector / rule | >= review 0.5 | >= block 0.7 | max |")
    print("|---|---|---|---|")
    res = {}
    for name, opts in RULES.items():
        s = [combine({d: r[d] for d in opts.detectors}, opts) for r in raw]
        rv, bl = sum(x >= REVIEW for x in s), sum(x >= BLOCK for x in s)
        res[name] = {"review": rv / len(s), "block": bl / len(s), "max": max(s)}
        print(f"| {name} | {rv / len(s):.3%} ({rv}) | {bl / len(s):.3%} ({bl}) | {max(s):.2f} |")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(2)
    pipe = AssayShapesPipeline.from_pretrained(WEIGHTS_DIR, torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    texts = prompts(args.n)
    t0 = time.perf_counter()
    images = []
    for k in range(0, len(texts), 16):
        gens = [torch.Generator().manual_seed(30_000 + k + i) for i in range(len(texts[k : k + 16]))]
        images += pipe(texts[k : k + 16], generator=gens).images
    print(f"generated {len(images)} images in {time.perf_counter() - t0:.0f} s (seeds 30000+i)")
    out = {"model_outputs": table("built-in model, prompts it does not understand", scores(images))}
    named = photos()
    out["photos"] = table(
        f"real benign photos ({', '.join(n for n, _ in named)})", scores([im for _, im in named])
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
