"""Benchmark of the built-in default model: prompt adherence (English and Chinese) and speed.

    .venv/bin/python benchmarks/default_model.py [--model DIR] [--n 240] [--json OUT.json]

For ``--n`` prompts per language (each with every attribute stated, drawn from a fixed seed, with
its own fixed generation seed) the model generates at its native size and the deterministic
analyser (``models/default/analysis.py``) reads back foreground colour, background colour (and
whether the background is clean), position and shape. Seed diversity: 24 prompts x 4 seeds, mean
pixel distance between images of the same prompt and the share of them that keep every asked
attribute, with every attribute stated and with size and position left open. Timing: p50 / p90
of one 512x512 image at the default step count, torch with 2 threads.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.default import WEIGHTS_DIR  # noqa: E402
from models.default.analysis import analyse  # noqa: E402
from models.default.concepts import Attributes  # noqa: E402
from models.default.data import caption_en, caption_zh, random_scene  # noqa: E402
from models.default.pipeline import AssayShapesPipeline  # noqa: E402
from models.default.tokenizer import parse_prompt  # noqa: E402

TARGETS = {"colour": 0.95, "background": 0.95, "position": 0.85, "shape": 0.80}
BATCH = 16


@dataclass
class LanguageScore:
    language: str
    n: int
    colour: float
    background: float
    background_clean: float
    position: float
    shape: float
    all_four: float


def prompts(language: str, n: int) -> list[tuple[str, Attributes, int]]:
    """``n`` (prompt, asked attributes, seed) triples; English and Chinese use separate draws."""
    rng = np.random.default_rng({"en": 101, "zh": 202}[language])
    out = []
    for i in range(n):
        asked = random_scene(rng).attributes
        text = caption_en(asked, rng) if language == "en" else caption_zh(asked, rng)
        if parse_prompt(text).attributes != asked:
            raise AssertionError(f"benchmark prompt {text!r} does not parse to {asked}")
        out.append((text, asked, {"en": 10_000, "zh": 20_000}[language] + i))
    return out


def generate(pipe: AssayShapesPipeline, texts: list[str], seeds: list[int]) -> list:
    images = []
    for k in range(0, len(texts), BATCH):
        gens = [torch.Generator().manual_seed(s) for s in seeds[k : k + BATCH]]
        images += pipe(texts[k : k + BATCH], generator=gens).images
    return images


def score_language(pipe: AssayShapesPipeline, language: str, n: int) -> LanguageScore:
    items = prompts(language, n)
    images = generate(pipe, [t for t, _, _ in items], [s for _, _, s in items])
    hits = {k: 0 for k in ("colour", "background", "background_clean", "position", "shape", "all_four")}
    for (_, asked, _), img in zip(items, images, strict=True):
        r = analyse(img)
        ok = {
            "colour": r.colour == asked.colour,
            "background": r.background == asked.background and r.background_clean,
            "background_clean": r.background_clean,
            "position": r.position == asked.position,
            "shape": r.shape == asked.shape,
        }
        ok["all_four"] = ok["colour"] and ok["background"] and ok["position"] and ok["shape"]
        for k, v in ok.items():
            hits[k] += int(v)
    return LanguageScore(language, n, **{k: v / n for k, v in hits.items()})


def seed_diversity(pipe: AssayShapesPipeline, n_prompts: int = 24, n_seeds: int = 4) -> dict[str, float]:
    """Pixel distance between seeds of one prompt, and the share of images keeping what was asked.

    Twice: prompts stating all five attributes (seeds may only move the jitter the data has), and
    the same scenes with size and position left open (seeds should place and size the shape freely,
    as in the training captions that omit them), with the share of prompts whose seeds land in more
    than one position.
    """
    rng = np.random.default_rng(303)
    out: dict[str, float] = {}
    for mode in ("stated", "open"):
        items = prompts("en", n_prompts)
        dists, keep, spread = [], 0, 0
        for text, asked, seed in items:
            if mode == "open":
                asked = Attributes(colour=asked.colour, shape=asked.shape, background=asked.background)
                text = caption_en(asked, rng)
            imgs = generate(pipe, [text] * n_seeds, [seed * 100 + j for j in range(n_seeds)])
            arrs = [np.asarray(i, dtype=np.float32) for i in imgs]
            dists += [float(np.abs(a - b).mean()) for a, b in itertools.combinations(arrs, 2)]
            readings = [analyse(img) for img in imgs]
            spread += int(len({r.position for r in readings}) > 1)
            for r in readings:
                keep += int(
                    (r.colour, r.background, r.shape) == (asked.colour, asked.background, asked.shape)
                    and (asked.position is None or r.position == asked.position)
                )
        out[f"{mode}_mean_pixel_distance"] = statistics.fmean(dists)
        out[f"{mode}_kept_attributes"] = keep / (n_prompts * n_seeds)
        if mode == "open":
            out["open_prompts_with_several_positions"] = spread / n_prompts
    return out


def timing(pipe: AssayShapesPipeline, runs: int) -> dict[str, float]:
    times = []
    for i in range(runs + 2):
        t0 = time.perf_counter()
        pipe(
            "a red circle on a white background",
            generator=torch.Generator().manual_seed(i),
            height=512,
            width=512,
        )
        if i >= 2:  # two warm-up calls
            times.append(time.perf_counter() - t0)
    times.sort()
    return {
        "p50_s": statistics.median(times),
        "p90_s": times[max(0, math.ceil(0.9 * len(times)) - 1)],
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--model", type=Path, default=WEIGHTS_DIR, help="pipeline folder (default: shipped weights)"
    )
    ap.add_argument(
        "--n", type=int, default=240, help="prompts per language (>= 200 for the acceptance figure)"
    )
    ap.add_argument("--timing-runs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    pipe = AssayShapesPipeline.from_pretrained(args.model, torch_dtype=torch.float32).to("cpu")
    pipe.set_progress_bar_config(disable=True)
    state_file = args.model / "training_state.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}

    t0 = time.perf_counter()
    scores = []
    for lang in ("en", "zh"):
        scores.append(score_language(pipe, lang, args.n))
        print(f"scored {lang} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    diversity = seed_diversity(pipe)
    speed = timing(pipe, args.timing_runs)
    wall = time.perf_counter() - t0

    print(
        f"model: {args.model}  steps: {state.get('step', '?')}  "
        f"training wall time: {state.get('elapsed_s', 0) / 3600:.2f} h"
    )
    print(
        f"steps per image: {pipe.config.default_steps}, guidance {pipe.config.default_guidance}, "
        f"native {pipe.native_size}px, threads {args.threads}, load average {os.getloadavg()[0]:.1f}"
    )
    print()
    print("| language | prompts | colour | background (clean) | clean bg | position | shape | all four |")
    print("|---|---|---|---|---|---|---|---|")
    for s in scores:
        print(
            f"| {s.language} | {s.n} | {s.colour:.1%} | {s.background:.1%} | {s.background_clean:.1%} | "
            f"{s.position:.1%} | {s.shape:.1%} | {s.all_four:.1%} |"
        )
    print(
        f"| target | | {TARGETS['colour']:.0%} | {TARGETS['background']:.0%} | | {TARGETS['position']:.0%} | "
        f"{TARGETS['shape']:.0%} | |"
    )
    print()
    print(
        f"seed diversity, all attributes stated (24 prompts x 4 seeds): mean pixel distance "
        f"{diversity['stated_mean_pixel_distance']:.1f}/255, images keeping all asked attributes "
        f"{diversity['stated_kept_attributes']:.1%}"
    )
    print(
        f"seed diversity, size and position left open: mean pixel distance "
        f"{diversity['open_mean_pixel_distance']:.1f}/255, images keeping colour, background and shape "
        f"{diversity['open_kept_attributes']:.1%}, prompts whose seeds land in several positions "
        f"{diversity['open_prompts_with_several_positions']:.0%}"
    )
    print(
        f"512x512 generation: p50 {speed['p50_s']:.3f} s, "
        f"p90 {speed['p90_s']:.3f} s over {speed['runs']} runs"
    )
    print(f"benchmark wall time {wall:.0f} s")
    met = all(getattr(s, k) >= v for s in scores for k, v in TARGETS.items()) and speed["p50_s"] <= 1.0
    print("targets met" if met else "targets NOT met")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "model": str(args.model),
                    "training": state,
                    "steps": pipe.config.default_steps,
                    "guidance": pipe.config.default_guidance,
                    "threads": args.threads,
                    "load": round(os.getloadavg()[0], 1),
                    "scores": [asdict(s) for s in scores],
                    "diversity": diversity,
                    "timing": speed,
                    "targets_met": met,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
