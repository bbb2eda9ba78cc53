"""Every model family through the whole compliance path: the backend's time and the path's share.

    .venv/bin/python benchmarks/families.py [--families sdxl,flux,...] [--runs 5] [--size 256x256]

Builds each family tiny from config (models/tiny.py, random weights, nothing downloaded), then runs
``benchmarks/pipeline.py --model <folder>`` on it in a fresh process (the real AppState: policy
checks, image checks, marks, C2PA, ledger on SQLite) and prints one row per family: backend p50 and
the compliance path p50/p95 around it. ``ASSAY_DEVICE`` / ``ASSAY_DTYPE`` pass through (the GPU
check runs this with ``cuda`` and ``float16``). ``builtin`` is the shipped default model.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_family(family: str, folder: Path | None, runs: int, size: str) -> dict[str, str]:
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "pipeline.py"),
        "--runs",
        str(runs),
        "--warmup",
        "1",
        "--size",
        size,
    ]
    if folder is not None:
        cmd += ["--model", str(folder)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:120]}
    row: dict[str, str] = {}
    for key, label in (("backend", r"backend \(model, apart\)"), ("compliance path", "compliance_path")):
        m = re.search(rf"^{label}\s+([\d.]+)\s+([\d.]+)$", proc.stdout, re.M)
        if m:
            row[key] = f"{m.group(1)} / {m.group(2)}"
    m = re.search(r"outcomes: ([^)]*)\)", proc.stdout)
    row["outcomes"] = m.group(1) if m else "?"
    return row


def main() -> None:
    from models.tiny import FAMILIES, save_tiny

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", default="builtin," + ",".join(f for f in FAMILIES if f != "sd"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size", default="256x256")
    args = ap.parse_args()
    device = os.environ.get("ASSAY_DEVICE", "auto")
    dtype = os.environ.get("ASSAY_DTYPE", "auto")
    print(
        f"families at {args.size}, {args.runs} runs each, device {device}, dtype {dtype} "
        "(tiny random weights)"
    )
    print(f"{'family':<12}{'pipeline class':<28}{'backend p50/p95 ms':>22}{'path p50/p95 ms':>20}  outcomes")
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families.split(","):
            folder = None if family == "builtin" else save_tiny(family, Path(tmp) / family)
            row = run_family(family, folder, args.runs, args.size)
            cls = FAMILIES.get(family, "AssayShapesPipeline")
            if "error" in row:
                print(f"{family:<12}{cls:<28}  FAILED: {row['error']}")
                continue
            print(
                f"{family:<12}{cls:<28}{row.get('backend', '?'):>22}{row.get('compliance path', '?'):>20}"
                f"  {row['outcomes']}"
            )


if __name__ == "__main__":
    main()
