"""Exact radius search over 64-bit codes and over unit embeddings. The one FAISS boundary.

Hamming search up to radius 8 uses Assay's own multi-index hash (:class:`MultiIndexHash`, numpy);
larger radii use FAISS ``IndexBinaryFlat``. Multi-index hashing (Norouzi et al., 2012) cuts each
64-bit code into ``MIH_NHASH`` = 3 substrings of 21, 21 and 22 bits. By the pigeonhole principle a
code within Hamming distance ``r`` of the query has some substring within ``floor(r / 3)`` bits of
the query's, so probing, per substring, every bucket within ``floor(r / 3)`` flipped bits and
checking the full distance of what they hold is exact: for ``r = 8``, 232 + 232 + 254 buckets and
about 3,300 candidate codes per query at 10 million codes. Each substring table is direct-addressed
(an offsets array of ``2^bits + 1`` entries) over the codes sorted by that substring, so a probe is
two array reads and a bucket's codes are contiguous; a query is a dozen vectorised numpy calls.

Why not FAISS ``IndexBinaryMultiHash``: with the same (3, 21, 2) layout it measured 3.1 ms CPU per
query at 10 million codes against 5.4 ms for ``IndexBinaryFlat`` on this 2-core machine (1.7x; its
buckets are hash maps probed one by one), took 48 s to build and 912 MB beyond the codes. This
structure builds in a few seconds, holds 12 bytes of row ids + 24 bytes of sorted codes per code
and answers in well under a millisecond (``benchmarks/neardup.py`` prints all three side by side).

FAISS's ``range_search`` keeps ``distance < radius`` on binary indexes, so ``radius + 1`` is passed
for ``distance <= radius``; on inner-product indexes it keeps ``similarity > radius``, so the
threshold is nudged down one float step for ``similarity >= threshold``.

FAISS parallelises each call with OpenMP; a gateway serves many requests at once, and on a loaded
machine an OpenMP team per query made single queries 10x slower here, so callers that serve
requests set ``faiss.omp_set_num_threads(1)`` (see :func:`single_threaded`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from core.errors import CheckFailed, InvalidRequest
from safety.neardup.codes import CODE_BITS, CODE_BYTES, MAX_RADIUS

MIH_NHASH = 3
#: substring widths; together they cover all 64 bits
MIH_WIDTHS = (21, 21, 22)
#: flipped bits probed per substring at most
MIH_NFLIP = 2
#: the largest radius the multi-hash index answers exactly (pigeonhole over three substrings)
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
        out.append([Hit(int(i), float(d)) for i, d in zip(ids[a:b], dist[a:b], strict=True)])
    return out


def _flip_masks(width: int, nflip: int) -> list[np.ndarray]:
    """``out[k]``: every ``width``-bit mask with at most ``k`` bits set, fewest bits first."""
    masks = [0]
    out = [np.array(masks, dtype=np.int64)]
    for k in range(1, nflip + 1):
        masks += [sum(1 << b for b in bits) for bits in itertools.combinations(range(width), k)]
        out.append(np.array(masks, dtype=np.int64))
    return out


class MultiIndexHash:
    """Exact Hamming radius search (radius <= ``MIH_EXACT_RADIUS``) over 64-bit codes, in numpy.

    Holds, per substring, the codes sorted by that substring (``uint64``), their row numbers and a
    direct-addressed bucket offsets array. Read-only after construction, so concurrent searches
    need no lock.
    """

    def __init__(self, codes64: np.ndarray) -> None:
        n = int(codes64.shape[0])
        row_t = np.int32 if n < 2**31 else np.int64
        self.count = n
        shifts = np.cumsum((0,) + MIH_WIDTHS[:-1])
        self._shifts = [int(x) for x in shifts]
        self._masks = [(1 << w) - 1 for w in MIH_WIDTHS]
        self._flips = [_flip_masks(w, MIH_NFLIP) for w in MIH_WIDTHS]
        # one concatenated layout: table t's buckets start at _base[t] in offsets, its codes at t * n
        sizes = [(1 << w) + 1 for w in MIH_WIDTHS]
        self._base = [int(x) for x in np.cumsum([0] + sizes[:-1])]
        self._offsets = np.empty(sum(sizes), dtype=np.int64)
        self._codes = np.empty(n * MIH_NHASH, dtype=np.uint64)
        self._rows = np.empty(n * MIH_NHASH, dtype=row_t)
        for t, (shift, mask) in enumerate(zip(self._shifts, self._masks, strict=True)):
            keys = ((codes64 >> np.uint64(shift)) & np.uint64(mask)).astype(np.int64)
            order = np.argsort(keys, kind="stable")
            counts = np.bincount(keys, minlength=mask + 1)
            off = self._offsets[self._base[t] : self._base[t] + mask + 2]
            off[0] = t * n
            np.cumsum(counts, out=off[1:])
            off[1:] += t * n
            self._codes[t * n : (t + 1) * n] = codes64[order]
            self._rows[t * n : (t + 1) * n] = order
            del keys, order, counts

    @property
    def nbytes(self) -> int:
        return int(self._offsets.nbytes + self._codes.nbytes + self._rows.nbytes)

    def search_one(self, query: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows within ``radius`` of ``query`` (a 64-bit int) and their distances, unordered."""
        nflip = radius // MIH_NHASH
        probes = [
            self._base[t] + ((query >> shift) & mask ^ self._flips[t][nflip])
            for t, (shift, mask) in enumerate(zip(self._shifts, self._masks, strict=True))
        ]
        p = np.concatenate(probes)
        starts, ends = self._offsets[p], self._offsets[p + 1]
        lens = ends - starts
        total = int(lens.sum())
        if not total:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        nonzero = lens > 0
        starts, lens = starts[nonzero], lens[nonzero]
        # indices of every candidate: each bucket's range, concatenated
        idx = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(total)
        dist = np.bitwise_count(self._codes[idx] ^ np.uint64(query))
        keep = dist <= radius
        rows, dist = self._rows[idx[keep]].astype(np.int64), dist[keep].astype(np.int64)
        if len(rows) > 1:  # a code near the query in several substrings is found once per table
            rows, first = np.unique(rows, return_index=True)
            dist = dist[first]
        return rows, dist


