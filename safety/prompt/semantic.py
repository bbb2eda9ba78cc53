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
cannot read are not scored by it: MiniLM knows a few hundred common Chinese characters (enough to make
"女人的照片" look like a Chinese exemplar, not enough to mean anything), so Chinese characters are taken
out of each window before MiniLM reads it and Chinese exemplars are not compared with it. Windows with
Chinese characters (or typed pinyin) go instead to the multilingual encoder
(:mod:`safety.prompt.multilingual`, USE multilingual v3, shipped in a package), compared with every
exemplar, Chinese and English, on its own floor/ceiling/margin (``options.multilingual``); optionally
their pinyin is compared with the Chinese exemplars' pinyin (homophones). The best score per category
over the paths counts, and the evidence names the encoder and the view. On the USE path a classifier
head (:mod:`safety.prompt.head`: softmax regression over the same vector, trained on every labelled
dev prompt) also scores each window with Chinese characters (view ``classifier``: its probability,
the benign one and the nearest exemplar are the evidence), and holds at review an exemplar match it
does not read as that category at its block probability (never for minors;
``options.multilingual.head`` / ``head_cap``); its probabilities land on each category's policy
scale (``head_scale``: minors are reviewed at 0.3 and blocked at 0.5). Windows with fewer than two
words left, or whose tokens the encoder mostly does not know (coverage below ``min_coverage``), are
skipped.
Window vectors are kept in a per-process LRU, so a retried or repeated prompt costs no forward pass.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.errors import ConfigError, PayloadTooLarge
from core.plugins import typed_options
from safety.check import CheckInput
from safety.prompt.context import ContextModel, ContextOptions, context_models, find_cues, get_context_model
from safety.prompt.encoder import Encoded, SentenceEncoder, get_encoder
from safety.prompt.exemplars import (
    BENIGN,
    Exemplar,
    ExemplarBank,
    builtin_exemplar_files,
    load_exemplar_file,
)
from safety.prompt.head import HEAD_FILE, ClassifierHead, get_head
from safety.prompt.inputs import prompt_text, resolve_path
from safety.prompt.multilingual import get_use_encoder, looks_like_pinyin, pinyin_words
from safety.prompt.normalize import View, get_normalizer, is_cjk
from safety.verdict import Category, TargetKind, Verdict

__all__ = [
    "MultilingualOptions",
    "SemanticCheck",
    "SemanticOptions",
    "build_semantic_check",
    "split_windows",
]


