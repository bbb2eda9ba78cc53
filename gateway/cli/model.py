"""``assay model ...``: the built-in default model's commands.

``assay model train-default --out DIR [--steps N --batch B --seed S --device cpu]`` trains (or
resumes, when DIR holds ``checkpoint.pt``) the default text-to-image model with a progress bar and
the loss in the log. Every few minutes it writes a resume checkpoint, an EMA pipeline folder
(``DIR/pipeline``, loadable with ``--model DIR/pipeline``) and a watch grid ``DIR/grid_<step>.png``.
See ``models/default/weights/README.md`` for the command that produced the shipped weights.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from core.errors import InvalidRequest

app = typer.Typer(help="The built-in default model: train it.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """The built-in default model (kept a group so that ``assay model train-default`` stays stable)."""


@app.command("train-default")
def train_default(
    out: Path = typer.Option(..., "--out", help="Folder for checkpoints, the EMA pipeline and watch grids."),
    steps: int = typer.Option(
        20000, "--steps", min=1, help="Total optimiser steps (a resumed run counts on)."
    ),
    batch: int = typer.Option(32, "--batch", min=1, help="Images per step."),
    seed: int = typer.Option(
        0, "--seed", help="Seed of the dataset, the initial weights and every step's draws."
    ),
    device: str = typer.Option("cpu", "--device", help="torch device: cpu (default) or cuda."),
    threads: int = typer.Option(
        1, "--threads", min=1, help="torch CPU threads (1 is fastest on a busy machine)."
    ),
    dataset_size: int = typer.Option(40000, "--dataset-size", min=1, help="Pre-rendered training scenes."),
    checkpoint_minutes: float = typer.Option(
        4.0, "--checkpoint-minutes", min=0.1, help="Minutes between checkpoints."
    ),
    from_shipped: bool = typer.Option(
        False,
        "--from-shipped",
        help="Start from the shipped weights and resume "
        "state (models/default/resume) when DIR has no checkpoint yet.",
    ),
) -> None:
    """Train or resume the default model (CPU by default; expect hours)."""
    import torch

    from models.default.train import TrainConfig, train

    try:
        torch.device(device)
    except RuntimeError as exc:
        raise InvalidRequest(
            f"unknown torch device {device!r}", param="--device", hint="use cpu or cuda"
        ) from exc
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidRequest(
            "--device cuda asked for but no CUDA device is visible",
            param="--device",
            hint="train on the CPU with --device cpu",
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if from_shipped and not (out / "checkpoint.pt").exists():
        from models.default import RESUME_DIR, WEIGHTS_DIR
        from models.default.shipping import unpack_resume

        if not (RESUME_DIR / "train_state.json").exists():
            raise InvalidRequest(
                f"no resume state at {RESUME_DIR}",
                param="--from-shipped",
                hint="train from scratch without --from-shipped",
            )
        unpack_resume(WEIGHTS_DIR, RESUME_DIR, out / "checkpoint.pt")
    cfg = TrainConfig(
        out=out,
        steps=steps,
        batch=batch,
        seed=seed,
        device=device,
        threads=threads,
        dataset_size=dataset_size,
        checkpoint_every_s=checkpoint_minutes * 60,
    )
    state = train(cfg)
    typer.echo(
        f"trained to step {state.step} ({state.elapsed_s / 3600:.2f} "
        f"h of training); pipeline: {out / 'pipeline'}"
    )


@app.command("ship-default")
def ship_default(
    run: Path = typer.Option(
        ..., "--run", help="A train-default --out folder (with checkpoint.pt and pipeline/)."
    ),
    no_resume: bool = typer.Option(
        False, "--no-resume", help="Ship only the EMA weights, not the resume state."
    ),
    steps: int | None = typer.Option(None, "--steps", min=1, help="Default sampling steps to record."),
    guidance: float | None = typer.Option(
        None, "--guidance", min=1.0, help="Default guidance scale to record."
    ),
) -> None:
    """Copy a training run's EMA weights into models/default/weights (and its resume state to
    models/default/resume)."""
    from models.default import RESUME_DIR, WEIGHTS_DIR
    from models.default.shipping import ship

    if not (run / "checkpoint.pt").exists():
        raise InvalidRequest(
            f"{run} holds no checkpoint.pt", param="--run", hint="point at a train-default --out folder"
        )
    info = ship(
        run, WEIGHTS_DIR, None if no_resume else RESUME_DIR, default_steps=steps, default_guidance=guidance
    )
    typer.echo(f"shipped step {info['step']} ({info['elapsed_s'] / 3600:.2f} h of training) to {WEIGHTS_DIR}")
