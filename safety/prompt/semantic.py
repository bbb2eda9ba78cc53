"""The ``prompt.semantic`` check: how close a prompt is, in meaning, to risky example prompts.

Why it exists: term lists miss paraphrases ("a woman who has taken off everything she wore") and
new slang. A sentence encoder (:mod:`safety.prompt.encoder`) places the prompt near prompts that
mean the same; comparing it with exemplars per category (:mod:`safety.prompt.exemplars`) gives a
0..1 score per category that the policy's thresholds turn into review or block. Benign near-misses
("breast cancer awareness poster") are exemplars too: a prompt at least as close to one of them as to
the risky ones is discounted.

Score of category *c* for one window of the prompt, with ``s`` its best cosine similarity to an
exemplar of *c* and ``b`` its best similarity to a benign one::

    score = clip((s - floor) / (ceiling - floor)) * clip((s - b + margin) / (2 * margin))

Long prompts are cut into windows of whole clauses (so a risky clause cannot hide in a long benign
prompt: the embedding of the whole would dilute it) and the best window counts. Windows the encoder
cannot read are not scored: with an encoder whose vocabulary does not cover Chinese (MiniLM knows a
few hundred common characters — enough to make "女人的照片" look like a Chinese exemplar, not enough to
mean anything) Chinese characters are taken out of each window and Chinese exemplars are not used, so
Chinese prompts rely on the lexicon unless the operator supplies a multilingual encoder; windows with
fewer than two words left, or whose tokens the encoder mostly does not know (coverage below
``min_coverage``), are skipped.
Window vectors are kept in a per-process LRU, so a retried or repeated prompt costs no forward pass.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.errors import PayloadTooLarge
from safety.check import CheckInput
from safety.prompt.encoder import Encoded, TextEncoder, get_encoder
from safety.prompt.exemplars import BENIGN, ExemplarBank, builtin_exemplar_files, load_exemplar_file
from safety.prompt.inputs import OptionsCache, prompt_text, resolve_path
from safety.prompt.normalize import View, get_normalizer, is_cjk
from safety.verdict import Category, TargetKind, Verdict

__all__ = ["SemanticCheck", "SemanticOptions", "build_semantic_check", "split_windows"]


class SemanticOptions(BaseModel):
    """Options of ``prompt.semantic`` in a policy (``checks.prompt[].options``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: a local sentence-transformers folder (e.g. a multilingual model); default: the packaged MiniLM
    encoder: Path | None = None
    #: how the encoder runs: onnx (exported once, ONNX Runtime), torch (sentence-transformers), or
    #: auto (onnx where the model allows it)
    engine: Literal["auto", "onnx", "torch"] = "auto"
    #: int8 weights (about 2x faster; vectors move by a cosine of ~0.03-0.05, so re-check floor/ceiling)
    quantize: bool = False
    #: intra-op threads of the encoder (the compliance path shares two cores)
    threads: int = Field(default=1, ge=1, le=2)
    #: use the built-in exemplars (safety/prompt/data/exemplars)
    builtin: bool = True
    #: operator exemplar files (category<TAB>text); relative to the data directory
    extra_exemplars: tuple[Path, ...] = ()
    #: cosine similarity at which a category's score starts to rise from 0 ...
    floor: float = Field(default=0.42, ge=-1.0, le=1.0)
    #: ... and reaches 1
    ceiling: float = Field(default=0.78, ge=-1.0, le=1.0)
    #: how much closer to a risky exemplar than to a benign one a prompt must be for the full score
    margin: float = Field(default=0.04, gt=0.0, le=1.0)
    #: categories scoring below this are not reported at all
    report_at: float = Field(default=0.25, ge=0.0, le=1.0)
    #: share of a window's tokens the encoder must know for the window to be scored
    min_coverage: float = Field(default=0.6, ge=0.0, le=1.0)
    #: words (or Chinese characters) per window
    window_words: int = Field(default=40, ge=4, le=256)
    #: most windows per prompt; a longer prompt is refused (PayloadTooLarge), never half-read
    max_windows: int = Field(default=32, ge=1, le=512)
    #: longest prompt the check reads
    max_chars: int = Field(default=20_000, ge=1, le=1_000_000)
    #: report only these categories (all with exemplars when empty)
    categories: tuple[Category, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> SemanticOptions:
        if self.ceiling <= self.floor:
            raise ValueError("ceiling must be greater than floor")
        return self


_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")
_WORD = re.compile(r"[^\W_]{2,}")

#: window vectors kept per process (a 384-d float32 vector is 1.5 kB: 4096 of them are 6 MB)
_VECTOR_CACHE_SIZE = 4096


# --- windows ---------------------------------------------------------------------------------------
_CLAUSE_END = re.compile(r"[,.;:!?\n，。；：！？、]+")


def _units(text: str) -> int:
    """Length in words, counting each Chinese character as a word."""
    cjk = sum(1 for c in text if is_cjk(c))
    latin_words = len(re.findall(r"[^\s\u3400-\u9fff\uf900-\ufaff]+", text))
    return cjk + latin_words


def split_windows(text: str, window_words: int) -> list[tuple[int, int]]:
    """Spans of ``text`` that each hold at most about ``window_words`` words, cut at clause ends."""
    if _units(text) <= window_words:
        return [(0, len(text))] if text.strip() else []
    clauses: list[tuple[int, int]] = []
    pos = 0
    for m in _CLAUSE_END.finditer(text):
        clauses.append((pos, m.end()))
        pos = m.end()
    if pos < len(text):
        clauses.append((pos, len(text)))
    # a clause longer than a window is cut at word boundaries
    pieces: list[tuple[int, int]] = []
    for s, e in clauses:
        if _units(text[s:e]) <= window_words:
            pieces.append((s, e))
            continue
        start, count = s, 0
        for m in re.finditer(r"[\u3400-\u9fff\uf900-\ufaff]|[^\s\u3400-\u9fff\uf900-\ufaff]+", text[s:e]):
            count += 1
            if count > window_words:
                pieces.append((start, s + m.start()))
                start, count = s + m.start(), 1
        pieces.append((start, e))
    windows: list[tuple[int, int]] = []
    cur_s, cur_n = None, 0
    for s, e in pieces:
        n = _units(text[s:e])
        if cur_s is not None and cur_n + n > window_words:
            windows.append((cur_s, s))
            cur_s, cur_n = None, 0
        if cur_s is None:
            cur_s = s
        cur_n += n
    if cur_s is not None:
        windows.append((cur_s, len(text)))
    return [(s, e) for s, e in windows if text[s:e].strip()]


@dataclass(frozen=True)
class _Model:
    encoder: TextEncoder
    bank: ExemplarBank


class SemanticCheck:
    """See the module docstring. Built once per process; thread-safe."""

    name: ClassVar[str] = "prompt.semantic"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.PROMPT})

    def __init__(self, data_dir: Path | None = None, *, preload: bool = True) -> None:
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._options = OptionsCache(SemanticOptions, self.name)
        self._models: dict[tuple[Any, ...], _Model] = {}
        self._lock = threading.Lock()
        self._normalizer = get_normalizer()
        self._cache: OrderedDict[tuple[str, str], tuple[np.ndarray, float]] = OrderedDict()
        self._cache_lock = threading.Lock()
        if preload:
            self._model(SemanticOptions())  # encoder and exemplar vectors at start-up

    def _model(self, opts: SemanticOptions) -> _Model:
        base = self._data_dir or Path.cwd()
        extra = tuple(resolve_path(p, base) for p in opts.extra_exemplars)
        stamps = tuple((str(p), p.stat().st_mtime_ns if p.exists() else -1) for p in extra)
        enc_path = resolve_path(opts.encoder, base) if opts.encoder is not None else None
        key = (
            str(enc_path),
            opts.engine,
            opts.quantize,
            opts.threads,
            opts.builtin,
            stamps,
            opts.min_coverage,
        )
        found = self._models.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._models.get(key)
            if found is None:
                cache = (self._data_dir / "cache" / "prompt-semantic") if self._data_dir is not None else None
                encoder = get_encoder(
                    enc_path,
                    quantize=opts.quantize,
                    engine=opts.engine,
                    threads=opts.threads,
                    cache_dir=cache,
                )
                files = (builtin_exemplar_files() if opts.builtin else []) + list(extra)
                exemplars = [e for f in files for e in load_exemplar_file(f)]
                bank = ExemplarBank.build(encoder, exemplars, min_coverage=opts.min_coverage, cache_dir=cache)
                found = self._models[key] = _Model(encoder, bank)
            return found

    def _encode(self, encoder: TextEncoder, texts: list[str]) -> Encoded:
        """Embed ``texts``, reusing vectors of windows seen recently (retries, n > 1, resubmissions)."""
        key_base = encoder.identity
        with self._cache_lock:
            hits = [self._cache.get((key_base, t)) for t in texts]
        missing = [t for t, h in zip(texts, hits, strict=True) if h is None]
        if missing:
            fresh = encoder.encode(missing)
            with self._cache_lock:
                for t, v, c in zip(missing, fresh.vectors, fresh.coverage, strict=True):
                    self._cache[(key_base, t)] = (v, float(c))
                    self._cache.move_to_end((key_base, t))
                while len(self._cache) > _VECTOR_CACHE_SIZE:
                    self._cache.popitem(last=False)
            got = iter(zip(fresh.vectors, fresh.coverage, strict=True))
            hits = [h if h is not None else next(got) for h in hits]
        return Encoded(np.stack([h[0] for h in hits]), np.asarray([h[1] for h in hits], np.float32))

    def clear_cache(self) -> None:
        """Forget cached window vectors (benchmarks time cold calls this way)."""
        with self._cache_lock:
            self._cache.clear()

    def run(self, item: CheckInput) -> list[Verdict]:
        opts = self._options.get(item.options)
        text = prompt_text(item, self.name, opts.max_chars)
        if not text.strip():
            return []
        base = self._normalizer.normalize(text).base
        spans = split_windows(base.text, opts.window_words)
        if len(spans) > opts.max_windows:
            raise PayloadTooLarge(
                f"the prompt is {len(spans)} windows of {opts.window_words} words long; {self.name} reads "
                f"at most {opts.max_windows}",
                param="prompt",
                hint="shorten the prompt, or raise options.max_windows of prompt.semantic in the policy",
            )
        if not spans:
            return []
        model = self._model(opts)
        texts = [base.text[s:e] for s, e in spans]
        if not model.encoder.reads_chinese:
            # the encoder reads the rest of a mixed prompt; the lexicon reads the Chinese
            texts = [" ".join(_CJK_RUN.sub(" ", t).split()) for t in texts]
        enough = [k for k, t in enumerate(texts) if len(_WORD.findall(t)) >= 2]
        if not enough:
            return []
        part = self._encode(model.encoder, [texts[k] for k in enough])
        vectors = np.zeros((len(texts), part.vectors.shape[1]), np.float32)
        coverage = np.zeros(len(texts), np.float32)
        vectors[enough], coverage[enough] = part.vectors, part.coverage
        readable = coverage >= max(opts.min_coverage, 1e-6)
        if not readable.any():
            return []
        return self._verdicts(item, opts, model, base, spans, vectors, coverage, readable)

    def _verdicts(
        self,
        item: CheckInput,
        opts: SemanticOptions,
        model: _Model,
        base: View,
        spans: list[tuple[int, int]],
        vectors: np.ndarray,
        coverage: np.ndarray,
        readable: np.ndarray,
    ) -> list[Verdict]:
        bank = model.bank
        sims = vectors @ bank.vectors.T  # (windows, exemplars)
        sims[~readable] = -1.0
        benign_rows = bank.rows[BENIGN]
        benign_best = sims[:, benign_rows].max(axis=1)
        width = opts.ceiling - opts.floor
        verdicts: list[Verdict] = []
        for cat in bank.categories:
            if opts.categories and Category(cat) not in opts.categories:
                continue
            rows = bank.rows[cat]
            cat_sims = sims[:, rows]
            best_idx = cat_sims.argmax(axis=1)
            best = cat_sims[np.arange(len(spans)), best_idx]
            rise = np.clip((best - opts.floor) / width, 0.0, 1.0)
            apart = np.clip((best - benign_best + opts.margin) / (2 * opts.margin), 0.0, 1.0)
            scores = np.where(readable, rise * apart, 0.0)
            w = int(scores.argmax())
            score = float(scores[w])
            if score < opts.report_at or score <= 0.0:
                continue
            ex = bank.exemplars[int(rows[best_idx[w]])]
            ben = bank.exemplars[int(benign_rows[int(sims[w, benign_rows].argmax())])]
            s, e = spans[w]
            ostart, oend = base.to_original(s, e)
            verdicts.append(
                Verdict(
                    check=self.name,
                    category=Category(cat),
                    score=round(score, 4),
                    target=item.target,
                    reason=(f"close in meaning ({float(best[w]):.2f}) to the {cat} example {ex.text!r}"),
                    evidence={
                        "start": ostart,
                        "end": oend,
                        "text": item.prompt[ostart:oend][:300] if item.prompt else "",
                        "exemplar": ex.text,
                        "exemplar_source": ex.source,
                        "similarity": round(float(best[w]), 4),
                        "nearest_benign": ben.text,
                        "benign_similarity": round(float(benign_best[w]), 4),
                        "window": w,
                        "windows": len(spans),
                        "coverage": round(float(coverage[w]), 3),
                        "encoder": f"{model.encoder.path.name} ({model.encoder.engine}"
                        f"{', int8' if model.encoder.quantized else ''})",
                    },
                )
            )
        return sorted(verdicts, key=lambda v: (-v.score, v.category.value))


def build_semantic_check(settings: Any) -> SemanticCheck:
    """Registry factory: one semantic check (one encoder, cached exemplar vectors) per process."""
    return SemanticCheck(getattr(settings, "data_dir", None))
