"""Ship a training run's weights into the repository, and resume training from shipped weights.

Why: the default model trains for hours across sessions, and the repository holds at most 20 MB of
weights. The shipped pipeline folder (``weights/``) holds the EMA weights the gateway uses; the
resume folder (``resume/``) holds what else training needs to continue exactly — the raw
(non-EMA) weights, the AdamW moments and the step counters — in safetensors plus one JSON file.
Together they rebuild the run's ``checkpoint.pt``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from models.default.pipeline import AssayShapesPipeline


def ship(
    run_dir: Path,
    weights_dir: Path,
    resume_dir: Path | None,
    *,
    default_steps: int | None = None,
    default_guidance: float | None = None,
) -> dict[str, Any]:
    """Copy ``run_dir``'s EMA pipeline to ``weights_dir`` and its resume state to ``resume_dir``.

    ``default_steps`` / ``default_guidance`` set the sampling defaults recorded in model_index.json.
    """
    run_dir = Path(run_dir)
    ckpt = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
    pipe = AssayShapesPipeline.from_pretrained(run_dir / "pipeline", torch_dtype=torch.float32)
    pipe.unet.load_state_dict(
        ckpt["ema_unet"]
    )  # the checkpoint and the folder are written together; be exact
    pipe.text_encoder.load_state_dict(ckpt["ema_text_encoder"])
    if default_steps is not None:
        pipe.register_to_config(default_steps=int(default_steps))
    if default_guidance is not None:
        pipe.register_to_config(default_guidance=float(default_guidance))
    tmp = Path(str(weights_dir) + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    pipe.save_pretrained(tmp, safe_serialization=True)
    info = {**ckpt["state"], "config": ckpt["config"]}
    (tmp / "training_state.json").write_text(json.dumps(info, indent=2) + "\n")
    if weights_dir.exists():
        readme = weights_dir / "README.md"
        if readme.exists():
            shutil.copy2(readme, tmp / "README.md")
        shutil.rmtree(weights_dir)
    tmp.rename(weights_dir)
    if resume_dir is not None:
        _pack_resume(ckpt, Path(resume_dir))
    return info


def _pack_resume(ckpt: dict, resume_dir: Path) -> None:
    resume_dir.mkdir(parents=True, exist_ok=True)
    tensors = {f"unet.{k}": v.contiguous() for k, v in ckpt["unet"].items()}
    tensors |= {f"text_encoder.{k}": v.contiguous() for k, v in ckpt["text_encoder"].items()}
    opt = ckpt["optimizer"]
    steps = {}
    for idx, st in opt["state"].items():
        tensors[f"opt.{idx}.exp_avg"] = st["exp_avg"].contiguous()
        tensors[f"opt.{idx}.exp_avg_sq"] = st["exp_avg_sq"].contiguous()
        steps[str(idx)] = float(st["step"])
    save_file(tensors, resume_dir / "train_state.safetensors")
    meta = {
        "state": ckpt["state"],
        "config": ckpt["config"],
        "param_groups": opt["param_groups"],
        "opt_steps": steps,
    }
    (resume_dir / "train_state.json").write_text(json.dumps(meta, indent=2) + "\n")


def unpack_resume(weights_dir: Path, resume_dir: Path, checkpoint: Path) -> None:
    """Rebuild a ``checkpoint.pt`` from the shipped EMA weights and the resume folder."""
    pipe = AssayShapesPipeline.from_pretrained(weights_dir, torch_dtype=torch.float32)
    tensors = load_file(Path(resume_dir) / "train_state.safetensors")
    meta = json.loads((Path(resume_dir) / "train_state.json").read_text())
    state = {
        int(idx): {
            "step": torch.tensor(step),
            "exp_avg": tensors[f"opt.{idx}.exp_avg"],
            "exp_avg_sq": tensors[f"opt.{idx}.exp_avg_sq"],
        }
        for idx, step in meta["opt_steps"].items()
    }
    ckpt = {
        "unet": {k[5:]: v for k, v in tensors.items() if k.startswith("unet.")},
        "text_encoder": {k[13:]: v for k, v in tensors.items() if k.startswith("text_encoder.")},
        "ema_unet": pipe.unet.state_dict(),
        "ema_text_encoder": pipe.text_encoder.state_dict(),
        "optimizer": {"state": state, "param_groups": meta["param_groups"]},
        "state": meta["state"],
        "config": meta["config"],
    }
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, checkpoint)
