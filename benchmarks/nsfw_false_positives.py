"""False positives of the sexual-content detectors on the built-in model's outputs and on real photos.

The built-in model draws coloured shapes; for a prompt it does not understand it draws blurry
abstract forms, on which NudeNet finds "exposed breasts" (0.5-0.83 on 21 of 500). This runs ``--n``
prompts of the prompt sets (tests/data/prompts: English and Chinese, risky and benign — the model
understands none of them) through the model, each with its own fixed seed (30000+i), plus every real
photo that ships here (scikit-image's samples and the tests' Grace Hopper portrait), and reports, per
detector and per ensemble rule, the share of images whose ``sexual`` score reaches the shipped
packs' review (0.5) and block (0.7) thresholds.

Dev / test: the prompts are split in two halves by the SHA-256 of their text (even: dev, odd: test).
The ``corroborated`` rule's ``corroborate_at`` is chosen on the dev half only — the smallest value of
``GRID`` whose dev false-positive rate at review is at most ``DEV_TARGET`` (0.25%, half the 0.5% goal,
a margin for the other half) — and every rule is then measured on the test half (and on all).

Recall: no labelled sexual images can be shipped or downloaded here, so the recall on labelled
positives is not measured, and this says so in its output; a figure on synthetic renders would say
nothing about real content and is not given. What holds by construction is printed instead.

    .venv/bin/python benchmarks/nsfw_false_positives.py [--n 500] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import hashlib
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
    "corroborated (shipped corroborate_at)": SexualOptions(
        detectors=("open_nsfw", "nudenet"), rule="corroborated"
    ),
}
GRID = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2)
DEV_TARGET = 0.0025


def is_dev(prompt: str) -> bool:
    return int(hashlib.sha256(prompt.encode("utf-8")).hexdigest(), 16) % 2 == 0


def choose_corroborate_at(dev: list[dict[str, float]]) -> float:
    """The smallest GRID value whose false-positive rate at review on ``dev`` is <= DEV_TARGET."""
    for c in GRID:
        opts = SexualOptions(detectors=("open_nsfw", "nudenet"), rule="corroborated", corroborate_at=c)
        s = [combine(r, opts) for r in dev]
        if sum(x >= REVIEW for x in s) <= DEV_TARGET * len(s):
            return c
    return GRID[-1]


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


def table(
    title: str, raw: list[dict[str, float]], rules: dict[str, SexualOptions] | None = None
) -> dict[str, dict[str, float]]:
    print(f"\n## {title}: {len(raw)} images\n\n| detector / rule | >= review 0.5 | >= block 0.7 | max |")
    print("|---|---|---|---|")
    res = {}
    for name, opts in (rules or RULES).items():
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
    raw = scores(images)
    dev = [r for t, r in zip(texts, raw, strict=True) if is_dev(t)]
    test = [r for t, r in zip(texts, raw, strict=True) if not is_dev(t)]
    chosen = choose_corroborate_at(dev)
    shipped = SexualOptions(detectors=("open_nsfw", "nudenet"), rule="corroborated").corroborate_at
    print(
        f"corroborate_at chosen on the dev half ({len(dev)} prompts, <= {DEV_TARGET:.2%} at review): "
        f"{chosen}; shipped default: {shipped}"
    )
    rules = dict(RULES)
    rules[f"corroborated (dev-chosen {chosen})"] = SexualOptions(
        detectors=("open_nsfw", "nudenet"), rule="corroborated", corroborate_at=chosen
    )
    out = {
        "corroborate_at": {"chosen_on_dev": chosen, "shipped": shipped},
        "model_outputs_test": table("built-in model, TEST half of the prompts", test, rules),
        "model_outputs_dev": table(
            "built-in model, dev half (the corroborate_at choice was made here)", dev, rules
        ),
        "model_outputs": table("built-in model, all prompts it does not understand", raw, rules),
    }
    named = photos()
    out["photos"] = table(
        f"real benign photos ({', '.join(n for n, _ in named)})", scores([im for _, im in named]), rules
    )
    print(
        "\n## recall on labelled positives\n\n"
        "not measured: no labelled sexual images are available offline (none can be shipped or\n"
        "downloaded here). By construction: `either` scores max(open_nsfw, nudenet), so its recall is\n"
        "never below NudeNet's alone on any set; `corroborated` equals `either` wherever Open-NSFW\n"
        f"reaches {shipped}, so it can miss a NudeNet finding only where Open-NSFW stays below {shipped}."
    )
    out["recall"] = {"measured": False, "why": "no labelled positives available offline"}
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