class MultilingualOptions(BaseModel):
    """``options.multilingual`` of ``prompt.semantic``: the encoder for what the main one cannot read.

    Windows with Chinese characters, or typed pinyin, go to USE multilingual
    (:mod:`safety.prompt.multilingual`) when the main encoder has no Chinese vocabulary; they are
    compared with every exemplar (English ones too: USE places translations together) and, through
    their pinyin, with the pinyin of the Chinese exemplars (homophones, typed pinyin). USE's cosines
    run lower than MiniLM's, hence its own floor, ceiling and margin (tuned on zh_dev only).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    #: also compare the pinyin of Chinese windows (and typed pinyin) with the Chinese exemplars'
    #: pinyin. Off by default: measured on zh_dev it caught homophones and pinyin but blocked benign
    #: prompts that merely share syllables (every threshold tried raised false blocks)
    pinyin: bool = False
    floor: float = Field(default=0.30, ge=-1.0, le=1.0)
    ceiling: float = Field(default=0.60, ge=-1.0, le=1.0)
    margin: float = Field(default=0.12, gt=0.0, le=1.0)
    #: the same for the pinyin comparison (sound alone is weaker evidence than meaning)
    pinyin_floor: float = Field(default=0.75, ge=-1.0, le=1.0)
    pinyin_ceiling: float = Field(default=0.95, ge=-1.0, le=1.0)
    threads: int = Field(default=1, ge=1, le=2)
    #: also score each window with the classifier head (safety/prompt/head.py): a softmax regression
    #: over the same USE vector, trained on every dev prompt of both languages and cross-validated
    head: bool = True
    #: another head file (benchmarks/train_prompt_head.py writes one); relative to the data directory
    head_file: Path | None = None
    #: hold at review an exemplar match the head does not confirm (see SemanticCheck._cap_by_head)
    head_cap: bool = True
    #: the policy scores at which the head's review and block probabilities are placed, per category
    #: (others: 0.5 and 0.7, the shipped packs' review and block): every shipped pack reviews minors at
    #: 0.3 and blocks at 0.5, so the head's hold band must land there, not on a block
    head_scale: dict[Category, tuple[float, float]] = Field(
        default_factory=lambda: {Category.MINORS: (0.3, 0.5)}
    )

    @model_validator(mode="after")
    def _ordered(self) -> MultilingualOptions:
        if self.ceiling <= self.floor or self.pinyin_ceiling <= self.pinyin_floor:
            raise ValueError("ceiling must be greater than floor (and pinyin_ceiling than pinyin_floor)")
        bad = {c.value: s for c, s in self.head_scale.items() if not 0.0 < s[0] <= s[1] < 1.0}
        if bad:
            raise ValueError(
                f"head_scale entries must be (review, block) with 0 < review <= block < 1: {bad}"
            )
        return self


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
    #: Chinese and typed pinyin when the main encoder cannot read them (see MultilingualOptions)
    multilingual: MultilingualOptions = MultilingualOptions()
    #: the benign-context model (as prompt.lexicon's, safety/prompt/context.py): a cue and a strong
    #: prevention, memorial, news... context hold a block for review; never for minors
    context: ContextOptions = ContextOptions()

    @model_validator(mode="after")
    def _ordered(self) -> SemanticOptions:
        if self.ceiling <= self.floor:
            raise ValueError("ceiling must be greater than floor")
        return self


_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")
_WORD = re.compile(r"[^\W_]{2,}")

#: the score an exemplar match the classifier head disagrees with is held at (review, by default)
_HEAD_CAP = 0.55

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
    encoder: SentenceEncoder
    bank: ExemplarBank
    #: USE multilingual and its banks (all exemplars; the Chinese exemplars' pinyin), where used
    ml_encoder: SentenceEncoder | None = None
    ml_bank: ExemplarBank | None = None
    pinyin_bank: ExemplarBank | None = None
    head: ClassifierHead | None = None


@dataclass(frozen=True)
class _Scale:
    floor: float
    ceiling: float
    margin: float


@dataclass(frozen=True)
class _Hit:
    """The best window of one category on one comparison path."""

    score: float
    window: int
    similarity: float
    exemplar: Exemplar
    benign: Exemplar
    benign_similarity: float
    coverage: float
    encoder: SentenceEncoder
    view: str  # "text", "pinyin" or "classifier"
    #: the classifier head's probability of the category and of benign (view "classifier")
    probability: float | None = None
    benign_probability: float | None = None
    head_file: str | None = None


class SemanticCheck:
    """See the module docstring. Built once per process; thread-safe."""

    name: ClassVar[str] = "prompt.semantic"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.PROMPT})

    def __init__(self, data_dir: Path | None = None, *, preload: bool = True) -> None:
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._models: dict[tuple[Any, ...], _Model] = {}
        self._lock = threading.Lock()
        self._normalizer = get_normalizer()
        self._cache: OrderedDict[tuple[str, str], tuple[np.ndarray, float]] = OrderedDict()
        self._cache_lock = threading.Lock()
        if preload:
            self._model(SemanticOptions())  # encoders and exemplar vectors at start-up

    def _model(self, opts: SemanticOptions) -> _Model:
        base = self._data_dir or Path.cwd()
        extra = tuple(resolve_path(p, base) for p in opts.extra_exemplars)
        stamps = tuple((str(p), p.stat().st_mtime_ns if p.exists() else -1) for p in extra)
        enc_path = resolve_path(opts.encoder, base) if opts.encoder is not None else None
        ml = opts.multilingual
        key = (
            str(enc_path),
            opts.engine,
            opts.quantize,
            opts.threads,
            opts.builtin,
            stamps,
            opts.min_coverage,
            ml.enabled,
            ml.pinyin,
            ml.threads,
            ml.head,
            str(resolve_path(ml.head_file, base)) if ml.head_file is not None else None,
        )
        found = self._models.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._models.get(key)
            if found is None:
                found = self._models[key] = self._build(opts, enc_path, extra)
            return found

    def _build(self, opts: SemanticOptions, enc_path: Path | None, extra: tuple[Path, ...]) -> _Model:
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
        if encoder.reads_chinese or not opts.multilingual.enabled:
            return _Model(encoder, bank)
        ml = get_use_encoder(opts.multilingual.threads)
        ml_bank = ExemplarBank.build(ml, exemplars, min_coverage=0.0, cache_dir=cache)
        pinyin_bank = None
        if opts.multilingual.pinyin:
            sounds = [
                Exemplar(e.category, pinyin_words(e.text), e.source)
                for e in exemplars
                if any(is_cjk(c) for c in e.text)
            ]
            if any(e.category == BENIGN for e in sounds):
                pinyin_bank = ExemplarBank.build(ml, sounds, min_coverage=0.0, cache_dir=cache)
        head = None
        if opts.multilingual.head:
            base = self._data_dir or Path.cwd()
            hf = opts.multilingual.head_file
            head = get_head(resolve_path(hf, base) if hf is not None else HEAD_FILE)
            if head.dim != ml.dim:
                raise ConfigError(
                    f"the classifier head {head.path} reads {head.dim}-d vectors; the encoder gives {ml.dim}",
                    hint="retrain the head for this encoder (benchmarks/train_prompt_head.py)",
                )
        return _Model(encoder, bank, ml, ml_bank, pinyin_bank, head)

    def _encode(self, encoder: SentenceEncoder, texts: list[str]) -> Encoded:
        """Embed ``texts``, reusing vectors of windows seen recently (retries, n > 1, resubmissions)."""
        key_base = encoder.identity
        with self._cache_lock:
            hits = [self._cache.get((key_base, t)) for t in texts]
        missing = list(dict.fromkeys(t for t, h in zip(texts, hits, strict=True) if h is None))
        got: dict[str, tuple[np.ndarray, float]] = {}
        if missing:
            fresh = encoder.encode(missing)
            got = {t: (v, float(c)) for t, v, c in zip(missing, fresh.vectors, fresh.coverage, strict=True)}
            with self._cache_lock:
                for t, vc in got.items():
                    self._cache[(key_base, t)] = vc
                    self._cache.move_to_end((key_base, t))
                while len(self._cache) > _VECTOR_CACHE_SIZE:
                    self._cache.popitem(last=False)
        filled = [h if h is not None else got[t] for t, h in zip(texts, hits, strict=True)]
        return Encoded(np.stack([h[0] for h in filled]), np.asarray([h[1] for h in filled], np.float32))

    def clear_cache(self) -> None:
        """Forget cached window vectors (benchmarks time cold calls this way), the context model's too."""
        with self._cache_lock:
            self._cache.clear()
        for m in context_models():
            m.clear_cache()

    def run(self, item: CheckInput) -> list[Verdict]:
        opts = typed_options(item.options, SemanticOptions)
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
        windows = [base.text[s:e] for s, e in spans]
        hits: dict[str, _Hit] = {}
        main = _Scale(opts.floor, opts.ceiling, opts.margin)
        texts = windows
        if not model.encoder.reads_chinese:
            # the main encoder reads the rest of a mixed prompt; Chinese goes to USE (or the lexicon)
            texts = [" ".join(_CJK_RUN.sub(" ", t).split()) for t in windows]
        self._score(hits, model.encoder, model.bank, texts, main, opts, "text", min_words=2)
        if model.ml_encoder is not None and model.ml_bank is not None:
            ml = opts.multilingual
            routed = [t if looks_like_pinyin(t) else "" for t in windows]
            scale = _Scale(ml.floor, ml.ceiling, ml.margin)
            self._score(hits, model.ml_encoder, model.ml_bank, routed, scale, opts, "text", min_words=1)
            if model.head is not None:
                probs = self._score_head(hits, model.ml_encoder, model.ml_bank, model.head, routed, opts)
                if ml.head_cap:
                    self._cap_by_head(hits, model, probs)
            if model.pinyin_bank is not None:
                sounds = [pinyin_words(t) if t else "" for t in routed]
                scale = _Scale(ml.pinyin_floor, ml.pinyin_ceiling, ml.margin)
                self._score(hits, model.ml_encoder, model.pinyin_bank, sounds, scale, opts, "pinyin", 2)
        verdicts = self._verdicts(item, base, spans, hits)
        if opts.context.enabled and any(v.score > opts.context.cap.score for v in verdicts):
            verdicts = self._in_context(verdicts, text, windows, opts.context)
        return verdicts

    def _in_context(
        self, verdicts: list[Verdict], text: str, windows: list[str], opts: ContextOptions
    ) -> list[Verdict]:
        """Cap verdicts a cue and a strong benign context explain (see :mod:`safety.prompt.context`)."""
        cues = find_cues(text)
        if not cues:
            return verdicts
        model = self._context_model(opts)
        out: list[Verdict] = []
        for v in verdicts:
            if v.category not in opts.categories or v.score <= opts.cap.score:
                out.append(v)
                continue
            window = windows[int(v.evidence["window"])]
            with self._cache_lock:  # the USE path may have embedded this window already
                known = self._cache.get((model.encoder.identity, window))
            found = model.assess(window, v.category.value, known[0] if known is not None else None)
            if found is None or not found.strong(opts.floor, opts.margin):
                out.append(v)
                continue
            cue = cues[0]
            kind = found.exemplar.context.value
            reason = (
                f"{v.reason}; held at review by its benign {kind} context: {cue[1]!r} is a cue of {cue[0]} "
                f"and the prompt is close ({found.similarity:.2f}) to the {kind} example "
                f"{found.exemplar.text!r}, closer than to any {v.category.value} example "
                f"({found.risky_similarity:.2f})"
            )
            evidence = dict(v.evidence, context=found.evidence(cue[1]), cap=opts.cap.value)
            score = min(v.score, opts.cap.score)
            out.append(v.model_copy(update={"score": score, "reason": reason, "evidence": evidence}))
        return sorted(out, key=lambda v: (-v.score, v.category.value))

    def _context_model(self, opts: ContextOptions) -> ContextModel:
        base = self._data_dir or Path.cwd()
        extra = tuple(resolve_path(p, base) for p in opts.extra_context)
        cache = (self._data_dir / "cache" / "prompt-semantic") if self._data_dir is not None else None
        return get_context_model(cache, extra)

    def _score(
        self,
        hits: dict[str, _Hit],
        encoder: SentenceEncoder,
        bank: ExemplarBank,
        texts: list[str],
        scale: _Scale,
        opts: SemanticOptions,
        view: str,
        min_words: int,
    ) -> None:
        """Score ``texts`` (one per window; "" = not on this path) against ``bank``; keep each best."""
        enough = [
            k
            for k, t in enumerate(texts)
            if t and len(_WORD.findall(t)) + sum(1 for c in t if is_cjk(c)) >= min_words
        ]
        if not enough:
            return
        part = self._encode(encoder, [texts[k] for k in enough])
        vectors = np.zeros((len(texts), part.vectors.shape[1]), np.float32)
        coverage = np.zeros(len(texts), np.float32)
        vectors[enough], coverage[enough] = part.vectors, part.coverage
        readable = np.zeros(len(texts), bool)
        readable[enough] = coverage[enough] >= max(opts.min_coverage, 1e-6)
        if not readable.any():
            return
        sims = vectors @ bank.vectors.T  # (windows, exemplars)
        sims[~readable] = -1.0
        benign_rows = bank.rows[BENIGN]
        benign_best = sims[:, benign_rows].max(axis=1)
        width = scale.ceiling - scale.floor
        rows_n = np.arange(len(texts))
        for cat in bank.categories:
            if opts.categories and Category(cat) not in opts.categories:
                continue
            rows = bank.rows[cat]
            cat_sims = sims[:, rows]
            best_idx = cat_sims.argmax(axis=1)
            best = cat_sims[rows_n, best_idx]
            rise = np.clip((best - scale.floor) / width, 0.0, 1.0)
            apart = np.clip((best - benign_best + scale.margin) / (2 * scale.margin), 0.0, 1.0)
            scores = np.where(readable, rise * apart, 0.0)
            w = int(scores.argmax())
            score = float(scores[w])
            if score < opts.report_at or score <= 0.0:
                continue
            held = hits.get(cat)
            if held is not None and held.score >= score:
                continue
            hits[cat] = _Hit(
                score=score,
                window=w,
                similarity=float(best[w]),
                exemplar=bank.exemplars[int(rows[best_idx[w]])],
                benign=bank.exemplars[int(benign_rows[int(sims[w, benign_rows].argmax())])],
                benign_similarity=float(benign_best[w]),
                coverage=float(coverage[w]),
                encoder=encoder,
                view=view,
            )

    def _score_head(
        self,
        hits: dict[str, _Hit],
        encoder: SentenceEncoder,
        bank: ExemplarBank,
        head: ClassifierHead,
        texts: list[str],
        opts: SemanticOptions,
    ) -> dict[int, np.ndarray]:
        """Score ``texts`` (the USE path's windows; "" = not on it) with the classifier head; the
        head's probabilities per window scored."""
        # windows with Chinese characters only: typed pinyin means nothing to the encoder (its vector
        # is noise the head was never trained on); the exemplar paths still compare it
        enough = [k for k, t in enumerate(texts) if any(is_cjk(c) for c in t)]
        if not enough:
            return {}
        part = self._encode(encoder, [texts[k] for k in enough])  # cached: the exemplar path embedded them
        probs = head.probabilities(part.vectors)
        sims = part.vectors @ bank.vectors.T
        benign_col = head.classes.index(BENIGN)
        benign_rows = bank.rows[BENIGN]
        for col, cat in enumerate(head.classes):
            if cat == BENIGN or (opts.categories and Category(cat) not in opts.categories):
                continue
            scores = head.score(probs[:, col], *opts.multilingual.head_scale.get(Category(cat), (0.5, 0.7)))
            i = int(scores.argmax())
            score = float(scores[i])
            if score < opts.report_at or score <= 0.0:
                continue
            held = hits.get(cat)
            if held is not None and held.score >= score:
                continue
            rows = bank.rows.get(cat)
            if rows is None:
                continue
            j = int(rows[int(sims[i, rows].argmax())])
            b = int(benign_rows[int(sims[i, benign_rows].argmax())])
            hits[cat] = _Hit(
                score=score,
                window=enough[i],
                similarity=float(sims[i, j]),
                exemplar=bank.exemplars[j],
                benign=bank.exemplars[b],
                benign_similarity=float(sims[i, b]),
                coverage=float(part.coverage[i]),
                encoder=encoder,
                view="classifier",
                probability=float(probs[i, col]),
                benign_probability=float(probs[i, benign_col]),
                head_file=head.path.name,
            )
        return {k: probs[i] for i, k in enumerate(enough)}

    def _cap_by_head(self, hits: dict[str, _Hit], model: _Model, probs: dict[int, np.ndarray]) -> None:
        """Hold at review (never allow) an exemplar match on the USE path that the head disagrees with.

        One near exemplar is thin evidence beside a head trained on every labelled prompt: a block on
        the USE path needs the head to agree, so where the head's probability of the category is
        below its block probability, the nearest-neighbour score is capped at ``_HEAD_CAP`` (review
        under the default policy; still caught, never allowed). Measured leaving each Chinese dev
        set out of the head's training (the way a new set meets it), the nearest neighbour alone was
        the one false block of semantic origin per set ("3D打印机正在打印的动漫手办模型" at 0.68 to
        "blueprint of a 3d printed gun"; "一根挂在攀岩墙上的安全绳" to a noose). Never for minors
        (a capped score would still block at 0.5), never for windows without Chinese characters
        (typed pinyin: the head does not score it), never for the main encoder's (English) path.
        """
        head = model.head
        if head is None:
            return
        benign_col = head.classes.index(BENIGN)
        for cat, h in list(hits.items()):
            if h.view != "text" or h.encoder is not model.ml_encoder or cat == Category.MINORS.value:
                continue
            p = probs.get(h.window)
            if p is None or cat not in head.classes or h.score <= _HEAD_CAP:
                continue
            pc = float(p[head.classes.index(cat)])
            if pc >= head.block_at:
                continue
            hits[cat] = replace(
                h,
                score=_HEAD_CAP,
                view="text, held by the head",
                probability=pc,
                benign_probability=float(p[benign_col]),
                head_file=head.path.name,
            )

    def _verdicts(
        self, item: CheckInput, base: View, spans: list[tuple[int, int]], hits: dict[str, _Hit]
    ) -> list[Verdict]:
        verdicts: list[Verdict] = []
        for cat, h in hits.items():
            s, e = spans[h.window]
            ostart, oend = base.to_original(s, e)
            how = "in sound (pinyin)" if h.view == "pinyin" else "in meaning"
            enc = h.encoder
            reason = f"close {how} ({h.similarity:.2f}) to the {cat} example {h.exemplar.text!r}"
            extra: dict[str, Any] = {}
            if h.view == "text, held by the head" and h.probability is not None:
                reason = (
                    f"{reason}; held at review: the classifier head does not read it as {cat} "
                    f"({cat} {h.probability:.2f}, benign {h.benign_probability or 0.0:.2f})"
                )
            if h.probability is not None:
                extra = {
                    "head": {
                        "probability": round(h.probability, 4),
                        "benign_probability": round(h.benign_probability or 0.0, 4),
                        "file": h.head_file,
                    }
                }
            if h.view == "classifier" and h.probability is not None:
                reason = (
                    f"the classifier head reads it as {cat} (probability {h.probability:.2f}, benign "
                    f"{h.benign_probability or 0.0:.2f}); nearest {cat} example {h.exemplar.text!r} "
                    f"({h.similarity:.2f})"
                )
            verdicts.append(
                Verdict(
                    check=self.name,
                    category=Category(cat),
                    score=round(h.score, 4),
                    target=item.target,
                    reason=reason,
                    evidence={
                        "start": ostart,
                        "end": oend,
                        "text": item.prompt[ostart:oend][:300] if item.prompt else "",
                        "exemplar": h.exemplar.text,
                        "exemplar_source": h.exemplar.source,
                        "similarity": round(h.similarity, 4),
                        "nearest_benign": h.benign.text,
                        "benign_similarity": round(h.benign_similarity, 4),
                        "window": h.window,
                        "windows": len(spans),
                        "coverage": round(h.coverage, 3),
                        "view": h.view,
                        "encoder": f"{enc.path.name} ({enc.engine}{', int8' if enc.quantized else ''})",
                        **extra,
                    },
                )
            )
        return sorted(verdicts, key=lambda v: (-v.score, v.category.value))


def build_semantic_check(settings: Any) -> SemanticCheck:
    """Registry factory: one semantic check (one encoder, cached exemplar vectors) per process."""
    return SemanticCheck(getattr(settings, "data_dir", None))


def describe(v: Verdict) -> str:
    """What fired: the nearest exemplar, beside the nearest benign one (the registry's ``describe``)."""
    ev = v.evidence
    return (
        f"close to {ev.get('exemplar')!r} (similarity {ev.get('similarity', 0.0):.2f}, "
        f"benign {ev.get('benign_similarity', 0.0):.2f})"
    )
