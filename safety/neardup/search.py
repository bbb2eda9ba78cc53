"""Exact radius search over 64-bit codes and over unit embeddings, with FAISS. The one FAISS boundary.

Hamming search uses ``IndexBinaryMultiHash`` (multi-index hashing) where it is exact and
``IndexBinaryFlat`` otherwise. MIH cuts each code into ``nhash`` substrings of ``b`` bits and, per
substring, probes every bucket within ``nflip`` flipped bits. By the pigeonhole principle a code
within Hamming distance ``r`` of the query has some substring within ``floor(r / nhash)`` of the
query's, so the search is exact for ``r <= nhash * (nflip + 1) - 1``: with (3, 21, 2) that is
``r <= 8`` (the 64th bit lies outside the substrings, which only loosens the bound). Measured here
at 10 million codes: MIH ~1-2 ms per query, the flat scan ~5 ms, a numpy popcount scan ~18 ms
(see ``benchmarks/neardup.py``); other (nhash, b) choices were slower than the flat scan.

FAISS's ``range_search`` keeps ``distance < radius`` on binary indexes, so ``radius + 1`` is passed
for ``distance <= radius``; on inner-product indexes it keeps ``similarity > radius``, so the
threshold is nudged down one float step for ``similarity >= threshold``.

FAISS parallelises each call with OpenMP; a gateway serves many requests at once, and on a loaded
machine an OpenMP team per query made single queries 10x slower here, so callers that serve
requests set ``faiss.omp_set_num_threads(1)`` (see :func:`single_threaded`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gateway.errors import CheckFailed, InvalidRequest
from safety.neardup.codes import CODE_BITS, CODE_BYTES, MAX_RADIUS

MIH_NHASH = 3
MIH_BITS = 21
MIH_NFLIP = 2
#: the largest radius the multi-hash index answers exactly
MIH_EXACT_RADIUS = MIH_NHASH * (MIH_NFLIP + 1) - 1

try:
    import faiss
except ImportError as exc:  # pragma: no cover - faiss-cpu is a dependency
    raise ImportError("faiss-cpu is required for near-duplicate search: pip install faiss-cpu") from exc


def single_threaded() -> None:
    """One OpenMP thread per FAISS call: parallelism comes from concurrent requests, not within one."""
    faiss.omp_set_num_threads(1)


@dataclass(frozen=True)
class Hit:
    row: int
    distance: float  # Hamming bits, or cosine similarity for embeddings


def _hits(lims: np.ndarray, dist: np.ndarray, ids: np.ndarray, nq: int) -> list[list[Hit]]:
    out = []
    for q in range(nq):
        a, b = int(lims[q]), int(lims[q + 1])
        out.append([Hit(int(i), float(d)) for i, d in zip(ids[a:b], dist[a:b])])
    return out


class HammingSearcher:
    """Exact Hamming radius search over ``(n, 8)`` uint8 codes. Thread-safe for concurrent searches.

    ``max_radius`` picks the structure: ``<= MIH_EXACT_RADIUS`` builds the multi-hash index
    (about 90 bytes per code beyond the codes; ~25 s for 10 million codes on 2 cores), larger builds
    the flat index. A search with a larger radius than the structure answers exactly is refused.
    """

    def __init__(self, codes: np.ndarray, *, max_radius: int = MIH_EXACT_RADIUS) -> None:
        if not 0 <= max_radius <= MAX_RADIUS:
            raise InvalidRequest(f"radius {max_radius} is outside 0..{MAX_RADIUS}", param="radius")
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        if codes.ndim != 2 or codes.shape[1] != CODE_BYTES:
            raise InvalidRequest(f"codes must have shape (n, {CODE_BYTES}), got {codes.shape}")
        self.count = int(codes.shape[0])
        self.max_radius = max_radius
        self.kind = "multihash" if max_radius <= MIH_EXACT_RADIUS else "flat"
        try:
            if self.kind == "multihash":
                index = faiss.IndexBinaryMultiHash(CODE_BITS, MIH_NHASH, MIH_BITS)
                index.nflip = MIH_NFLIP
            else:
                index = faiss.IndexBinaryFlat(CODE_BITS)
            if self.count:
                index.add(codes)
        except (RuntimeError, MemoryError) as exc:
            raise CheckFailed(f"building the {self.kind} Hamming index of {self.count} codes failed: {exc}") from exc
        self._index = index

    def search(self, queries: np.ndarray, radius: int) -> list[list[Hit]]:
        """For each query code, the rows within ``radius`` bits (inclusive), nearest first."""
        if not 0 <= radius <= self.max_radius:
            raise InvalidRequest(
                f"radius {radius} is outside what this index answers exactly (0..{self.max_radius})", param="radius")
        q = np.ascontiguousarray(queries, dtype=np.uint8).reshape(-1, CODE_BYTES)
        if not self.count:
            return [[] for _ in range(len(q))]
        try:
            lims, dist, ids = self._index.range_search(q, radius + 1)
        except RuntimeError as exc:
            raise CheckFailed(f"Hamming range search failed: {exc}") from exc
        return [sorted(h, key=lambda x: (x.distance, x.row)) for h in _hits(lims, dist, ids, len(q))]


class VectorSearcher:
    """Exact inner-product (cosine, for unit rows) threshold search over float32 embeddings."""

    def __init__(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise InvalidRequest(f"embeddings must be 2-d, got shape {vectors.shape}")
        self.count, self.dim = (int(x) for x in vectors.shape)
        try:
            self._index = faiss.IndexFlatIP(self.dim)
            if self.count:
                self._index.add(vectors)
        except (RuntimeError, MemoryError) as exc:
            raise CheckFailed(f"building the embedding index of {self.count} rows failed: {exc}") from exc

    def search(self, queries: np.ndarray, threshold: float) -> list[list[Hit]]:
        """For each query, the rows with cosine similarity ``>= threshold``, most similar first."""
        q = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        if not self.count:
            return [[] for _ in range(len(q))]
        radius = float(np.nextafter(np.float32(threshold), np.float32(-2.0)))
        try:
            lims, sims, ids = self._index.range_search(q, radius)
        except RuntimeError as exc:
            raise CheckFailed(f"embedding range search failed: {exc}") from exc
        return [sorted(h, key=lambda x: (-x.distance, x.row)) for h in _hits(lims, sims, ids, len(q))]
