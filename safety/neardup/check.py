"""The pipeline checks ``neardup.hash``, ``neardup.clip`` and ``neardup.local``: is this image a copy?

Each finding is a ``copyright`` verdict whose evidence names the index, the matched source id,
the distance (Hamming bits, or cosine distance; for local features the RANSAC inliers, the
transform and the copied region in both images), the licence and the owner, so a reviewer can see
what was copied from whom; the policy's ``copyright`` rule decides what a match means (review or
block). An image with too little detail to compare (:mod:`safety.neardup.information`) is not
matched at all: the check reports a score-0 verdict with ``decision: undecided`` and the measure.
Indexes are opened on first use and reopened when their manifest changes (an ``add`` or a
take-down), so a running gateway follows index changes without a restart.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, ClassVar

from pydantic import BaseModel

from core.errors import CheckFailed
from core.plugins import typed_options
from safety.check import CheckInput
from safety.neardup.codes import query_codes
from safety.neardup.errors import IndexNotFound
from safety.neardup.information import Information, measure
from safety.neardup.options import ClipCheckOptions, HashCheckOptions, LocalCheckOptions
from safety.neardup.query import LoadedIndex, Match
from safety.neardup.search import single_threaded
from safety.neardup.store import MANIFEST, IndexStore
from safety.verdict import Category, TargetKind, Verdict

log = logging.getLogger(__name__)

_TARGETS = frozenset({TargetKind.OUTPUT_IMAGE, TargetKind.INPUT_IMAGE})


class IndexCache:
    """Loaded indexes by name, reloaded when ``manifest.json`` is replaced. Thread-safe."""

    def __init__(self, store: IndexStore) -> None:
        self.store = store
        self._loaded: dict[str, tuple[tuple[int, int, int], LoadedIndex]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> LoadedIndex:
        try:
            st = os.stat(self.store.folder(name) / MANIFEST)
        except FileNotFoundError:
            self.store.manifest(name)  # raises IndexNotFound with the list of indexes and the fix
            raise  # pragma: no cover - manifest() raised
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._loaded.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        with self._lock:
            cached = self._loaded.get(name)
            if cached is None or cached[0] != key:
                cached = (key, LoadedIndex.open(self.store, name))
                self._loaded[name] = cached
        return cached[1]


def _undecided(item: CheckInput, check: str, info: Information) -> Verdict:
    return Verdict(
        check=check,
        category=Category.COPYRIGHT,
        score=0.0,
        target=item.target,
        reason=f"not enough detail to decide whether this image is a copy: {info.reason}",
        evidence={"decision": "undecided", "information": info.to_dict()},
    )


def _verdict(item: CheckInput, check: str, m: Match, limit: str) -> Verdict:
    if m.geometry is not None:
        g = m.geometry
        how = (
            f"{g.inliers} geometrically consistent keypoints >= {limit}; rotation {g.rotation_deg:g} deg, "
            f"scale {g.scale:g}; source region {g.source_box} seen at {g.query_box}"
        )
    elif m.similarity is not None:
        how = f"cosine similarity {m.similarity:.3f} >= {limit}"
    else:
        how = f"{m.method} distance {int(m.distance)} of 64 bits <= {limit}"
    return Verdict(
        check=check,
        category=Category.COPYRIGHT,
        score=m.score,
        target=item.target,
        reason=f"near-duplicate of {m.source_id!r} in index "
        f"{m.index!r} ({how}{', mirrored' if m.mirrored else ''})",
        evidence={
            "index": m.index,
            "source_id": m.source_id,
            "path": m.path,
            "distance": m.distance,
            "method": m.method,
            "similarity": m.similarity,
            "mirrored": m.mirrored,
            "licence": m.licence,
            "owner": m.owner,
        }
        | (
            {}
            if m.geometry is None
            else {
                "inliers": m.geometry.inliers,
                "matches": m.geometry.matches,
                "transform": m.geometry.matrix,
                "rotation_deg": m.geometry.rotation_deg,
                "scale": m.geometry.scale,
                "query_box": m.geometry.query_box,
                "source_box": m.geometry.source_box,
                "query_inlier_box": m.geometry.query_inlier_box,
                "source_inlier_box": m.geometry.source_inlier_box,
                "false_match_rate": m.false_match_rate,
            }
        ),
    )


class _IndexCheck:
    name: ClassVar[str]
    targets: ClassVar[frozenset[TargetKind]] = _TARGETS

    def __init__(self, settings: Any, *, store: IndexStore | None = None) -> None:
        self._cache = IndexCache(store or IndexStore(settings.index_dir))
        single_threaded()

    def _indexes(self, opts) -> list[LoadedIndex]:
        out = []
        for ref in opts.indexes:
            try:
                out.append(self._cache.get(ref.name))
            except IndexNotFound:
                if opts.is_required(ref):
                    raise
                log.warning("%s: optional index %r is missing; skipped", self.name, ref.name)
        return out

    def _image(self, item: CheckInput):
        if item.image is None:
            raise CheckFailed(f"{self.name} looks at images; {item.target} has none")
        return item.image

    #: the policy step's options model (``typed_options``)
    options_model: ClassVar[type[BaseModel]]

    def run(self, item: CheckInput) -> list[Verdict]:
        """What every index check does around its search: the step's indexes (none: nothing to
        say), the image, the low-information gate (too plain to compare: "undecided" if the policy
        wants it reported), then the best ``max_matches`` of :meth:`_match` as verdicts."""
        opts: Any = typed_options(item.options, self.options_model)
        indexes = self._indexes(opts)
        if not indexes:
            return []
        image = self._image(item)
        info = measure(image)
        if not self._decidable(info, opts):
            return [_undecided(item, self.name, info)] if opts.report_undecided else []
        matches = self._match(image, info, indexes, opts)
        return [_verdict(item, self.name, m, self._limit(opts)) for m in matches[: opts.max_matches]]

    def _decidable(self, info: Information, opts: Any) -> bool:  # noqa: ARG002 - hook
        return info.enough

    def _match(self, image: Any, info: Information, indexes: list[LoadedIndex], opts: Any) -> list[Match]:
        """Every match in ``indexes``, best first."""
        raise NotImplementedError

    def _limit(self, opts: Any) -> str:
        """The policy's limit the evidence quotes (radius, threshold, inliers)."""
        raise NotImplementedError


