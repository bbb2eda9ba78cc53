"""Exemplar prompts per category and their embeddings, computed once and cached.

Why it exists: the semantic check scores a prompt by how close it is to example prompts of each
category (and to *benign* near-misses, which discount it). Embedding a few hundred exemplars costs
seconds on two cores, so it happens once per process and encoder, and the vectors are kept on disk
under the data directory (keyed by the encoder's identity and the exemplar texts) for the next start.

Exemplar file (UTF-8, tab-separated, ``#`` comments): ``category<TAB>text``, where category is a
shared :class:`~safety.verdict.Category` value or ``benign``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from core.errors import ConfigError
from safety.prompt.encoder import SentenceEncoder
from safety.prompt.normalize import is_cjk
from safety.verdict import Category

__all__ = ["BENIGN", "Exemplar", "ExemplarBank", "builtin_exemplar_files", "load_exemplar_file"]

log = logging.getLogger(__name__)

BENIGN = "benign"


@dataclass(frozen=True, slots=True)
class Exemplar:
    category: str  # a Category value or "benign"
    text: str
    source: str  # file:line


def builtin_exemplar_files() -> list[Path]:
    return sorted(Path(str(resources.files("safety.prompt").joinpath("data/exemplars"))).glob("*.tsv"))


def tsv_lines(path: Path, what: str) -> list[tuple[int, str]]:
    """The (line number, raw line) pairs of an exemplar-style TSV file, blank and ``#`` lines left
    out; a missing or unreadable file is a ConfigError naming it (``what``: "exemplar", ...)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{what} file not found: {path}",
            hint="relative paths in options are resolved against the data directory",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} file {path}: {exc}") from exc
    out = []
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            out.append((no, raw))
    return out


def load_exemplar_file(path: Path) -> list[Exemplar]:
    out: list[Exemplar] = []
    for no, raw in tsv_lines(path, "exemplar"):
        cat, sep, body = raw.partition("\t")
        cat, body = cat.strip(), body.strip()
        if not sep or not body:
            raise ConfigError(f"{path}:{no}: expected 'category<TAB>text', got {raw!r}")
        if cat != BENIGN:
            cat = Category.parse(cat, f"{path}:{no}", besides=BENIGN).value
        out.append(Exemplar(cat, body, f"{path.name}:{no}"))
    return out


class ExemplarBank:
    """Exemplars with unit embeddings, grouped by category. Immutable after construction."""

    def __init__(
        self,
        exemplars: list[Exemplar],
        vectors: np.ndarray,
        coverage: np.ndarray,
        min_coverage: float,
        reads_chinese: bool = True,
    ) -> None:
        # an encoder that cannot read an exemplar must not compare with it
        keep = coverage >= min_coverage
        if not reads_chinese:
            keep &= np.asarray([not any(is_cjk(c) for c in e.text) for e in exemplars], dtype=bool)
        self.exemplars = [e for e, k in zip(exemplars, keep, strict=True) if k]
        self.skipped = int((~keep).sum())
        self.vectors = np.ascontiguousarray(vectors[keep], dtype=np.float32)
        groups: dict[str, list[int]] = {}
        for i, e in enumerate(self.exemplars):
            groups.setdefault(e.category, []).append(i)
        self.rows: dict[str, np.ndarray] = {k: np.asarray(v, dtype=np.int64) for k, v in groups.items()}
        if BENIGN not in self.rows:
            raise ConfigError(
                "the exemplar set has no benign exemplars the encoder can read",
                hint="add 'benign<TAB>...' lines: they keep near-misses from scoring high",
            )

    @property
    def categories(self) -> list[str]:
        return sorted(c for c in self.rows if c != BENIGN)

    @classmethod
    def build(
        cls,
        encoder: SentenceEncoder,
        exemplars: list[Exemplar],
        *,
        min_coverage: float,
        cache_dir: Path | None,
    ) -> ExemplarBank:
        if not exemplars:
            raise ConfigError(
                "the semantic check has no exemplars", hint="keep builtin: true or add extra_exemplars"
            )
        digest = hashlib.sha256(encoder.identity.encode())
        for e in exemplars:
            digest.update(f"{e.category}\t{e.text}\n".encode())
        key = digest.hexdigest()[:24]
        cached = _load_cache(cache_dir, key, len(exemplars))
        if cached is None:
            vectors, coverage = [], []
            for i in range(0, len(exemplars), 64):
                enc = encoder.encode([e.text for e in exemplars[i : i + 64]])
                vectors.append(enc.vectors)
                coverage.append(enc.coverage)
            cached = (np.concatenate(vectors), np.concatenate(coverage))
            _save_cache(cache_dir, key, *cached)
        return cls(exemplars, cached[0], cached[1], min_coverage, encoder.reads_chinese)


def _load_cache(cache_dir: Path | None, key: str, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    if cache_dir is None:
        return None
    path = cache_dir / f"exemplars-{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as data:
            vectors, coverage = data["vectors"], data["coverage"]
    except (OSError, KeyError, ValueError):
        return None
    if vectors.shape[0] != n or coverage.shape[0] != n:
        return None
    return vectors.astype(np.float32), coverage.astype(np.float32)


def _save_cache(cache_dir: Path | None, key: str, vectors: np.ndarray, coverage: np.ndarray) -> None:
    """Best effort: a read-only data directory only costs the next start a few seconds."""
    if cache_dir is None:
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, vectors=vectors, coverage=coverage)
        os.replace(tmp, cache_dir / f"exemplars-{key}.npz")
    except OSError as exc:
        log.warning("cannot cache exemplar embeddings in %s: %s", cache_dir, exc)
