"""The image-check stage with near-dup (hash + local features) against a large index, in the real pipeline.

    .venv/bin/python benchmarks/neardup_pipeline.py [--refs 100000] [--runs 20] [--size 512x512]

Builds an index of the 13 real reference photographs of ``benchmarks/neardup_local.py`` grown to
``--refs`` references with synthetic ones (ORB descriptors drawn from a pool of real ones, see
``neardup_local._grow``), writes the default policy with ``neardup.hash`` and ``neardup.local``
over that index added to ``output_image``, and runs generations through the same ``AppState`` the
server uses (as ``benchmarks/pipeline.py`` does). Prints p50/p95 of the output-check stage (the
image checks plus near-dup), of near-dup alone (its checks timed in isolation on the same outputs),
and of the compliance path. The acceptance budget: output checks + near-dup <= 150 ms p50 at
512x512 with a 10^5-reference index loaded.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--refs", type=int, default=100_000, help="references in the index (>= 13)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--size", default="512x512")
    ap.add_argument("--pool-images", type=int, default=500, help="procedural images of the descriptor pool")
    args = ap.parse_args()
    if args.refs < 13:
        ap.error("--refs must be at least 13 (the real reference photographs)")

    import neardup_local as nl
    import pipeline as pl
    import torch
    import yaml

    torch.set_num_threads(2)
    from core.settings import Settings
    from gateway.auth import Principal, Role
    from gateway.pipeline import PipelineRequest
    from gateway.state import AppState
    from safety.check import CheckInput
    from safety.neardup.check import HashCheck, LocalCheck
    from safety.neardup.options import HashCheckOptions, LocalCheckOptions
    from safety.neardup.store import IndexStore
    from safety.verdict import Target

    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        data = tmp / "data"
        refs = nl._references(tmp)["refs"]
        pool = nl.descriptor_pool(args.pool_images, 3)
        store = IndexStore(data / "indexes")
        build_s = nl._grow(store, tmp / "refs", args.refs, pool, 11)
        m = store.manifest("big")
        print(
            f"index big: {m.count:,} references ({len(refs)} real), format {m.format},"
            f" built in {build_s:.0f} s"
        )
        pdir = tmp / "policies"
        pdir.mkdir()
        root = Path(__file__).resolve().parent.parent / "policies"
        doc = yaml.safe_load((root / "default.yaml").read_text(encoding="utf-8"))
        doc["id"] = "bench-neardup"
        doc["checks"]["output_image"] += [
            {"name": "neardup.hash", "options": {"indexes": ["big"]}},
            {"name": "neardup.local", "options": {"indexes": ["big"]}},
        ]
        (pdir / "bench-neardup.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        settings = Settings(data_dir=data, policy_dir=pdir, default_policy="bench-neardup")
        state = AppState(settings)
        t0 = time.perf_counter()
        state.preload()
        print(f"start-up: {time.perf_counter() - t0:.1f} s; model {state.backend.info.model_id}")
        principal = Principal(key_id="bench", tenant="bench", role=Role.REQUESTER)
        hashc, localc = HashCheck(settings, store=store), LocalCheck(settings, store=store)
        rows: list[dict[str, float]] = []
        alone: list[float] = []
        statuses: dict[str, int] = {}
        for i in range(args.warmup + args.runs):
            req = PipelineRequest(
                prompt=pl.PROMPTS[i % len(pl.PROMPTS)], principal=principal, size=args.size, seed=i
            )
            t = time.perf_counter()
            try:
                res = state.generate(req)
                status, timings = res.status.value, dict(res.timings)
            except Exception as exc:  # noqa: BLE001 - a blocked prompt still measures the path
                status, timings, res = type(exc).__name__, {}, None
            total = time.perf_counter() - t
            statuses[status] = statuses.get(status, 0) + 1
            image = _first_image(res) if res is not None else None
            if image is not None:  # near-dup alone on the same output (warm-up runs warm it too)
                target = Target.output_image(0)
                t = time.perf_counter()
                hashc.run(
                    CheckInput(
                        target=target, tenant="b", image=image, options=HashCheckOptions(indexes=["big"])
                    )
                )
                localc.run(
                    CheckInput(
                        target=target, tenant="b", image=image, options=LocalCheckOptions(indexes=["big"])
                    )
                )
                if i >= args.warmup:
                    alone.append(time.perf_counter() - t)
            if i < args.warmup or not timings:
                continue
            timings["compliance_path_s"] = total - timings.get("backend_s", 0.0)
            rows.append(timings)
        state.close()
    if not rows:
        print("no run completed:", statuses)
        return 1
    print(f"\n{args.size}, {len(rows)} runs (outcomes: {statuses}), index of {args.refs:,} references")
    print(f"{'stage':<34}{'p50 ms':>10}{'p95 ms':>10}")
    for name, xs in (
        ("output checks (image + near-dup)", [r["output_checks_s"] for r in rows if "output_checks_s" in r]),
        ("near-dup alone (hash + local)", alone),
        ("compliance path", [r["compliance_path_s"] for r in rows]),
    ):
        if xs:
            ms = [x * 1000 for x in xs]
            print(f"{name:<34}{statistics.median(ms):>10.1f}{pl.pct(ms, 0.95):>10.1f}")
    out = [r["output_checks_s"] * 1000 for r in rows if "output_checks_s" in r]
    ok = bool(out) and statistics.median(out) <= 150
    print(f"acceptance: output checks + near-dup p50 <= 150 ms: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def _first_image(res):
    """The first output image of a pipeline result (the released pixels, else its bytes), or None."""
    from io import BytesIO

    from PIL import Image

    for im in getattr(res, "images", None) or []:
        if im.released_image is not None:
            return im.released_image
        if im.data:
            return Image.open(BytesIO(im.data)).convert("RGB")
    return None


if __name__ == "__main__":
    raise SystemExit(main())