class HammingSearcher:
    """Exact Hamming radius search over ``(n, 8)`` uint8 codes. Thread-safe for concurrent searches.

    ``max_radius`` picks the structure: ``<= MIH_EXACT_RADIUS`` builds :class:`MultiIndexHash`
    (36 bytes per code beyond the codes; a few seconds for 10 million codes), larger builds FAISS's
    flat index. A search with a larger radius than the structure answers exactly is refused.
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
        self._index: MultiIndexHash | faiss.IndexBinaryFlat
        try:
            if self.kind == "multihash":
                self._index = MultiIndexHash(codes.view("<u8").reshape(-1))
            else:
                flat = faiss.IndexBinaryFlat(CODE_BITS)
                if self.count:
                    flat.add(codes)
                self._index = flat
        except (RuntimeError, MemoryError) as exc:
            raise CheckFailed(
                f"building the {self.kind} Hamming index of {self.count} codes failed: {exc}"
            ) from exc

    def search(self, queries: np.ndarray, radius: int) -> list[list[Hit]]:
        """For each query code, the rows within ``radius`` bits (inclusive), nearest first."""
        if not 0 <= radius <= self.max_radius:
            raise InvalidRequest(
                f"radius {radius} is outside what this index answers exactly (0..{self.max_radius})",
                param="radius",
            )
        q = np.ascontiguousarray(queries, dtype=np.uint8).reshape(-1, CODE_BYTES)
        if not self.count:
            return [[] for _ in range(len(q))]
        if isinstance(self._index, MultiIndexHash):
            out = []
            for code in q.view("<u8").reshape(-1).tolist():
                rows, dist = self._index.search_one(int(code), radius)
                out.append(
                    sorted(
                        (Hit(int(r), float(d)) for r, d in zip(rows.tolist(), dist.tolist(), strict=True)),
                        key=lambda x: (x.distance, x.row),
                    )
                )
            return out
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
