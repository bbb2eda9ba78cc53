"""A loaded index and the questions asked of it: which indexed works does this image (or code) copy?

:class:`LoadedIndex` wraps one memory-mapped generation with its search structures, built on first
use and kept (a multi-hash index for each code type; a flat one only if a radius above the
multi-hash's exact range is asked for; an inner-product index for embeddings; the memory-mapped
candidate tables of the local features). Results are :class:`Match` records with the row's source
id, licence and owner, one per indexed work (the closest of its codes, original or mirrored view);
local-feature matches also carry the verified :class:`~safety.neardup.local.Geometry`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from safety.neardup.codes import CODE_BITS, MAX_RADIUS, CodeType, query_codes
from safety.neardup.errors import CodeTypeMismatch
from safety.neardup.search import MIH_EXACT_RADIUS, HammingSearcher, VectorSearcher
from safety.neardup.store import IndexData, IndexStore

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from safety.neardup.embed import Embedder
    from safety.neardup.local import Features, Geometry, InvertedTables, LocalTables


@dataclass(frozen=True)
class Match:
    """One indexed work an image resembles."""

    index: str
    row: int
    source_id: str
    path: str | None
    licence: str | None
    owner: str | None
    method: str  # phash | dhash | clip
    #: Hamming distance in bits for hashes; cosine distance (1 - similarity) for embeddings
    distance: float
    #: cosine similarity for embeddings, None for hashes
    similarity: float | None
    mirrored: bool  # the match was found for the mirrored query image
    #: local features: the verified transform and regions (None for hashes and embeddings)
    geometry: Geometry | None = None
    #: local features: estimated chance of a match this strong between unrelated images
    false_match_rate: float | None = None

    @property
    def score(self) -> float:
        """0..1 for a verdict: the share of equal bits, or the cosine similarity."""
        if self.false_match_rate is not None:
            return float(min(1.0, max(0.0, 1.0 - self.false_match_rate)))
        if self.similarity is not None:
            return float(min(1.0, max(0.0, self.similarity)))
        return 1.0 - self.distance / CODE_BITS

    def to_dict(self) -> dict:
        from dataclasses import asdict

        extra = {}
        if self.geometry is not None:
            extra = {"geometry": asdict(self.geometry), "false_match_rate": self.false_match_rate}
        return extra | {
            "index": self.index,
            "source_id": self.source_id,
            "path": self.path,
            "licence": self.licence,
            "owner": self.owner,
            "method": self.method,
            "distance": self.distance,
            "similarity": self.similarity,
            "mirrored": self.mirrored,
        }


def _best_per_row(matches: list[Match]) -> list[Match]:
    best: dict[int, Match] = {}
    for m in matches:
        cur = best.get(m.row)
        if cur is None or (m.distance, m.mirrored) < (cur.distance, cur.mirrored):
            best[m.row] = m
    return sorted(best.values(), key=lambda m: (m.distance, m.source_id))


class LoadedIndex:
    """One index generation ready for queries. Thread-safe; search structures are built once."""

    def __init__(self, data: IndexData) -> None:
        self.data = data
        self._hamming: dict[tuple[CodeType, str], HammingSearcher] = {}
        self._vectors: VectorSearcher | None = None
        self._tables: LocalTables | InvertedTables | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, store: IndexStore, name: str, *, verify: bool = True) -> LoadedIndex:
        return cls(store.open(name, verify=verify))

    @property
    def name(self) -> str:
        return self.data.name

    @property
    def manifest(self):
        return self.data.manifest

    def hamming(self, code_type: CodeType, radius: int) -> HammingSearcher:
        """The searcher that answers ``radius`` exactly for ``code_type`` (built on first use)."""
        codes = self.data.codes(code_type)  # raises CodeTypeMismatch for a type the index lacks
        kind = "multihash" if radius <= MIH_EXACT_RADIUS else "flat"
        key = (code_type, kind)
        s = self._hamming.get(key)
        if s is None:
            with self._lock:
                s = self._hamming.get(key)
                if s is None:
                    s = HammingSearcher(
                        codes, max_radius=MIH_EXACT_RADIUS if kind == "multihash" else MAX_RADIUS
                    )
                    self._hamming[key] = s
        return s

    def warm(self, code_types: Sequence[CodeType], radius: int) -> None:
        """Build the search structures now (start-up) rather than on the first query."""
        for ct in code_types:
            self.hamming(ct, radius)

    def vectors(self) -> VectorSearcher:
        if self._vectors is None:
            with self._lock:
                if self._vectors is None:
                    self._vectors = VectorSearcher(self.data.embeddings())
        return self._vectors

    def local_tables(self) -> LocalTables | InvertedTables:
        """The local-feature candidate stage (memory-mapped; checks the feature spec on first use).

        Format 3 and 4 indexes hold an inverted file (:class:`~safety.neardup.local.InvertedTables`;
        format 4 without its stop-word buckets); format 2 ones the tables of keypoint ids.
        """
        if self._tables is None:
            from safety.neardup.local import LOCAL_SPEC, InvertedTables, LocalTables

            d = self.data
            off = d.local("local.lsh_off")  # raises: no local features
            spec = self.manifest.local
            if spec.spec != LOCAL_SPEC:
                raise CodeTypeMismatch(
                    f"index {self.name!r} holds local features computed otherwise ({spec.spec!r}); "
                    f"this gateway computes {LOCAL_SPEC!r}",
                    hint=f"rebuild it: assay index build --replace --name {self.name} SOURCE",
                )
            with self._lock:
                if self._tables is None:
                    if self.manifest.format >= 3:
                        fmt4 = self.manifest.format >= 4
                        self._tables = InvertedTables(
                            d.local("local.lsh_post"),
                            d.local("local.lsh_sig"),
                            off,
                            spec.lsh_positions,
                            spec.sig_positions,
                            d.count,
                            postings=spec.lsh_postings if fmt4 else None,
                            stop=spec.lsh_stop if fmt4 else 0,
                        )
                    else:
                        self._tables = LocalTables(
                            d.local("local.lsh_ids"),
                            off,
                            spec.lsh_positions,
                            d.local("local.kpoff"),
                            d.local("local.ang"),
                        )
        return self._tables

    def match_local(
        self,
        views: list[Features],
        query_size: tuple[int, int],
        *,
        candidates: int = 12,
        min_inliers: int = 12,
    ) -> list[Match]:
        """Verified local-feature matches for the query's feature views (see :mod:`safety.neardup.local`).

        ``distance`` of a local match is its inlier count (more is closer); most inliers first.
        """
        from safety.neardup.local import decode_pts, false_match_rate, verify

        tables = self.local_tables()
        d = self.data
        kpoff = d.local("local.kpoff")
        best: dict[int, Geometry] = {}
        for c in tables.candidates(views, candidates):
            a, b = int(kpoff[c.row]), int(kpoff[c.row + 1])
            frame = d.local("local.frame")[c.row]
            g = verify(
                views[c.view],
                decode_pts(np.asarray(d.local("local.pts")[a:b])),
                np.asarray(d.local("local.desc")[a:b]),
                (float(frame[0]), float(frame[1])),
                float(frame[2]),
                query_size,
                (int(frame[3]), int(frame[4])),
            )
            if g is not None and g.inliers >= min_inliers:
                if c.row not in best or g.inliers > best[c.row].inliers:
                    best[c.row] = g
        out = []
        for row, g in best.items():
            e = d.entry(row)
            out.append(
                Match(
                    self.name,
                    row,
                    e.id,
                    e.path,
                    e.licence,
                    e.owner,
                    "local",
                    float(g.inliers),
                    None,
                    g.mirrored,
                    g,
                    false_match_rate(g.inliers),
                )
            )
        return sorted(out, key=lambda m: (-m.distance, m.source_id))

    # --- queries -------------------------------------------------------------------------------
    def match_codes(self, queries: dict[CodeType, np.ndarray], radius: int) -> list[Match]:
        """Matches for query codes per type; row 1 of each array, if present, is the mirrored view."""
        out = []
        for ct, q in queries.items():
            hits = self.hamming(ct, radius).search(q, radius)
            for view, hs in enumerate(hits):
                for h in hs:
                    out.append(self._match(h.row, ct.value, h.distance, None, view == 1))
        return _best_per_row(out)

    def match_image(
        self,
        image: Image.Image,
        *,
        code_types: Sequence[CodeType] | None = None,
        radius: int = 8,
        mirror: bool = True,
    ) -> list[Match]:
        cts = list(code_types) if code_types else list(self.manifest.code_types)
        return self.match_codes(query_codes(image, cts, mirror=mirror), radius)

    def check_embedder(self, embedder: Embedder) -> None:
        spec = self.manifest.embedding
        if spec is None:
            self.data.embeddings()  # raises the "no embeddings" error
        elif spec.model_digest != embedder.digest:
            raise CodeTypeMismatch(
                f"index {self.name!r} holds embeddings of model {spec.model_digest} ({spec.model_dir}); "
                f"the model in {embedder.folder} is {embedder.digest}",
                hint="use the model the index was built with, or rebuild the index with this model",
            )

    def match_embeddings(self, queries: np.ndarray, threshold: float) -> list[Match]:
        """Matches for unit query embeddings; row 1, if present, is the mirrored view."""
        out = []
        for view, hs in enumerate(self.vectors().search(queries, threshold)):
            for h in hs:
                out.append(self._match(h.row, "clip", 1.0 - h.distance, h.distance, view == 1))
        return _best_per_row(out)

    def match_image_embedding(
        self, image: Image.Image, embedder: Embedder, *, threshold: float, mirror: bool = True
    ) -> list[Match]:
        from PIL import ImageOps

        self.check_embedder(embedder)
        views = [image, ImageOps.mirror(image)] if mirror else [image]
        return self.match_embeddings(embedder.embed(views), threshold)

    def _match(
        self, row: int, method: str, distance: float, similarity: float | None, mirrored: bool
    ) -> Match:
        e = self.data.entry(row)
        return Match(
            self.name,
            row,
            e.id,
            e.path,
            e.licence,
            e.owner,
            method,
            float(distance) if similarity is not None else int(distance),
            similarity,
            mirrored,
        )
