"""The benign-context model of ``prompt.lexicon``: a risky word in a prevention, memorial or news prompt.

Why it exists: a term list cannot tell "教人自杀的方法" from "预防自杀的公益海报" — both hold 自杀 —
and blocking the second (a suicide-prevention poster, a vigil for the victims of an attack, a
drug-education display) is a false block that a compliance service must not make at scale. Allow
phrases (``预防自杀``) fix one wording at a time; this model fixes the phenomenon:

1. a *cue* says the prompt may be about a benign context: a ``ctx.<kind>`` term of the lexicon for
   one of the :class:`ContextKind` s (prevention, support, awareness, memorial, history, news,
   medical, education, enforcement) — cheap, and without one the encoder is never called;
2. the multilingual sentence encoder (USE, :mod:`safety.prompt.multilingual`; Chinese and English
   alike) places the window around the hit beside *benign-context exemplars of the hit's category*
   (``data/context/*.tsv``: category x context, written generally) and beside that category's risky
   exemplars (the semantic check's, ``data/exemplars``);
3. the context is *strong* when the window is at least ``floor`` close to a benign-context exemplar
   and at least ``margin`` closer to it than to any risky exemplar of the category.

A strong context caps the lexicon's verdict at ``cap`` (default ``low``: held for review, never
allowed outright) and the verdict names the cue, the exemplar, both similarities and the context.
It never lowers ``minors`` (refused in the options), a verdict that a co-occurrence rule made (the
rule *is* context: "glorifying" next to "terrorist"), or one that rests on a term above
``max_term`` (critical terms always block).

Imports: numpy, pydantic, :mod:`core.errors`, :mod:`safety.prompt` (exemplars, multilingual,
normalize, terms); ``safety.prompt.semantic.split_windows`` when a prompt is long.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import ConfigError
from safety.prompt.encoder import SentenceEncoder
from safety.prompt.exemplars import (
    Exemplar,
    ExemplarBank,
    builtin_exemplar_files,
    load_exemplar_file,
    tsv_lines,
)
from safety.prompt.terms import Severity
from safety.verdict import Category

if TYPE_CHECKING:  # pragma: no cover
    from safety.prompt.matcher import TermMatcher
    from safety.prompt.terms import Term

__all__ = [
    "ContextExemplar",
    "ContextFinding",
    "ContextKind",
    "ContextModel",
    "ContextOptions",
    "builtin_context_files",
    "context_models",
    "cue_kind",
    "find_cues",
    "get_context_model",
    "load_context_file",
]


class ContextKind(StrEnum):
    """What a benign prompt about a risky subject is doing; a lexicon cue is ``ctx.<kind>``."""

    PREVENTION = "prevention"
    SUPPORT = "support"
    AWARENESS = "awareness"
    MEMORIAL = "memorial"
    HISTORY = "history"
    NEWS = "news"
    MEDICAL = "medical"
    EDUCATION = "education"
    ENFORCEMENT = "enforcement"


_CUES = {f"ctx.{k.value}": k for k in ContextKind}


def cue_kind(category: str) -> ContextKind | None:
    """The context kind a lexicon category (``ctx.memorial``) cues, or None."""
    return _CUES.get(category)


#: categories whose verdicts a benign context may lower by default (never minors)
DEFAULT_CATEGORIES: tuple[Category, ...] = (
    Category.VIOLENCE,
    Category.SELF_HARM,
    Category.HATE,
    Category.EXTREMISM,
    Category.ILLEGAL,
    Category.SEXUAL,
)
#: categories no context may lower
NEVER_LOWERED = frozenset({Category.MINORS})


class ContextOptions(BaseModel):
    """``options.context`` of ``prompt.lexicon``: when a benign context holds a block for review."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    #: categories a strong benign context may lower (minors is refused)
    categories: tuple[Category, ...] = DEFAULT_CATEGORIES
    #: the severity a verdict is capped at (low: review under the default policy; context: allow)
    cap: Severity = Severity.LOW
    #: verdicts resting on a term above this severity are never lowered
    max_term: Severity = Severity.HIGH
    #: cosine (USE) from which the window counts as close to a benign-context exemplar ...
    floor: float = Field(default=0.40, ge=-1.0, le=1.0)
    #: ... and how much closer to it than to every risky exemplar of the category it must be
    margin: float = Field(default=0.03, ge=0.0, le=1.0)
    #: operator context-exemplar files (category<TAB>context<TAB>text); relative to the data directory
    extra_context: tuple[Path, ...] = ()

    @field_validator("categories")
    @classmethod
    def _never_minors(cls, v: tuple[Category, ...]) -> tuple[Category, ...]:
        bad = sorted(c.value for c in v if c in NEVER_LOWERED)
        if bad:
            raise ValueError(
                f"{', '.join(bad)} cannot be lowered by a benign context (sexual content involving "
                "minors blocks in every context); remove it from options.context.categories"
            )
        return v


@dataclass(frozen=True, slots=True)
class ContextExemplar:
    category: str  # a Category value
    context: ContextKind
    text: str
    source: str  # file:line


def builtin_context_files() -> list[Path]:
    return sorted(Path(str(resources.files("safety.prompt").joinpath("data/context"))).glob("*.tsv"))


