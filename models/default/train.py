"""Training loop of the default model: resumable, deterministic, CPU by default.

Why it is built this way: training takes hours on two shared CPU cores and sessions end, so every
few minutes the loop writes a resume checkpoint (model, EMA, optimiser, step) and an EMA pipeline
folder that the benchmark and the gateway can load. Each step's batch, noise and timesteps are
drawn from generators seeded by ``(seed, step)``, so a resumed run continues exactly as an
uninterrupted one would.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.default.data import build_dataset
from models.default.pipeline import AssayShapesPipeline, build_pipeline
from models.default.schedule import training_scheduler
from models.default.unet import denoise

log = logging.getLogger("assay.models.default.train")

#: Prompts drawn into ``grid_<step>.png`` at every checkpoint, to watch the model learn.
WATCH_PROMPTS: tuple[str, ...] = (
    "a red circle on a white background",
    "白色背景上的红色圆形",
    "a large blue square on the left, yellow background",
    "黑色背景上的一个小的绿色三角形，在右边",
    "a pink star at the top on a gray background",
    "紫色的心形在白色背景的底部",
    "a small orange ring in the centre on a black background",
    "a big cyan heart at the bottom on a brown background",
)


@dataclass
class TrainConfig:
    out: Path
    steps: int = 20000
    batch: int = 32
    seed: int = 0
    lr: float = 1e-3
    warmup: int = 200
    ema_decay: float = 0.999
    caption_dropout: float = 0.1
    dataset_size: int = 40000
    checkpoint_every_s: float = 240.0
    device: str = "cpu"
    threads: int = 1
    watch_grid: bool = True  # draw WATCH_PROMPTS at every checkpoint

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["out"] = str(self.out)
        return d


@dataclass
class TrainState:
    step: int
    elapsed_s: float  # training wall time over all sessions


def _dataset(cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    cache = cfg.out / f"data-{cfg.dataset_size}-{cfg.seed}.npz"
    if cache.exists():
        z = np.load(cache)
        images, ids = z["images"], z["ids"]
    else:
        images, captions, ids = build_dataset(cfg.dataset_size, seed=cfg.seed)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, images=images, ids=ids, captions=np.array(captions))
        os.replace(tmp, cache)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    return x, torch.from_numpy(ids)


def _save_atomic(obj: object, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def export_pipeline(pipe: AssayShapesPipeline, folder: Path) -> None:
    """Write a pipeline folder via a temporary sibling, so readers never see half a folder."""
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    pipe.save_pretrained(tmp)
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    os.replace(tmp, folder)


def _grid(pipe: AssayShapesPipeline, path: Path) -> None:
    from PIL import Image

    pipe.set_progress_bar_config(disable=True)
    gens = [torch.Generator().manual_seed(s) for s in range(len(WATCH_PROMPTS))]
    imgs = pipe(list(WATCH_PROMPTS), generator=gens, height=64, width=64).images
    sheet = Image.new("RGB", (64 * len(imgs), 64))
    for i, im in enumerate(imgs):
        sheet.paste(im, (64 * i, 0))
    sheet.save(path)


def train(cfg: TrainConfig, progress: bool = True) -> TrainState:
    """Train (or resume) into ``cfg.out``; returns the state after the last step."""
    from tqdm import tqdm

    torch.set_num_threads(cfg.threads)
    cfg.out.mkdir(parents=True, exist_ok=True)
    device = torch.device(cfg.device)
    images, ids = _dataset(cfg)

    pipe = build_pipeline(seed=cfg.seed)
    unet, text_encoder = pipe.unet.to(device), pipe.text_encoder.to(device)
    params = list(unet.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    ema_pipe = copy.deepcopy(pipe)
    ema_params = list(ema_pipe.unet.parameters()) + list(ema_pipe.text_encoder.parameters())
    sched = training_scheduler()
    alphas = sched.alphas_cumprod.to(device)

    state = TrainState(step=0, elapsed_s=0.0)
    ckpt = cfg.out / "checkpoint.pt"
    if ckpt.exists():
        saved = torch.load(ckpt, map_location=device, weights_only=False)
        unet.load_state_dict(saved["unet"])
        text_encoder.load_state_dict(saved["text_encoder"])
        ema_pipe.unet.load_state_dict(saved["ema_unet"])
        ema_pipe.text_encoder.load_state_dict(saved["ema_text_encoder"])
        opt.load_state_dict(saved["optimizer"])
        state = TrainState(**saved["state"])
        log.info("resumed from %s at step %d (%.0f s trained)", ckpt, state.step, state.elapsed_s)
    (cfg.out / "train_config.json").write_text(json.dumps(cfg.to_json(), indent=2))

    def checkpoint() -> None:
        _save_atomic(
            {
                "unet": unet.state_dict(),
                "text_encoder": text_encoder.state_dict(),
                "ema_unet": ema_pipe.unet.state_dict(),
                "ema_text_encoder": ema_pipe.text_encoder.state_dict(),
                "optimizer": opt.state_dict(),
                "state": asdict(state),
                "config": cfg.to_json(),
            },
            ckpt,
        )
        export_pipeline(ema_pipe, cfg.out / "pipeline")
        (cfg.out / "pipeline" / "training_state.json").write_text(
            json.dumps({**asdict(state), "config": cfg.to_json()}, indent=2)
        )
        try:
            if cfg.watch_grid:
                _grid(ema_pipe, cfg.out / f"grid_{state.step:06d}.png")
        except Exception:  # a watch grid must never stop training
            log.exception("watch grid failed at step %d", state.step)
        log.info("checkpoint at step %d (%.0f s trained)", state.step, state.elapsed_s)

    bar = tqdm(
        total=cfg.steps, initial=state.step, disable=not progress, mininterval=20, desc="train-default"
    )
    last_ckpt, t_prev, losses = time.monotonic(), time.monotonic(), []
    unet.train()
    text_encoder.train()
    while state.step < cfg.steps:
        rng = np.random.default_rng([cfg.seed, state.step])
        idx = torch.from_numpy(rng.integers(0, len(images), size=cfg.batch))
        x0, slot = images[idx].to(device), ids[idx].clone()
        slot[torch.from_numpy(rng.random(cfg.batch) < cfg.caption_dropout)] = 0
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + state.step)
        t = torch.randint(0, sched.config["num_train_timesteps"], (cfg.batch,), generator=g).to(device)
        noise = torch.randn(x0.shape, generator=g).to(device)
        a = alphas[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise

        lr = cfg.lr * min(1.0, (state.step + 1) / max(1, cfg.warmup))
        for group in opt.param_groups:
            group["lr"] = lr
        pred = denoise(unet, xt, t, text_encoder(slot.to(device))[1])
        loss = F.mse_loss(pred, x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(cfg.ema_decay, (1 + state.step) / (10 + state.step))
        with torch.no_grad():
            for pe, p in zip(ema_params, params, strict=True):
                pe.lerp_(p, 1 - decay)

        now = time.monotonic()
        state.elapsed_s += now - t_prev
        t_prev = now
        state.step += 1
        losses.append(loss.item())
        bar.update(1)
        if state.step % 50 == 0:
            log.info(
                "step %d loss %.4f lr %.2e %.2f s/step",
                state.step,
                float(np.mean(losses)),
                lr,
                state.elapsed_s / max(1, state.step),
            )
            bar.set_postfix(loss=f"{np.mean(losses):.4f}")
            losses = []
        if now - last_ckpt >= cfg.checkpoint_every_s or state.step == cfg.steps:
            checkpoint()
            last_ckpt = time.monotonic()
            t_prev = last_ckpt  # checkpoint time is not training time
    bar.close()
    return state
