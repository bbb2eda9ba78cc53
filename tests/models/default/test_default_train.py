from pathlib import Path

import torch
from typer.testing import CliRunner

from gateway.cli.model import app
from models.default.pipeline import AssayShapesPipeline
from models.default.train import TrainConfig, train


def _cfg(out: Path, steps: int, grid: bool = False) -> TrainConfig:
    return TrainConfig(
        out=out, steps=steps, batch=4, dataset_size=48, warmup=2, checkpoint_every_s=1e9, watch_grid=grid
    )


def test_resumed_training_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    whole = train(_cfg(tmp_path / "whole", 4, grid=True), progress=False)
    train(_cfg(tmp_path / "split", 2), progress=False)
    resumed = train(_cfg(tmp_path / "split", 4), progress=False)
    assert whole.step == resumed.step == 4
    a = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=False)
    for key in ("unet", "ema_unet", "text_encoder"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name} differs after resume"
    assert list((tmp_path / "whole").glob("grid_*.png"))
    pipe = AssayShapesPipeline.from_pretrained(tmp_path / "whole" / "pipeline")
    assert pipe.native_size == 32


def test_cli_rejects_cuda_without_a_gpu(tmp_path: Path) -> None:
    if torch.cuda.is_available():  # pragma: no cover - only on GPU hosts
        return
    result = CliRunner().invoke(app, ["train-default", "--out", str(tmp_path), "--device", "cuda"])
    assert result.exit_code != 0
    assert "no CUDA device" in str(result.exception)


def test_shipped_weights_and_resume_state_rebuild_the_checkpoint(tmp_path: Path) -> None:
    from models.default.shipping import ship, unpack_resume

    run = tmp_path / "run"
    train(_cfg(run, 2), progress=False)
    info = ship(run, tmp_path / "weights", tmp_path / "resume")
    assert info["step"] == 2
    assert sorted(p.name for p in (tmp_path / "weights").iterdir()) == [
        "model_index.json",
        "scheduler",
        "text_encoder",
        "training_state.json",
        "unet",
    ]
    unpack_resume(tmp_path / "weights", tmp_path / "resume", tmp_path / "again" / "checkpoint.pt")
    train(_cfg(tmp_path / "again", 4), progress=False)
    train(_cfg(run, 4), progress=False)
    a = torch.load(run / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "again" / "checkpoint.pt", weights_only=False)
    for name, tensor in a["unet"].items():
        assert torch.equal(tensor, b["unet"][name]), name
