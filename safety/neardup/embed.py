"""Image embeddings from a local model folder: open_clip, or a TorchScript copy-detection descriptor.

Why: perceptual hashes are the fast gate but break under larger crops and edits (and can be evaded
on purpose); an image embedding keeps a copy close to its original through such changes. The model
is read from a folder (``open_clip_config.json`` with ``model_cfg`` and ``preprocess_cfg``, and the
weights, e.g. ``open_clip_model.safetensors``: what ``open_clip.push_to_hf_hub.save_for_hf`` writes),
never fetched. A folder without weights is refused: open_clip would build a randomly initialised
model and every similarity would be meaningless.

A learned copy-detection descriptor (Meta's SSCD, a DINOv2 backbone, any model that maps an image
tensor to one vector) plugs in as a **TorchScript folder**: ``descriptor.json`` and the scripted
model it names. ``descriptor.json``::

    {"format": "torchscript", "file": "sscd_disc_mixup.torchscript.pt", "dim": 512,
     "input_size": 320, "resize": "square", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}

``resize`` is ``square`` (input_size x input_size, batched) or ``short_side`` (the short side to
input_size, aspect kept, one image at a time, as SSCD's own evaluation does). The output is
L2-normalised here, so a model need not do it. :func:`load_embedder` picks the kind from the files
in the folder; ``neardup.clip`` and ``assay index build --clip-model`` take either.

The model's identity is a SHA-256 over its config and weights; an index records it and a query
with another model is refused. torch and open_clip errors become Assay errors here, at one boundary.
"""

from __future__ import annotations

import hashlib
import json
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


DESCRIPTOR_NAME = "descriptor.json"


class _DescriptorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["torchscript"]
    file: str = Field(pattern=r"^[^/\\]+$")
    dim: int = Field(ge=1, le=65536)
    input_size: int = Field(default=224, ge=16, le=2048)
    resize: Literal["square", "short_side"] = "square"
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    name: str | None = None


class TorchScriptEmbedder:
    """L2-normalised embeddings from a TorchScript descriptor folder (SSCD, DINOv2, ...). Thread-safe."""

    def __init__(self, model_dir: str | Path, *, threads: int | None = None) -> None:
        folder = Path(model_dir).expanduser().resolve()
        cfg_path = folder / DESCRIPTOR_NAME
        if not cfg_path.is_file():
            raise ConfigError(
                f"descriptor model folder {folder} has no {DESCRIPTOR_NAME}",
                hint="write descriptor.json (format, file, dim, input_size, mean, std) beside the model",
            )
        try:
            self.config = _DescriptorConfig.model_validate_json(cfg_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValidationError) as exc:
            raise ConfigError(f"{cfg_path} is not a valid descriptor config: {exc}") from exc
        weights = folder / self.config.file
        if not weights.is_file():
            raise ConfigError(
                f"descriptor folder {folder}: {DESCRIPTOR_NAME} names {self.config.file}, which is missing",
                hint="copy the TorchScript file into the folder (e.g. sscd_disc_mixup.torchscript.pt)",
            )
        self.folder = folder
        self.dim = self.config.dim
        h = hashlib.sha256()
        for p in (cfg_path, weights):
            h.update(p.name.encode() + b"\x00")
            with open(p, "rb") as f:
                while chunk := f.read(8 * 1024 * 1024):
                    h.update(chunk)
        self.digest = "sha256:" + h.hexdigest()
        import torch

        if threads is not None:
            torch.set_num_threads(threads)
        try:
            with warnings.catch_warnings():  # TorchScript is deprecated in torch 2.x; SSCD ships it
                warnings.simplefilter("ignore", FutureWarning)
                self._model = torch.jit.load(str(weights), map_location="cpu").eval()
        except (RuntimeError, ValueError, OSError) as exc:
            raise ConfigError(f"cannot load the TorchScript model {weights}: {exc}") from exc
        self._torch = torch
        self._mean = torch.tensor(self.config.mean).view(3, 1, 1)
        self._std = torch.tensor(self.config.std).view(3, 1, 1)
        self._lock = threading.Lock()

    @property
    def spec(self) -> EmbeddingSpec:
        c = self.config
        return EmbeddingSpec(
            model_digest=self.digest,
            model_dir=str(self.folder),
            dim=self.dim,
            spec=f"torchscript {c.file} {c.resize} {c.input_size} mean {list(c.mean)} std {list(c.std)}, "
            "L2-normalised float32",
        )

    def _tensor(self, image: Image.Image):
        from PIL import Image as PILImage

        c = self.config
        im = image.convert("RGB")
        if c.resize == "square":
            im = im.resize((c.input_size, c.input_size), PILImage.Resampling.BILINEAR)
        else:
            s = c.input_size / min(im.size)
            im = im.resize(
                (max(1, round(im.width * s)), max(1, round(im.height * s))), PILImage.Resampling.BILINEAR
            )
        t = self._torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0).permute(2, 0, 1)
        return (t - self._mean) / self._std

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Embeddings of ``images`` as an ``(n, dim)`` float32 array with unit rows."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        torch = self._torch
        try:
            tensors = [self._tensor(im) for im in images]
            batches = [torch.stack(tensors)] if self.config.resize == "square" else [t[None] for t in tensors]
            with self._lock, torch.inference_mode():
                feats = torch.cat([self._model(b).float().reshape(len(b), -1) for b in batches])
            feats = torch.nn.functional.normalize(feats, dim=-1)
            out = feats.cpu().numpy().astype(np.float32, copy=False)
        except (RuntimeError, ValueError, TypeError) as exc:
            raise CheckFailed(f"image embedding failed ({self.folder.name}): {exc}") from exc
        if out.shape[1] != self.dim:
            raise ConfigError(
                f"model in {self.folder} returns {out.shape[1]}-d vectors; {DESCRIPTOR_NAME} says {self.dim}"
            )
        if not np.isfinite(out).all():
            raise CheckFailed(f"image embedding of model {self.folder.name} produced NaN or infinity")
        return out


Embedder = ClipEmbedder | TorchScriptEmbedder


def load_embedder(model_dir: str | Path, *, threads: int | None = None) -> Embedder:
    """The embedder for a model folder: TorchScript if it has ``descriptor.json``, else open_clip."""
    folder = Path(model_dir).expanduser()
    if not folder.is_dir():
        raise ConfigError(
            f"embedding model folder {folder} does not exist",
            hint="point --clip-model (or the check's `model` option) at a local model folder",
        )
    if (folder / DESCRIPTOR_NAME).is_file():
        return TorchScriptEmbedder(folder, threads=threads)
    return ClipEmbedder(folder, threads=threads)