class HashCheck(_IndexCheck):
    """pHash and dHash radius search (fast gate; see :mod:`safety.neardup.codes`)."""

    name: ClassVar[str] = "neardup.hash"
    options_model: ClassVar[type[BaseModel]] = HashCheckOptions

    def warm(self, options: BaseModel | None) -> None:
        """Open the indexes a policy step names and build their search structures now (start-up).

        A large index takes seconds to load (about 25 s for 10 million codes per code type); doing
        it here keeps that out of the first request, and a missing required index fails start-up.
        """
        opts = typed_options(options, HashCheckOptions)
        for ix in self._indexes(opts):
            ix.warm(opts.codes, opts.radius)

    def _decidable(self, info: Information, opts: Any) -> bool:
        return info.enough and any(ct in info.usable_codes() for ct in opts.codes)

    def _match(self, image: Any, info: Information, indexes: list[LoadedIndex], opts: Any) -> list[Match]:
        usable = [ct for ct in opts.codes if ct in info.usable_codes()]
        codes = query_codes(image, usable, mirror=opts.mirror)
        return sorted(
            (m for ix in indexes for m in ix.match_codes(codes, opts.radius)),
            key=lambda m: (m.distance, m.index, m.source_id),
        )

    def _limit(self, opts: Any) -> str:
        return str(opts.radius)


