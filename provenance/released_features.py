"""Finding a released image again by its local features, when its marks are gone.

Why it exists: a repost of a released image is often cropped, captioned, mirrored and blurred or
recompressed until the watermark no longer reads and the pHash no longer agrees, and its metadata
is stripped. What still survives is the image's own detail: ORB keypoints, matched and checked by a
geometric transform (RANSAC), the same detector ``neardup.local`` runs against training-data and
protected-work indexes (:mod:`safety.neardup.local`). Each released image gets

- one :class:`~provenance.tables.ReleasedFeatures` row: its keypoints (positions, orientations,
  descriptors) at the detector's work size, and
- its distinct LSH bucket keys as :class:`~provenance.tables.ReleasedFeatureKey` rows (an inverted
  index in the database, shared by every replica like the pHash bands),

written with the generation's record in one transaction (:mod:`gateway.release`). A lookup hashes
the query's keypoints (and its mirror image's) into the same buckets, takes the released images
with the most shared buckets as candidates (one indexed query), and verifies each candidate's
keypoints geometrically; a match reports its inlier count, the matched regions and the estimated
chance that an unrelated image gets as many inliers.

Scale, measured figures in ``benchmarks/neardup_local.py`` for the file indexes: with 20-bit keys
and 4 tables a released image adds ~1,000 key rows (~40 kB in PostgreSQL with its index) and
~12 kB of features; at 10^5 released images a bucket holds ~100 keys, so a query reads ~10^5 index
entries. Beyond 10^6 released images shard the table by time or move the lookup to a file index
(``assay index``); the setting ``ASSAY_RELEASED_FEATURES`` turns the recording off.

Imports: ``core``, ``safety.neardup.local`` (the detector) and ``provenance.tables``; used by
``gateway.release`` (writes) and :mod:`provenance.verify` (reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import func
from sqlmodel import Session, select

from core.store import TableRows
from provenance.tables import ReleasedFeatureKey, ReleasedFeatures, ReleasedImage

#: what the stored features are; rows of another scheme are not compared with a query
SCHEME = "orb-lsh-1"
#: keypoints kept per released image (and taken from a query)
KEYPOINTS = 256
QUERY_KEYPOINTS = 800
LSH_TABLES = 4
LSH_BITS = 20
LSH_SEED = 20261202
#: released images verified per query, most shared buckets first. Shared buckets alone rank a
#: blurred, cropped repost's own image first only about half the time (ORB's bits are not fair
#: coins, so unrelated images share buckets too), but among the first few dozen nearly always;
#: each verification costs ~2 ms
CANDIDATES = 32
#: fewest shared buckets that make a candidate
MIN_VOTES = 3
#: fewest RANSAC inliers reported as a match (the chance model of safety.neardup.local puts an
#: unrelated candidate at 12 inliers near 3e-4; see false_match_rate)
MIN_INLIERS = 12


@lru_cache(maxsize=1)
def _spec() -> Any:
    from safety.neardup.local import default_spec

    return default_spec()


@lru_cache(maxsize=1)
def _positions() -> list[list[int]]:
    from safety.neardup.local import lsh_positions

    return lsh_positions(LSH_TABLES, LSH_BITS, LSH_SEED)


def _keys(desc: np.ndarray) -> np.ndarray:
    """Every keypoint's bucket in every table, as ``table << 24 | key`` (int64, distinct, sorted)."""
    from safety.neardup.local import lsh_keys

    if not len(desc):
        return np.zeros(0, dtype=np.int64)
    unpacked = np.unpackbits(np.ascontiguousarray(desc, np.uint8), axis=1)
    parts = [
        (np.int64(t) << 24) | lsh_keys(desc, pos, unpacked=unpacked).astype(np.int64)
        for t, pos in enumerate(_positions())
    ]
    return np.unique(np.concatenate(parts))


