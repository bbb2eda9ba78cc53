"""Image embeddings from an open_clip model in a local folder: the robust near-duplicate signal.

Why: perceptual hashes are the fast gate but break under larger crops and edits (and can be evaded
on purpose); an image embedding keeps a copy close to its original through such changes. The model
is read from a folder (``open_clip_config.json`` with ``model_cfg`` and ``preprocess_cfg``, and the
weights, e.g. ``open_clip_model.safetensors``: what ``open_clip.push_to_hf_hub.save_for_hf`` writes),
never fetched. A folder without weights is refused: open_clip would build a randomly initialised
model and every similarity would be meaningless.

The model's identity is a SHA-256 over its config and weights; an index records it and a query
with another model is refused. torch and open_clip errors become Assay errors here, at one boundary.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import CheckFailed, ConfigError
from safety.neardup.store import EmbeddingSpec

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

CONFIG_NAME = "open_clip_config.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth")


def _weights_file(folder: Path) -> Path:
    from open_clip.factory import _find_checkpoint_in_dir  # the same choice open_clip makes

    found = _find_checkpoint_in_dir(folder)
    if not found:
        raise ConfigError(
            f"embedding model folder {folder} has no weights ({', '.join(WEIGHT_SUFFIXES)})",
            hint="save the model with its weights (open_clip_model.safetensors) into the folder",
        )
    return Path(found)


def model_digest(folder: Path) -> str:
    """SHA-256 over the config and the weights file: what an index records as the model's identity."""
    h = hashlib.sha256()
    for p in (folder / CONFIG_NAME, _weights_file(folder)):
        h.update(p.name.encode() + b"\x00")
        with open(p, "rb") as f:
            while chunk := f.read(8 * 1024 * 1024):
                h.update(chunk)
    return "sha256:" + h.hexdigest()


class ClipEmbedder:
    """L2-normalised image embeddings (float32) from a local open_clip model. Thread-safe."""

    def __init__(self, model_dir: str | Path, *, threads: int | None = None) -> None:
        folder = Path(model_dir).expanduser().resolve()
        if not (folder / CONFIG_NAME).is_file():
            raise ConfigError(
                f"embedding model folder {folder} has no {CONFIG_NAME}",
                hint="point --clip-model (or the check's `model` option) at an open_clip model folder",
            )
        try:
            cfg = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
            self.dim = int(cfg["model_cfg"]["embed_dim"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{folder / CONFIG_NAME} is not an open_clip config with model_cfg.embed_dim: {exc}"
            ) from exc
        self.folder = folder
        self.digest = model_digest(folder)
        import open_clip
        import torch

        if threads is not None:
            torch.set_num_threads(threads)
        try:
            model, preprocess = open_clip.create_model_from_pretrained(f"local-dir:{folder}", device="cpu")
        except (ValueError, RuntimeError, FileNotFoundError, KeyError, OSError) as exc:
            raise ConfigError(f"cannot load the open_clip model in {folder}: {exc}") from exc
        model.eval()
        self._torch = torch
        self._model = model
        self._preprocess = preprocess
        self._lock = threading.Lock()

    @property
    def spec(self) -> EmbeddingSpec:
        return EmbeddingSpec(
            model_digest=self.digest,
            model_dir=str(self.folder),
            dim=self.dim,
            spec="open_clip encode_image, L2-normalised float32",
        )

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Embeddings of ``images`` as an ``(n, dim)`` float32 array with unit rows."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        torch = self._torch
        try:
            batch = torch.stack([self._preprocess(im.convert("RGB")) for im in images])
            with self._lock, torch.inference_mode():
                feats = self._model.encode_image(batch).float()
            feats = torch.nn.functional.normalize(feats, dim=-1)
            out = feats.cpu().numpy().astype(np.float32, copy=False)
        except (RuntimeError, ValueError, TypeError) as exc:
            raise CheckFailed(f"image embedding failed ({self.folder.name}): {exc}") from exc
        if out.shape[1] != self.dim:
            raise ConfigError(
                f"model in {self.folder} returns {out.shape[1]}-d embeddings, its config says {self.dim}"
            )
        if not np.isfinite(out).all():
            raise CheckFailed(f"image embedding of model {self.folder.name} produced NaN or infinity")
        return out