class ClipCheck(_IndexCheck):
    """open_clip embedding threshold search (robust to crops and edits that defeat the hashes)."""

    name: ClassVar[str] = "neardup.clip"
    options_model: ClassVar[type[BaseModel]] = ClipCheckOptions

    def __init__(self, settings: Any, *, store: IndexStore | None = None) -> None:
        super().__init__(settings, store=store)
        self._embedders: dict[str, Any] = {}
        self._emb_lock = threading.Lock()

    def _embedder(self, folder: str):
        from safety.neardup.embed import load_embedder

        e = self._embedders.get(folder)
        if e is None:
            with self._emb_lock:
                e = self._embedders.get(folder)
                if e is None:
                    e = self._embedders[folder] = load_embedder(folder)
        return e

    def warm(self, options: BaseModel | None) -> None:
        """Open the indexes and load the model a policy step names (start-up; see :meth:`HashCheck.warm`)."""
        opts = typed_options(options, ClipCheckOptions)
        for ix in self._indexes(opts):
            emb = self._embedder(self._model_dir(ix, opts))
            ix.check_embedder(emb)
            ix.vectors()

    @staticmethod
    def _model_dir(ix: LoadedIndex, opts: ClipCheckOptions) -> str:
        folder = opts.model or (ix.manifest.embedding.model_dir if ix.manifest.embedding else None)
        if folder is None:
            ix.data.embeddings()  # raises: this index holds no embeddings
            raise AssertionError("unreachable")  # pragma: no cover
        return folder

    def _match(self, image: Any, info: Information, indexes: list[LoadedIndex], opts: Any) -> list[Match]:
        from PIL import ImageOps

        views = [image, ImageOps.mirror(image)] if opts.mirror else [image]
        queries: dict[str, Any] = {}
        matches: list[Match] = []
        for ix in indexes:
            emb = self._embedder(self._model_dir(ix, opts))
            ix.check_embedder(emb)
            if emb.digest not in queries:
                queries[emb.digest] = emb.embed(views)
            matches.extend(ix.match_embeddings(queries[emb.digest], opts.threshold))
        return sorted(matches, key=lambda m: (m.distance, m.index, m.source_id))

    def _limit(self, opts: Any) -> str:
        return f"{opts.threshold:g}"


class LocalCheck(_IndexCheck):
    """ORB local features, LSH candidates, RANSAC verification (crops, rotations, overlays, paste-ins)."""

    name: ClassVar[str] = "neardup.local"
    options_model: ClassVar[type[BaseModel]] = LocalCheckOptions

    def warm(self, options: BaseModel | None) -> None:
        """Open the indexes, map their candidate tables and read them into the page cache (start-up)."""
        from safety.neardup.local import InvertedTables

        opts = typed_options(options, LocalCheckOptions)
        for ix in self._indexes(opts):
            tables = ix.local_tables()
            if isinstance(tables, InvertedTables):  # format 3+ (format 2's are read as queries go)
                tables.prefault()

    def _match(self, image: Any, info: Information, indexes: list[LoadedIndex], opts: Any) -> list[Match]:
        from safety.neardup.local import extract

        views: dict[str, list] = {}
        matches: list[Match] = []
        for ix in indexes:
            ix.local_tables()  # raises for an index without local features
            spec = ix.manifest.local
            key = spec.model_dump_json(include={"work_side", "grid", "fast_threshold"})
            if key not in views:
                views[key] = extract(
                    image, spec, opts.keypoints, mirror=opts.mirror, coarse=opts.coarse_keypoints
                )
            matches.extend(
                ix.match_local(
                    views[key], image.size, candidates=opts.candidates, min_inliers=opts.min_inliers
                )
            )
        return sorted(matches, key=lambda m: (-m.distance, m.index, m.source_id))

    def _limit(self, opts: Any) -> str:
        return str(opts.min_inliers)


def hash_check(settings: Any) -> HashCheck:
    return HashCheck(settings)


def clip_check(settings: Any) -> ClipCheck:
    return ClipCheck(settings)


def local_check(settings: Any) -> LocalCheck:
    return LocalCheck(settings)


__all__ = ["ClipCheck", "HashCheck", "IndexCache", "LocalCheck", "clip_check", "hash_check", "local_check"]


def describe(v: Verdict) -> str:
    """One line a person reads: which indexed work, in which index, how close (``Entry.describe``)."""
    ev = v.evidence
    if "source_id" not in ev:  # e.g. neardup.local's "undecided" on an image too plain to compare
        return f"{v.check}: {v.category.value} {v.score:.2f}" + (f" — {v.reason}" if v.reason else "")
    close = (
        f"similarity {ev['similarity']:.3f}"
        if isinstance(ev.get("similarity"), (int, float))
        else f"{ev.get('method')} distance {ev.get('distance')}"
    )
    mirrored = ", mirrored" if ev.get("mirrored") else ""
    return (
        f"{v.check}: {v.category.value} {v.score:.2f} — near-duplicate of {ev.get('source_id')!r} "
        f"in index {ev.get('index')!r} ({close}{mirrored})"
    )