def feature_rows(content_id: str, record_id: str, image: Image.Image) -> list[Any]:
    """The features row and the key rows (one :class:`~core.store.TableRows`) of one released
    image, not yet stored (a ledger append's ``with_rows``, or :func:`core.store.add_rows`); [] for
    an image too plain to have keypoints (it cannot be found this way, and should match nothing)."""
    from safety.neardup.local import encode_pts, extract

    view = extract(image.convert("RGB"), _spec(), KEYPOINTS)[0]
    if view.count < 8:
        return []
    row = ReleasedFeatures(
        content_id=content_id,
        record_id=record_id,
        scheme=SCHEME,
        work_w=view.size[0],
        work_h=view.size[1],
        scale=float(view.scale),
        width=image.width,
        height=image.height,
        count=view.count,
        pts=encode_pts(view.pts).tobytes(),
        ang=view.ang.tobytes(),
        desc=view.desc.tobytes(),
    )
    keys = TableRows(
        ReleasedFeatureKey, [{"key": k, "content_id": content_id} for k in _keys(view.desc).tolist()]
    )
    return [row, keys]


@dataclass(frozen=True)
class FeatureMatch:
    """A released image whose keypoints the query shares, geometrically verified."""

    row: ReleasedImage
    inliers: int
    false_match_rate: float
    mirrored: bool
    rotation_deg: float
    scale: float
    #: [x, y, w, h]: the part of the query the released image covers, and the part it shows of it
    query_box: list[int]
    source_box: list[int]


def _candidates(session: Session, ids: list[str]) -> dict[str, tuple[ReleasedFeatures, ReleasedImage]]:
    """The features and release rows of the candidates of this scheme, in one query."""
    if not ids:
        return {}
    stmt = (
        select(ReleasedFeatures, ReleasedImage)
        .join(ReleasedImage, ReleasedImage.content_id == ReleasedFeatures.content_id)  # type: ignore[arg-type]
        .where(ReleasedFeatures.content_id.in_(ids), ReleasedFeatures.scheme == SCHEME)  # type: ignore[attr-defined]
    )
    return {f.content_id: (f, r) for f, r in session.exec(stmt)}


def find_by_features(
    session: Session, image: Image.Image, *, min_inliers: int = MIN_INLIERS, limit: int = 5
) -> list[FeatureMatch]:
    """Released images the query is a (cropped, mirrored, rotated, captioned...) copy of, most
    inliers first. Raises nothing for a plain image: it simply has no keypoints to match."""
    from safety.neardup.local import decode_pts, extract, false_match_rate, verify

    views = extract(image.convert("RGB"), _spec(), QUERY_KEYPOINTS, mirror=True)
    votes: dict[str, tuple[int, int]] = {}  # content id -> (votes, view)
    for v, view in enumerate(views):
        keys = _keys(view.desc).tolist()
        if not keys:
            continue
        stmt = (
            select(ReleasedFeatureKey.content_id, func.count())
            .where(ReleasedFeatureKey.key.in_(keys))  # type: ignore[attr-defined]
            .group_by(ReleasedFeatureKey.content_id)
            .order_by(func.count().desc())
            .limit(CANDIDATES)
        )
        for cid, n in session.exec(stmt):
            if n >= MIN_VOTES and n > votes.get(cid, (0, 0))[0]:
                votes[cid] = (int(n), v)
    best = sorted(votes.items(), key=lambda kv: (-kv[1][0], kv[0]))[:CANDIDATES]
    stored = _candidates(session, [cid for cid, _ in best])
    out: list[FeatureMatch] = []
    for cid, (_, v) in best:
        if cid not in stored:
            continue
        feats, release = stored[cid]
        pts = decode_pts(np.frombuffer(feats.pts, dtype=np.uint16).reshape(-1, 2))
        desc = np.frombuffer(feats.desc, dtype=np.uint8).reshape(-1, 32)
        # the other view too: the vote picks the likelier orientation, RANSAC decides
        for view in sorted(views, key=lambda f: f is not views[v]):
            g = verify(
                view,
                pts,
                desc,
                (float(feats.work_w), float(feats.work_h)),
                float(feats.scale),
                image.size,
                (feats.width, feats.height),
            )
            if g is not None and g.inliers >= min_inliers:
                out.append(
                    FeatureMatch(
                        row=release,
                        inliers=g.inliers,
                        false_match_rate=false_match_rate(g.inliers),
                        mirrored=g.mirrored,
                        rotation_deg=g.rotation_deg,
                        scale=g.scale,
                        query_box=g.query_box,
                        source_box=g.source_box,
                    )
                )
                break
    out.sort(key=lambda m: (-m.inliers, m.row.created_at))
    return out[:limit]
