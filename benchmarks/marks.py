"""Per-step latency of the marks (label.visible, label.metadata, watermark, c2pa) at 512² and 1024².

Every mark the registry knows is built exactly as the gateway builds it (development signing
certificate in a temporary data dir) and applied in the pipeline's order to real photographs
(scikit-image samples), the way the pipeline does it: a fresh Artifact per image, encoding and
signing inside the ``c2pa`` step. Prints p50/p95 per step and for the whole chain, per size and
output format, and checks the budget: all marks together <= 150 ms p50 at 512x512 (PNG).

    .venv/bin/python benchmarks/marks.py [--runs 40] [--formats png,jpeg,webp] [--json]
        [--watermark-scheme assay-wm2]

On a many-core machine pin it to two cores to match the budget's setting: ``taskset -c 0,1 ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

BUDGET_MS = 150.0


def photos(size: int) -> list[Image.Image]:
    from skimage import data

    names = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry")
    return [
        Image.fromarray(getattr(data, n)()).convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
        for n in names
    ]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40, help="timed runs per size and format (after 3 warm-ups)")
    ap.add_argument("--sizes", default="512,1024")
    ap.add_argument("--formats", default="png,jpeg,webp")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    ap.add_argument(
        "--watermark-scheme",
        choices=("assay-wm1", "assay-wm2"),
        default=None,
        help="the watermark mark's scheme option (default: the option's default)",
    )
    args = ap.parse_args()

    try:
        import cv2

        cv2.setNumThreads(2)
    except ImportError:  # pragma: no cover
        pass
    from core.settings import Settings
    from provenance.mark_registry import BUILTIN_MARKS, MARK_ORDER, MarkRegistry
    from provenance.marks import Artifact
    from provenance.testing import mark_context

    tmp = tempfile.mkdtemp(prefix="assay-bench-marks-")
    settings = Settings(data_dir=Path(tmp) / "data")
    settings.ensure_dirs()
    registry = MarkRegistry(settings)
    names = [n for n in MARK_ORDER if n in BUILTIN_MARKS]
    t0 = time.perf_counter()
    marks = {n: registry.get(n) for n in names}
    build_s = time.perf_counter() - t0
    raw: dict[str, dict] = {"label.visible": {"text": "AI生成"}}
    if args.watermark_scheme:
        raw["watermark"] = {"scheme": args.watermark_scheme}
    options = {n: BUILTIN_MARKS[n].parse_options(raw.get(n, {})) for n in names}  # as a policy parses them
    print(
        f"marks: {', '.join(names)} (built in {build_s:.2f} s); cpu count {os.cpu_count()}, "
        f"affinity {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'} cores"
    )
    missing = [n for n in MARK_ORDER if n not in BUILTIN_MARKS]
    if missing:
        print(f"NOTE: not registered yet, so not measured: {', '.join(missing)}")

    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        imgs = photos(size)
        for fmt in args.formats.split(","):
            steps: dict[str, list[float]] = {n: [] for n in names}
            cpu: dict[str, list[float]] = {n: [] for n in names}
            totals: list[float] = []
            cpu_totals: list[float] = []
            sizes: list[int] = []
            for i in range(args.runs + 3):
                ctx_base = dict(
                    record_id=f"01JDQ3V6ZK7C3M5W0Y8N2P{i:04d}", content_id=f"01JDQ3V6ZK7C3M5W0Y8N2P{i:04d}-0"
                )
                art = Artifact(image=imgs[i % len(imgs)].copy(), format=fmt)
                total = cpu_total = 0.0
                for n in names:
                    ctx = mark_context(**ctx_base, options=options[n])
                    t, c = time.perf_counter(), time.process_time()
                    art = marks[n].apply(art, ctx)
                    dt, dc = (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000
                    total += dt
                    cpu_total += dc
                    if i >= 3:
                        steps[n].append(dt)
                        cpu[n].append(dc)
                data = art.encode() if art.data is None else art.data
                if i >= 3:
                    totals.append(total)
                    cpu_totals.append(cpu_total)
                    sizes.append(len(data))
            row = {
                "size": size,
                "format": fmt,
                "runs": args.runs,
                "steps": {
                    n: {"p50_ms": round(pct(v, 50), 1), "p95_ms": round(pct(v, 95), 1)}
                    for n, v in steps.items()
                },
                "total": {"p50_ms": round(pct(totals, 50), 1), "p95_ms": round(pct(totals, 95), 1)},
                "cpu": {n: round(pct(v, 50), 1) for n, v in cpu.items()}
                | {"total": round(pct(cpu_totals, 50), 1)},
                "file_kb": round(statistics.mean(sizes) / 1024, 1),
            }
            results.append(row)

    head = f"{'size':>5} {'fmt':>5} " + " ".join(f"{n:>16}" for n in names) + f" {'total':>16} {'file':>8}"
    print("\nper-step latency, p50 / p95 ms")
    print(head)
    for r in results:
        cells = " ".join(f"{r['steps'][n]['p50_ms']:>7.1f} / {r['steps'][n]['p95_ms']:>6.1f}" for n in names)
        print(
            f"{r['size']:>5} {r['format']:>5} {cells} "
            f"{r['total']['p50_ms']:>7.1f} / {r['total']['p95_ms']:>6.1f}"
            f" {r['file_kb']:>6.0f}kB"
        )
    print("\nCPU time of the process per step, p50 ms (all threads; robust to other load on the machine)")
    print(f"{'size':>5} {'fmt':>5} " + " ".join(f"{n:>16}" for n in names) + f" {'total':>16}")
    for r in results:
        print(
            f"{r['size']:>5} {r['format']:>5} "
            + " ".join(f"{r['cpu'][n]:>16.1f}" for n in names)
            + f" {r['cpu']['total']:>16.1f}"
        )
    try:
        load = os.getloadavg()[0]
        print(
            f"\nload average (1 min) at the end: {load:.1f} on {os.cpu_count()} cores"
            + (
                "  <- busy machine: wall times are inflated; see the CPU table"
                if load > (os.cpu_count() or 1)
                else ""
            )
        )
    except OSError:  # pragma: no cover
        pass
    gate = next((r for r in results if r["size"] == 512 and r["format"] == "png"), None)
    ok = True
    if gate is not None:
        ok = gate["total"]["p50_ms"] <= BUDGET_MS
        complete = not missing
        print(
            f"\nbudget: all marks <= {BUDGET_MS:.0f} ms p50 at "
            f"512x512 PNG: wall {gate['total']['p50_ms']:.1f} ms "
            f"-> {'PASS' if ok else 'FAIL'}; CPU {gate['cpu']['total']:.1f} ms "
            f"-> {'PASS' if gate['cpu']['total'] <= BUDGET_MS else 'FAIL'}"
            f"{'' if complete else ' (watermark not included yet)'}"
        )
    if args.json:
        print(json.dumps({"marks": names, "missing": missing, "results": results}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
