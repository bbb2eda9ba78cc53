#!/usr/bin/env bash
# The checks to run when an accelerator is lent (under 5 minutes): the built-in model and tiny
# SDXL and FLUX in float16 on CUDA through the gateway's whole path (benchmarks/families.py), the
# compliance path's share of each request, and which onnxruntime providers the image checks can use.
# Usage: bash benchmarks/gpu_check.sh   (from the repository root, after `make install`)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
"$PY" - <<'PYEOF'
import torch, onnxruntime
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
print("onnxruntime providers:", onnxruntime.get_available_providers())
PYEOF
ASSAY_DEVICE=cuda ASSAY_DTYPE=float16 timeout 240 "$PY" benchmarks/families.py --families builtin,sdxl,flux --runs 5 --size 512x512
timeout 60 "$PY" benchmarks/image_checks.py --sizes 512 --iterations 10 || echo "image checks benchmark failed"