def load_context_file(path: Path) -> list[ContextExemplar]:
    """Parse a context-exemplar file; errors name the file and the line."""
    out: list[ContextExemplar] = []
    for no, raw in tsv_lines(path, "context exemplar"):
        cols = [c.strip() for c in raw.split("\t")]
        where = f"{path.name}:{no}"
        if len(cols) != 3 or not all(cols):
            raise ConfigError(f"{path}:{no}: expected 'category<TAB>context<TAB>text', got {raw!r}")
        cat = Category.parse(cols[0], f"{path}:{no}")
        if cat in NEVER_LOWERED:
            raise ConfigError(f"{path}:{no}: {cat.value} has no benign context (it is never lowered)")
        try:
            kind = ContextKind(cols[1])
        except ValueError:
            raise ConfigError(
                f"{path}:{no}: unknown context {cols[1]!r}",
                hint=f"use one of {', '.join(k.value for k in ContextKind)}",
            ) from None
        out.append(ContextExemplar(cat.value, kind, cols[2], where))
    return out


@dataclass(frozen=True, slots=True)
class ContextFinding:
    """How close one window is to the category's benign-context and risky exemplars."""

    category: str
    exemplar: ContextExemplar
    similarity: float
    risky: str  # the nearest risky exemplar of the category ("" when it has none)
    risky_similarity: float

    def strong(self, floor: float, margin: float) -> bool:
        return self.similarity >= floor and self.similarity - self.risky_similarity >= margin

    def evidence(self, cue: str) -> dict[str, Any]:
        return {
            "context": self.exemplar.context.value,
            "cue": cue,
            "exemplar": self.exemplar.text,
            "exemplar_source": self.exemplar.source,
            "similarity": round(self.similarity, 4),
            "nearest_risky": self.risky,
            "risky_similarity": round(self.risky_similarity, 4),
        }


_PREFIX = "context:"
_VECTOR_CACHE_SIZE = 2048


class ContextModel:
    """Benign-context and risky exemplars embedded once by one encoder. Thread-safe."""

    def __init__(
        self,
        encoder: SentenceEncoder,
        context: list[ContextExemplar],
        risky: list[Exemplar],
        *,
        cache_dir: Path | None,
    ) -> None:
        if not context:
            raise ConfigError("the context model has no context exemplars", hint="keep data/context/*.tsv")
        self.encoder = encoder
        self._context = {c.source: c for c in context}
        rows = [Exemplar(_PREFIX + c.category, c.text, c.source) for c in context] + list(risky)
        self._bank = ExemplarBank.build(encoder, rows, min_coverage=0.0, cache_dir=cache_dir)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def categories(self) -> set[str]:
        return {c.category for c in self._context.values()}

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def _vector(self, text: str) -> np.ndarray:
        with self._lock:
            got = self._cache.get(text)
            if got is not None:
                self._cache.move_to_end(text)
                return got
        vec = self.encoder.encode([text]).vectors[0]
        with self._lock:
            self._cache[text] = vec
            while len(self._cache) > _VECTOR_CACHE_SIZE:
                self._cache.popitem(last=False)
        return vec

    def assess(self, text: str, category: str, vector: np.ndarray | None = None) -> ContextFinding | None:
        """How close ``text`` is to ``category``'s benign contexts (None: the category has none).

        ``vector``: ``text`` already embedded by this model's encoder (the semantic check's USE path).
        """
        rows = self._bank.rows.get(_PREFIX + category)
        if rows is None or not text.strip():
            return None
        sims = self._bank.vectors @ (vector if vector is not None else self._vector(text))
        best = int(rows[int(sims[rows].argmax())])
        risky_rows = self._bank.rows.get(category)
        risky, risky_sim = "", -1.0
        if risky_rows is not None and len(risky_rows):
            r = int(risky_rows[int(sims[risky_rows].argmax())])
            risky, risky_sim = self._bank.exemplars[r].text, float(sims[r])
        ex = self._bank.exemplars[best]
        return ContextFinding(category, self._context[ex.source], float(sims[best]), risky, risky_sim)


_MODELS: dict[tuple[Any, ...], ContextModel] = {}
_MODELS_LOCK = threading.Lock()


def context_models() -> list[ContextModel]:
    """The context models built in this process (benchmarks clear their caches)."""
    with _MODELS_LOCK:
        return list(_MODELS.values())


@lru_cache(maxsize=1)
def _cue_matcher() -> TermMatcher[Term]:
    from safety.prompt.matcher import Pattern, TermMatcher
    from safety.prompt.normalize import get_normalizer
    from safety.prompt.terms import builtin_term_files, load_term_file

    cues = [t for f in builtin_term_files() for t in load_term_file(f) if cue_kind(t.category)]
    return TermMatcher([Pattern(t.text, t, t.prefix) for t in cues], [], get_normalizer())


def find_cues(text: str) -> list[tuple[ContextKind, str, int]]:
    """The benign-context cues of the built-in term lists in ``text``: (kind, text typed, start)."""
    from safety.prompt.normalize import get_normalizer

    hits = _cue_matcher().find(get_normalizer().normalize(text))
    out = []
    for h in sorted(hits, key=lambda h: h.start):
        kind = cue_kind(h.payload.category)
        if kind is not None:
            out.append((kind, h.text, h.start))
    return out


def get_context_model(cache_dir: Path | None, extra: tuple[Path, ...] = ()) -> ContextModel:
    """The process-wide context model for these files (USE loads once, about 4 s)."""
    from safety.prompt.multilingual import get_use_encoder

    stamps = tuple((str(p), p.stat().st_mtime_ns if p.exists() else -1) for p in extra)
    key = (str(cache_dir), stamps)
    with _MODELS_LOCK:
        found = _MODELS.get(key)
        if found is None:
            context = [c for f in builtin_context_files() + list(extra) for c in load_context_file(f)]
            risky = [e for f in builtin_exemplar_files() for e in load_exemplar_file(f)]
            found = _MODELS[key] = ContextModel(get_use_encoder(1), context, risky, cache_dir=cache_dir)
        return found
