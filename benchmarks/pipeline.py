"""Per-stage latency of the compliance path around the backend, the backend's own time apart.

    .venv/bin/python benchmarks/pipeline.py [--runs 20] [--size 512x512] [--policy default] [--model PATH]
        [--watermark-scheme assay-wm2]

Runs the real pipeline (the policy's prompt checks, image checks, near-dup, marks, ledger) on a
throw-away data dir with SQLite, through the same `AppState` the server uses, and prints p50/p95
per stage. "compliance path" is everything except the backend. Without --model it uses the
built-in default model (or its placeholder while none is shipped). ``--watermark-scheme`` runs
the policy with its ``watermark`` mark set to that scheme (the policy option
``{name: watermark, options: {scheme: ...}}``), from a copy of the policy folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROMPTS = [
    "a red circle on a white background",
    "a small blue star at the top",
    "白色背景上的红色圆形",
    "a large green heart on the left",
    "a yellow triangle on a black background",
]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def with_watermark_scheme(policy: str, scheme: str, out: Path) -> Path:
    """A copy of the policy folder in ``out`` whose ``policy`` marks with ``scheme``."""
    import shutil

    import yaml

    from core.settings import Settings

    src = Settings().policy_dir
    shutil.copytree(src, out)
    path = out / f"{policy}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    marks = doc.get("marks") or []
    found = False
    for k, entry in enumerate(marks):
        name = entry if isinstance(entry, str) else entry.get("name")
        if name == "watermark":
            options = {} if isinstance(entry, str) else dict(entry.get("options") or {})
            marks[k] = {"name": "watermark", "options": options | {"scheme": scheme}}
            found = True
    if not found:
        raise SystemExit(f"policy {policy!r} ({path}) has no watermark mark to set the scheme of")
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--size", default="512x512")
    ap.add_argument("--policy", default="default")
    ap.add_argument("--model", default=None, help="ASSAY_MODEL (default: the built-in model)")
    ap.add_argument(
        "--watermark-scheme",
        choices=("assay-wm1", "assay-wm2"),
        default=None,
        help="set the policy's watermark mark to this scheme (default: as the policy says)",
    )
    args = ap.parse_args()

    import torch

    torch.set_num_threads(2)
    from core.settings import Settings
    from gateway.auth import Principal, Role
    from gateway.pipeline import PipelineRequest
    from gateway.state import AppState

    with tempfile.TemporaryDirectory() as tmp:
        kw = {"data_dir": Path(tmp), "default_policy": args.policy}
        if args.watermark_scheme:
            policies = Path(tmp) / "policies"
            kw["policy_dir"] = with_watermark_scheme(args.policy, args.watermark_scheme, policies)
        if args.model:
            kw["model"] = args.model
        state = AppState(Settings(**kw))
        t0 = time.perf_counter()
        state.preload()
        print(
            f"start-up (model, checks, marks): {time.perf_counter() - t0:.1f} s; model "
            f"{state.backend.info.model_id}" + (" [PLACEHOLDER]" if state.backend.info.placeholder else "")
        )
        principal = Principal(key_id="bench", tenant="bench", role=Role.REQUESTER)
        rows: list[dict[str, float]] = []
        statuses: dict[str, int] = {}
        for i in range(args.warmup + args.runs):
            req = PipelineRequest(
                prompt=PROMPTS[i % len(PROMPTS)], principal=principal, size=args.size, seed=i
            )
            t = time.perf_counter()
            try:
                res = state.generate(req)
                status, timings = res.status.value, res.timings
            except Exception as exc:  # noqa: BLE001 - a blocked prompt still measures the path
                status, timings = type(exc).__name__, {}
            total = time.perf_counter() - t
            if i >= args.warmup and timings:
                timings = dict(timings)
                timings["total_s"] = total
                timings["compliance_path_s"] = total - timings.get("backend_s", 0.0)
                rows.append(timings)
            statuses[status] = statuses.get(status, 0) + 1
        state.close()
    if not rows:
        print("no run completed:", statuses)
        sys.exit(1)
    stages = [
        "validate",
        "prompt_checks",
        "input_checks",
        "backend",
        "output_checks",
        "marks",
        "store",
        "ledger",
    ]
    scheme = f", watermark {args.watermark_scheme}" if args.watermark_scheme else ""
    print(f"\npipeline at {args.size}, policy {args.policy}{scheme}, {len(rows)} runs (outcomes: {statuses})")
    print(f"{'stage':<22}{'p50 ms':>10}{'p95 ms':>10}")
    for name in [f"{s}_s" for s in stages] + ["compliance_path_s", "total_s"]:
        xs = [r[name] * 1000 for r in rows if name in r]
        if xs:
            label = name[:-2] + (" (model, apart)" if name == "backend_s" else "")
            print(f"{label:<22}{statistics.median(xs):>10.1f}{pct(xs, 0.95):>10.1f}")
    print("\nbudget (DESIGN.md): compliance path p50 <= 250 ms, p95 <= 400 ms on 2 cores")


if __name__ == "__main__":
    main()
