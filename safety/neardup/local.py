"""Local-feature copy detection: ORB keypoints, a binary-LSH candidate stage, RANSAC verification.

Why: perceptual hashes see the whole frame, so a crop, a rotation, a caption or a copy pasted into
a larger picture moves them past any useful radius. Local features survive those edits: a copy
keeps many small patches of its original, each patch's ORB descriptor (a 256-bit binary test
pattern, rotation-normalised, over an 8-level scale pyramid) stays close, and the positions of the
matching patches agree on one geometric transform. That agreement, counted as RANSAC inliers of
an affine transform, is the deciding evidence; chance matches between unrelated images do not
line up (measured: at most a handful of inliers, see ``benchmarks/neardup_local.py``).

ORB, not SIFT: both ship in OpenCV (SIFT's patent expired in 2020, Apache-2.0 like the rest), but
SIFT costs ~10x as much per image on a CPU core, which the 40 ms query budget cannot pay.

Stages of a query (one thread, no weights, nothing downloaded):

1. **Features** (:func:`extract`): the image shrunk (or enlarged) to ``work_side`` on its long
   side, FAST corners over the pyramid (at a lower threshold where the picture has few corners,
   ``MIN_FAST_THRESHOLD``), the strongest spread over a ``grid x grid`` layout (so an
   overlay's sharp text cannot take the whole keypoint budget), ORB descriptors. The mirrored view
   reuses the detected corners (mirrored positions and angles give the exact descriptors a
   detection on the mirrored image gives), so a mirror costs one descriptor pass, not a detection.
2. **Candidates** (:class:`InvertedTables`, index format 3; :class:`LocalTables` reads format 2):
   ``T`` hash tables over ``b`` fixed bit positions of the descriptors (bit-sampling LSH for
   Hamming space), each an inverted file whose postings carry the reference row, the keypoint
   angle and a 16-bit signature of further descriptor bits. Each query descriptor votes for the
   references whose descriptors share a bucket and a near signature (Hamming embedding); votes
   are kept apart per difference of keypoint orientation (16 half-overlapping bins of 45 degrees,
   weak geometric consistency), so chance collisions, which spread over all bins, do not add up.
   ``b`` grows with the index so buckets stay small (docs/neardup-scale.md: memory and sharding).
3. **Verification** (:func:`verify`): for each of the best ``candidates`` references, two-nearest
   neighbour matching of all descriptors (Lowe ratio 0.8, one-to-one), RANSAC affine fit, sanity
   of the transform (scale 1/8..8, anisotropy <= 3, no reflection in the view that matched) and of
   the inliers' spread. The result names the transform and the copied region in both images.

Imports: numpy, OpenCV, :mod:`safety.neardup.store` (the manifest spec).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from core.errors import CheckFailed, InvalidRequest
from safety.neardup.store import LocalSpec

#: what the descriptors are; an index whose manifest records another spec is refused
LOCAL_SPEC = (
    "OpenCV ORB (scaleFactor 1.2, 8 levels, patch 31, FAST/Harris), grey image resized to work_side on "
    "its long side, strongest keypoints spread over a grid; uint8[32] descriptors, positions in work pixels"
)
#: Lowe's ratio: the best match must be this much closer than the second best
RATIO = 0.8
#: RANSAC reprojection threshold in work pixels
REPROJ_PX = 5.0
#: the largest scale change (either way) a verified transform may have
MAX_SCALE = 8.0
#: the largest ratio of the transform's two singular values (aspect change + shear)
MAX_ANISOTROPY = 3.0
#: inliers must cover at least this share of the smaller of the two matched regions' frames
MIN_SPREAD = 0.01
#: buckets longer than this many times the mean bucket (and than MIN_STOP_BUCKET) are skipped at
#: query time: they hold descriptors common to many works (star fields, foliage, text), stop words.
#: 8 (was 32): at the density of 10^6 references (~20 postings per bucket) such buckets hold ~half
#: of all postings and ~3/4 of what a query read, while a copy's votes come mostly from the others
#: (benchmarks/neardup_local.py; docs/neardup-scale.md)
STOP_FACTOR = 8
MIN_STOP_BUCKET = 128
#: a query lookup with more near postings (signature within the radius) than this is skipped: a
#: descriptor common to many works (burstiness) adds at most one vote to a copy's reference but
#: costs as many vote-sorting steps as it has survivors
BURST = 64
#: when FAST finds fewer than a quarter of the keypoint budget at the spec's threshold (a smooth or
#: motion-blurred photograph: a storm sky over a blurred road gives 6 corners at 10), detection is
#: repeated at half the threshold, down to this one, so the picture still gets a few hundred
#: keypoints; an image rich in corners never reaches the retry (measured in neardup_local.py)
MIN_FAST_THRESHOLD = 3
#: ORB keeps this many times the keypoint budget per detection (strongest per pyramid level) for the
#: grid selection to choose from: at 3x, a caption's strong corners took most of what ORB kept and
#: the picture's own corners never reached the grid (a 50% crop of a low-texture photograph with a
#: caption fell from 75 to 0 inliers); 6x keeps them for the same detection time
DETECT_FACTOR = 6
#: no half-size view of a work image shorter than twice this on a side
COARSE_MIN_SIDE = 96
_ANGLE_BINS = 8
_PX_UNIT = 32.0  # positions are stored as uint16 in 1/32 work pixel


def default_spec() -> LocalSpec:
    import cv2

    return LocalSpec(spec=LOCAL_SPEC, opencv=cv2.__version__)


def _cv2():
    import cv2

    cv2.setNumThreads(1)  # one thread per query; the pipeline runs checks concurrently
    return cv2


# --- features ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Features:
    """The keypoints of one view of an image, in work pixels."""

    pts: np.ndarray  # (n, 2) float32 x, y
    ang: np.ndarray  # (n,) uint8 orientation, 256 steps per turn
    desc: np.ndarray  # (n, 32) uint8
    size: tuple[int, int]  # work width, height
    scale: float  # original pixels per work pixel
    mirrored: bool = False

    @property
    def count(self) -> int:
        return int(len(self.desc))


def _work_gray(image, side: int) -> tuple[np.ndarray, float]:
    cv2 = _cv2()
    gray = np.asarray(image.convert("L") if image.mode != "L" else image)
    h, w = gray.shape
    s = side / max(h, w)
    if abs(s - 1.0) > 1e-6:
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        gray = cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))), interpolation=interp)
    return np.ascontiguousarray(gray), 1.0 / s


def _select(kps: list, n: int, grid: int, w: int, h: int) -> list:
    """The ``n`` strongest keypoints, at most ``n / grid^2`` per cell first, then the strongest left."""
    if len(kps) <= n:
        return list(kps)
    pts = _cv2().KeyPoint_convert(kps).reshape(-1, 2)  # in C++: ORB gives up to DETECT_FACTOR x n
    resp = np.fromiter((k.response for k in kps), np.float32, len(kps))
    cx = np.minimum(grid - 1, (pts[:, 0] * grid / w).astype(np.int64))
    cy = np.minimum(grid - 1, (pts[:, 1] * grid / h).astype(np.int64))
    cell = cy * grid + cx
    order = np.lexsort((-resp, cell))  # by cell, strongest first within a cell
    sorted_cell = cell[order]
    starts = np.searchsorted(sorted_cell, np.arange(grid * grid))
    rank = np.arange(len(order)) - starts[sorted_cell]
    per = max(1, n // (grid * grid))
    first = order[rank < per]
    rest = order[rank >= per]
    rest = rest[np.argsort(-resp[rest], kind="stable")][: max(0, n - len(first))]
    return [kps[i] for i in np.concatenate([first, rest]).tolist()]


def _pack(
    kps: list, desc: np.ndarray | None, size: tuple[int, int], scale: float, mirrored: bool
) -> Features:
    if desc is None or not kps:
        return Features(
            np.zeros((0, 2), np.float32),
            np.zeros(0, np.uint8),
            np.zeros((0, 32), np.uint8),
            size,
            scale,
            mirrored,
        )
    pts = _cv2().KeyPoint_convert(kps).astype(np.float32).reshape(-1, 2)
    ang = (np.fromiter((k.angle for k in kps), np.float64, len(kps)) * (256.0 / 360.0)).round().astype(
        np.int64
    ) & 255
    return Features(pts, ang.astype(np.uint8), np.ascontiguousarray(desc, np.uint8), size, scale, mirrored)


def _views(
    orb, gray: np.ndarray, n: int, grid: int, threshold: int, scale: float, mirror: bool
) -> list[Features]:
    """ORB keypoints of one grey picture (and the same corners on its mirror image when ``mirror``)."""
    cv2 = _cv2()
    h, w = gray.shape
    orb.setFastThreshold(threshold)
    orb.setMaxFeatures(DETECT_FACTOR * n)
    found = orb.detect(gray, None)
    while len(found) < n // 4 and threshold > MIN_FAST_THRESHOLD:
        threshold = max(MIN_FAST_THRESHOLD, threshold // 2)
        orb.setFastThreshold(threshold)
        found = orb.detect(gray, None)
    kps = _select(found, n, grid, w, h)
    kps, desc = orb.compute(gray, kps)
    views = [_pack(kps, desc, (w, h), scale, False)]
    if mirror:
        flipped = cv2.flip(gray, 1)
        mk = [
            cv2.KeyPoint(w - 1 - k.pt[0], k.pt[1], k.size, (180.0 - k.angle) % 360.0, k.response, k.octave)
            for k in kps
        ]
        mk, mdesc = orb.compute(flipped, mk)
        views.append(_pack(mk, mdesc, (w, h), scale, True))
    return views


def extract(image, spec: LocalSpec, n: int, *, mirror: bool = False, coarse: int = 0) -> list[Features]:
    """Features of ``image`` (and of its mirror image when ``mirror``), at most ``n`` keypoints each.

    ``coarse``: also this many keypoints of the picture at half the work size (and of its mirror):
    a crop keeping ~60% of each side is enlarged ~1.7x to the work size, so its finest ORB levels
    show detail the reference's work image never had and its coarsest lack the scales the
    reference's corners came from (ORB's 8 levels span 3.6x). Verified against the true reference,
    67 of 600 copies of the "crop + text + JPEG" chain failed at the work size and 33 of them passed
    at half size (benchmarks/neardup_local.py). The views share the candidate stage's one short
    list, so the verifications per query (and the chances of a chance match) do not grow with them.
    A query's option (``LocalCheckOptions.coarse_keypoints``), never a reference's.
    """
    cv2 = _cv2()
    gray, scale = _work_gray(image, spec.work_side)
    try:
        orb = cv2.ORB_create(
            nfeatures=DETECT_FACTOR * n, scaleFactor=1.2, nlevels=8, fastThreshold=spec.fast_threshold
        )
        views = _views(orb, gray, n, spec.grid, spec.fast_threshold, scale, mirror)
        h, w = gray.shape
        if coarse and min(h, w) >= 2 * COARSE_MIN_SIDE:
            small = cv2.resize(gray, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
            views += _views(orb, small, coarse, spec.grid, spec.fast_threshold, scale * w / (w // 2), mirror)
    except cv2.error as exc:
        raise CheckFailed(
            f"ORB feature extraction failed on a {image.width}x{image.height} image: {exc}"
        ) from exc
    return views


def encode_pts(pts: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(pts * _PX_UNIT), 0, 65535).astype(np.uint16)


def decode_pts(raw: np.ndarray) -> np.ndarray:
    return raw.astype(np.float32) / _PX_UNIT


# --- candidate tables --------------------------------------------------------------------------
def lsh_bits_for(n_keypoints: int) -> int:
    """Bits per LSH key: 16 times as many buckets as keypoints, between 16 and 24 bits.

    ORB's bits are not fair coins (chance agreement per bit ~0.55), so chance collisions are
    several times those of uniform codes: the sparse tables keep them far below a copy's votes.
    24 bits is 64 MiB of offsets per table; past ~10^6 keypoints per table buckets fill up again
    (see docs/neardup-scale.md for the sharding that follows).
    """
    return int(min(24, max(16, math.floor(math.log2(max(n_keypoints, 1))) + 4)))


#: tables sample their bits from this many of the most balanced descriptor bits
BALANCED_BITS = 128
#: bits of a posting's signature (format 3): descriptor bits outside its table's key, so a posting
#: whose descriptor only shares the key by chance is dropped before it votes (Hamming embedding,
#: Jegou et al. 2008)
SIG_BITS = 16
#: a posting votes when its signature is within this many bits of the query descriptor's
SIG_RADIUS = 5
#: a format-3 posting packs ``row << 8 | angle`` in 32 bits
MAX_ROWS = (1 << 24) - 1


def lsh_positions(tables: int, bits: int, seed: int, sample: np.ndarray | None = None) -> list[list[int]]:
    """The descriptor bit positions each table hashes (recorded in the manifest, so they never drift).

    With a ``sample`` of the index's descriptors, each table draws from the :data:`BALANCED_BITS`
    bits whose mean is closest to 1/2 (a biased bit splits buckets badly).
    """
    rng = np.random.default_rng(seed)
    pool = np.arange(256)
    if sample is not None and len(sample) >= 256:
        mean = np.unpackbits(np.ascontiguousarray(sample, np.uint8), axis=1).mean(axis=0)
        pool = np.sort(np.argsort(np.abs(mean - 0.5), kind="stable")[:BALANCED_BITS])
    return [sorted(int(b) for b in rng.choice(pool, size=bits, replace=False)) for _ in range(tables)]


def lsh_keys(desc: np.ndarray, positions: list[int], *, unpacked: np.ndarray | None = None) -> np.ndarray:
    """The ``uint32`` key of each descriptor in one table (``unpacked``: its bits, if already unpacked)."""
    bits = unpacked if unpacked is not None else np.unpackbits(np.ascontiguousarray(desc, np.uint8), axis=1)
    weights = (1 << np.arange(len(positions), dtype=np.int64)).astype(np.int64)
    return (bits[:, positions].astype(np.int64) @ weights).astype(np.uint32)


def bit_values(desc: np.ndarray, positions: list[int]) -> np.ndarray:
    """What :func:`lsh_keys` computes, read from the packed bytes (no 256-wide unpack: build-time speed)."""
    desc = np.asarray(desc, dtype=np.uint8)
    out = np.zeros(len(desc), dtype=np.uint32)
    by_byte: dict[int, list[tuple[int, int]]] = {}
    for i, p in enumerate(positions):
        by_byte.setdefault(p >> 3, []).append((i, 7 - (p & 7)))
    values = np.arange(256, dtype=np.uint32)
    for byte, bits in sorted(by_byte.items()):  # one table lookup per descriptor byte involved
        lut = np.zeros(256, dtype=np.uint32)
        for i, shift in bits:
            lut |= ((values >> np.uint32(shift)) & np.uint32(1)) << np.uint32(i)
        out |= lut[desc[:, byte]]
    return out


def sig_positions_for(
    positions: list[list[int]], seed: int, sample: np.ndarray | None = None, bits: int = 0
) -> list[list[int]]:
    """Per table, the :data:`SIG_BITS` descriptor bits of its postings' signature: the most balanced
    bits outside the table's key (a key bit would be equal for every posting in the bucket)."""
    bits = bits or SIG_BITS
    rng = np.random.default_rng(seed + 1)
    if sample is not None and len(sample) >= 256:
        mean = np.unpackbits(np.ascontiguousarray(sample, np.uint8), axis=1).mean(axis=0)
        ranked = np.argsort(np.abs(mean - 0.5), kind="stable")
    else:
        ranked = rng.permutation(256)
    out = []
    for pos in positions:
        key = set(pos)
        free = [int(b) for b in ranked if int(b) not in key]
        pool = free[: max(bits, BALANCED_BITS - len(pos))]
        out.append(sorted(int(b) for b in rng.choice(pool, size=bits, replace=False)))
    return out


def stop_bucket_for(keypoints: int, bits: int) -> int:
    """The longest bucket a query reads: :data:`STOP_FACTOR` times the mean, at least
    :data:`MIN_STOP_BUCKET` (format 4 does not store the postings of longer buckets)."""
    return max(MIN_STOP_BUCKET, int(STOP_FACTOR * keypoints / (1 << bits)))


def build_postings(
    desc: np.ndarray,
    ang: np.ndarray,
    kpoff: np.ndarray,
    positions: list[list[int]],
    sig_positions: list[list[int]],
    out_post: BinaryIO,
    out_sig: BinaryIO,
    out_off: np.ndarray,
    *,
    stop: int = 0,
    chunk: int = 1 << 22,
    progress: bool = False,
) -> list[int]:
    """Write the inverted file (see :class:`InvertedTables`); returns the postings per table.

    Per table, in bucket order and appended to the open files: ``row << 8 | angle`` (uint32) to
    ``out_post`` and the signatures (uint16) to ``out_sig``; ``out_off`` (T, 2^b + 1) uint32 gets
    the bucket starts relative to the table's first posting. With ``stop`` (format 4) a bucket
    longer than ``stop`` is stored empty: a query skips it anyway (a stop word), so its postings
    only cost memory. Peak memory ~16 B per keypoint beyond the files (keys, the packed postings,
    the signatures).
    """
    from tqdm import tqdm

    n = int(len(desc))
    rows = int(len(kpoff) - 1)
    if n >= 2**32 - 1:
        raise InvalidRequest(
            f"{n} keypoints do not fit one local-feature table (at most 2^32 - 2)",
            hint="split the works into several indexes (shards) and name them all in the policy",
        )
    if rows > MAX_ROWS:
        raise InvalidRequest(
            f"{rows} works do not fit one local-feature index (at most {MAX_ROWS:,}: postings pack the "
            "row in 24 bits)",
            hint="split the works into several indexes (shards) and name them all in the policy",
        )
    bits = len(positions[0])
    counts: np.ndarray = np.diff(np.asarray(kpoff, dtype=np.int64))
    steps = len(positions) * (2 + (n + chunk - 1) // chunk)
    bar = tqdm(total=steps, desc="local tables", unit="step", disable=not progress, leave=False)
    written = []
    try:
        packed = np.repeat(np.arange(rows, dtype=np.uint32), counts) << np.uint32(8)
        packed |= np.asarray(ang, dtype=np.uint8).astype(np.uint32)
        for t, (pos, spos) in enumerate(zip(positions, sig_positions, strict=True)):
            keys = np.empty(n, dtype=np.int64)
            sig = np.empty(n, dtype=np.uint16)
            for s in range(0, n, chunk):
                part = np.asarray(desc[s : s + chunk])
                keys[s : s + chunk] = bit_values(part, pos)
                sig[s : s + chunk] = bit_values(part, spos)
                bar.update(1)
            counts_t = np.bincount(keys, minlength=1 << bits)
            dropped = counts_t > stop if stop else None
            if dropped is not None:
                counts_t[dropped] = 0
            out_off[t, 0] = 0
            np.cumsum(counts_t, out=out_off[t, 1:])
            kept = int(out_off[t, -1])
            del counts_t
            # one sort of key << 32 | keypoint: bucket order, keypoints ascending within a bucket;
            # a stopped bucket's entries are compacted away first (in place: the write never
            # overtakes the read)
            w = 0
            for s in range(0, n, chunk):
                part = keys[s : s + chunk]
                part <<= 32
                part |= np.arange(s, s + len(part), dtype=np.int64)
                if dropped is not None:
                    sel = part[~dropped[part >> 32]]
                    keys[w : w + len(sel)] = sel
                    w += len(sel)
            order = keys[:kept] if dropped is not None else keys
            order.sort()
            order &= 0xFFFFFFFF
            bar.update(1)
            for s in range(0, kept, chunk):
                packed[order[s : s + chunk]].tofile(out_post)
                sig[order[s : s + chunk]].tofile(out_sig)
            written.append(kept)
            bar.update(1)
            del keys, order, sig
    finally:
        bar.close()
    return written


def build_tables(
    desc: np.ndarray, positions: list[list[int]], chunk: int = 1 << 22
) -> tuple[np.ndarray, np.ndarray]:
    """Posting lists of all tables: ``ids`` (T, n) uint32 keypoint rows, ``offsets`` (T, 2^b + 1) uint32."""
    n = int(len(desc))
    if n >= 2**32 - 1:
        raise InvalidRequest(
            f"{n} keypoints do not fit one local-feature table (at most 2^32 - 2)",
            hint="split the works into several indexes (shards) and name them all in the policy",
        )
    bits = len(positions[0])
    ids = np.empty((len(positions), n), dtype=np.uint32)
    offsets = np.empty((len(positions), (1 << bits) + 1), dtype=np.uint32)
    for t, pos in enumerate(positions):
        keys = np.empty(n, dtype=np.uint32)
        for s in range(0, n, chunk):
            keys[s : s + chunk] = lsh_keys(desc[s : s + chunk], pos)
        order = np.argsort(keys, kind="stable")
        ids[t] = order
        counts = np.bincount(keys, minlength=1 << bits)
        offsets[t, 0] = 0
        np.cumsum(counts, out=offsets[t, 1:])
        del keys, order, counts
    return ids, offsets


def _distinct(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique's hash path is ~100x slower than a sort on numpy 2.3)."""
    if not len(x):
        return x
    x = np.sort(x)
    keep = np.ones(len(x), dtype=bool)
    keep[1:] = x[1:] != x[:-1]
    return x[keep]


def _counts(sorted_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and how often each occurs."""
    if not len(sorted_x):
        return sorted_x, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], sorted_x[1:] != sorted_x[:-1]]))
    return sorted_x[starts], np.diff(np.append(starts, len(sorted_x)))


@dataclass(frozen=True)
class Candidate:
    row: int
    view: int
    votes: int


class LocalTables:
    """The candidate stage over one index's keypoints (memory-mapped arrays; read-only, thread-safe)."""

    def __init__(
        self,
        ids: np.ndarray,
        offsets: np.ndarray,
        positions: list[list[int]],
        kp_offsets: np.ndarray,
        ang: np.ndarray,
    ) -> None:
        self.ids, self.offsets, self.positions = ids, offsets, positions
        self.kp_offsets = kp_offsets
        self.ang = ang
        self.rows = int(len(kp_offsets) - 1)

    def candidates(
        self, views: list[Features], limit: int, *, min_votes: int = 3, keep_share: float = 0.25
    ) -> list[Candidate]:
        """The references with the most orientation-consistent bucket collisions, best first.

        At most ``limit``; the first two always, the rest only with at least ``keep_share`` of the
        best one's votes (a copy's own reference stands far above chance collisions, and each
        candidate costs a verification).
        """
        if self.rows == 0 or not len(self.ids) or not self.ids.shape[1]:
            return []
        found: list[Candidate] = []
        kp_off = np.asarray(self.kp_offsets, dtype=np.int64)
        mean_bucket = self.ids.shape[1] / max(1, self.offsets.shape[1] - 1)
        stop = max(MIN_STOP_BUCKET, int(STOP_FACTOR * mean_bucket))
        for v, f in enumerate(views):
            if not f.count:
                continue
            qidx_parts, kp_parts = [], []
            unpacked = np.unpackbits(f.desc, axis=1)
            for t, pos in enumerate(self.positions):
                keys = lsh_keys(f.desc, pos, unpacked=unpacked).astype(np.int64)
                off = self.offsets[t]
                starts = off[keys].astype(np.int64)
                lens = off[keys + 1].astype(np.int64) - starts
                keep = (lens > 0) & (lens <= stop)
                if not keep.any():
                    continue
                starts, lens, q = starts[keep], lens[keep], np.flatnonzero(keep)
                total = int(lens.sum())
                idx = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(total)
                kp_parts.append(np.asarray(self.ids[t][idx], dtype=np.int64))
                qidx_parts.append(np.repeat(q, lens))
            if not kp_parts:
                continue
            kp = np.concatenate(kp_parts)
            qi = np.concatenate(qidx_parts)
            row = np.searchsorted(kp_off, kp, side="right") - 1
            found += _vote(row, self.ang[kp], qi, f, v, limit, min_votes)
        return _shortlist(found, limit, keep_share)


def _vote(
    row: np.ndarray, ref_ang: np.ndarray, qi: np.ndarray, f: Features, view: int, limit: int, min_votes: int
) -> list[Candidate]:
    """The best ``limit`` references of one view by orientation-consistent votes.

    Each query keypoint votes once per (reference, bin of the orientation difference); the bins
    are 45 degrees wide and overlap by half, so a copy's votes gather in one bin while chance
    collisions spread over all of them.
    """
    dang = (np.asarray(ref_ang).astype(np.int64) - f.ang[qi].astype(np.int64)) & 255
    width = 256 // _ANGLE_BINS
    bins = np.concatenate([dang // width, ((dang + width // 2) & 255) // width + _ANGLE_BINS])
    row = np.asarray(row, dtype=np.int64)
    row2, qi2 = np.concatenate([row, row]), np.concatenate([qi, qi]).astype(np.int64)
    key = row2 * (2 * _ANGLE_BINS) + bins
    pair = _distinct(key * f.count + qi2)
    keys_u, votes = _counts(pair // f.count)
    rows_u = keys_u // (2 * _ANGLE_BINS)
    order = np.lexsort((rows_u, -votes))
    seen: set[int] = set()
    out = []
    for i in order[: 4 * limit]:
        r = int(rows_u[i])
        if votes[i] < min_votes or len(seen) >= limit:
            break
        if r not in seen:
            seen.add(r)
            out.append(Candidate(r, view, int(votes[i])))
    return out


def _shortlist(found: list[Candidate], limit: int, keep_share: float) -> list[Candidate]:
    found.sort(key=lambda c: (-c.votes, c.row, c.view))
    if not found:
        return []
    floor = found[0].votes * keep_share
    return [c for i, c in enumerate(found[:limit]) if i < 2 or c.votes >= floor]


def _popcount16(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x)


class InvertedTables:
    """The candidate stage of index format 3: an inverted file with Hamming-embedding signatures.

    Per table, the postings of one bucket lie contiguous: ``post`` (``row << 8 | angle``, uint32)
    and ``sig`` (uint16, :data:`SIG_BITS` descriptor bits outside the key). A query descriptor reads
    its bucket in each table and keeps the postings whose signature is within
    :data:`SIG_RADIUS` bits of its own: unrelated descriptors that share the key by chance differ
    in ~7 of 16 bits and are dropped (~87% of them), a copy's descriptors (typically within 15%
    of 256 bits) keep ~96% of theirs. Compared with format 2 (keypoint ids, then a random read of
    each keypoint's angle and a binary search for its row), a posting answers from the bucket's
    own bytes: 6 B per keypoint per table, read sequentially.
    """

    def __init__(
        self,
        post: np.ndarray,
        sig: np.ndarray,
        offsets: np.ndarray,
        positions: list[list[int]],
        sig_positions: list[list[int]],
        rows: int,
        *,
        postings: list[int] | None = None,
        stop: int = 0,
    ) -> None:
        """``post`` and ``sig`` (T, n) as format 3 wrote them, or flat with ``postings`` per table and
        the build's ``stop`` (format 4: longer buckets were stored empty)."""
        t_count = len(positions)
        if postings is None:  # format 3: every table holds every keypoint
            n = int(post.shape[1]) if post.ndim == 2 else 0
            postings = [n] * (t_count if n else 0)
        if (
            len(positions) != len(sig_positions)
            or post.shape != sig.shape
            or (postings and len(postings) != t_count)
            or post.size != sum(postings)
        ):
            raise CheckFailed("local-feature tables are inconsistent: postings, signatures and positions")
        # plain views of the memory maps: np.memmap's __getitem__ costs ~3 ms per query in overhead
        self.post, self.sig = np.asarray(post), np.asarray(sig)
        self.offsets = np.asarray(offsets)
        self.positions, self.sig_positions = positions, sig_positions
        self.rows = rows
        self.postings = list(postings)
        self.bases = np.concatenate([[0], np.cumsum(self.postings, dtype=np.int64)])[:-1]
        #: per table, the keypoints it indexes (format 3: all; format 4: what its buckets held)
        self.keypoints = int(max(self.postings, default=0)) if not stop else 0
        self.stop = stop
        self._flat_post = self.post.reshape(-1)
        self._flat_sig = self.sig.reshape(-1)

    @property
    def bytes(self) -> int:
        """What the candidate stage holds (postings, signatures, bucket offsets)."""
        return int(self.post.nbytes + self.sig.nbytes + self.offsets.nbytes)

    def prefault(self, chunk: int = 1 << 24) -> int:
        """Read every page of the tables once (start-up), so the first queries do not fault them in
        one random bucket at a time (at 10^6 references: 12.9 GiB, ~10^4 random buckets per query).

        Returns the bytes touched. The pages stay in the page cache as long as memory allows.
        """
        total = 0
        for arr in (self.offsets, self.post, self.sig):
            flat = arr.reshape(-1)
            step = max(1, 4096 // flat.itemsize)  # one element per 4 KiB page
            for s in range(0, len(flat), chunk):
                part = flat[s : s + chunk : step]
                int(np.asarray(part).sum(dtype=np.uint64))
            total += int(arr.nbytes)
        return total

    def candidates(
        self,
        views: list[Features],
        limit: int,
        *,
        min_votes: int = 3,
        keep_share: float = 0.25,
        sig_radius: int = SIG_RADIUS,
        burst: int = BURST,
    ) -> list[Candidate]:
        """As :meth:`LocalTables.candidates`, over the inverted file."""
        t_count = len(self.postings)
        if self.rows == 0 or not t_count or not self._flat_post.size:
            return []
        found: list[Candidate] = []
        # format 4 applied the stop at build (longer buckets are empty); format 3 applies it here
        stop = self.stop or stop_bucket_for(self.keypoints, int(self.offsets.shape[1] - 1).bit_length() - 1)
        tables = np.arange(t_count, dtype=np.int64)[:, None]
        bases = self.bases[:, None]
        for v, f in enumerate(views):
            if not f.count:
                continue
            unpacked = np.unpackbits(f.desc, axis=1)
            keys = np.stack([lsh_keys(f.desc, p, unpacked=unpacked) for p in self.positions]).astype(np.int64)
            qsig = np.stack([lsh_keys(f.desc, p, unpacked=unpacked) for p in self.sig_positions]).astype(
                np.uint16
            )
            starts = np.asarray(self.offsets[tables, keys], dtype=np.int64)
            lens = np.asarray(self.offsets[tables, keys + 1], dtype=np.int64) - starts
            keep = (lens > 0) & (lens <= stop)
            if not keep.any():
                continue
            starts = (starts + bases)[keep]
            lens = lens[keep]
            q = np.broadcast_to(np.arange(f.count, dtype=np.int64), keep.shape)[keep]
            qs = qsig[keep]
            total = int(lens.sum())
            idx = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(total)
            sig = np.asarray(self._flat_sig[idx])
            near = _popcount16(sig ^ np.repeat(qs, lens)) <= sig_radius
            if burst:  # see BURST
                ends = np.cumsum(lens)
                cs = np.concatenate([[0], np.cumsum(near, dtype=np.int64)])
                per = cs[ends] - cs[ends - lens]
                near &= np.repeat(per <= burst, lens)
            if not near.any():
                continue
            post = np.asarray(self._flat_post[idx[near]])
            qi = np.repeat(q, lens)[near]
            found += _vote(post >> 8, (post & 255).astype(np.uint8), qi, f, v, limit, min_votes)
        return _shortlist(found, limit, keep_share)


# --- calibration -------------------------------------------------------------------------------
#: the chance model of inliers between unrelated images (per verified candidate): the tail of the
#: inlier counts that ``benchmarks/neardup_local.py`` measures on its distractors falls off about
#: geometrically, P(inliers >= k) ~ NULL_P0 * NULL_DECAY ** (k - NULL_K0)
NULL_K0 = 6
NULL_P0 = 0.02
NULL_DECAY = 0.5


def false_match_rate(inliers: int) -> float:
    """Estimated chance that an unrelated candidate reaches ``inliers`` (a verdict's score: 1 minus it)."""
    if inliers <= NULL_K0:
        return 1.0 if inliers < 4 else NULL_P0
    return float(NULL_P0 * NULL_DECAY ** (inliers - NULL_K0))


# --- verification ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Geometry:
    """A verified copy: the affine map from the query's pixels to the source's, and the regions."""

    inliers: int
    matches: int  # ratio-test, one-to-one matches RANSAC saw
    #: 2x3 affine from query pixels (original image, before any mirror) to source pixels
    matrix: list[list[float]]
    mirrored: bool
    rotation_deg: float
    scale: float  # source pixels per query pixel (geometric mean of the two axes)
    #: [x, y, w, h] in the query: the part of the query the source covers
    query_box: list[int]
    #: [x, y, w, h] in the source: the part of the source the query shows
    source_box: list[int]
    #: inlier keypoints' bounding boxes (the detail that matched) in both images
    query_inlier_box: list[int] = field(default_factory=list)
    source_inlier_box: list[int] = field(default_factory=list)


def _two_nearest(q: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hamming distances and rows of the two nearest reference descriptors of each query descriptor.

    FAISS's binary flat index: ~1 ms for 800 x 384 on one thread (OpenCV's batchDistance and
    BFMatcher take 10-20 ms for the same).
    """
    import faiss

    faiss.omp_set_num_threads(1)  # per calling thread: one query, one core
    try:
        index = faiss.IndexBinaryFlat(256)
        index.add(np.ascontiguousarray(r, dtype=np.uint8))
        dist, nidx = index.search(np.ascontiguousarray(q, dtype=np.uint8), 2)
    except RuntimeError as exc:
        raise CheckFailed(f"descriptor matching failed: {exc}") from exc
    return dist, nidx


def _box(pts: np.ndarray, w: float, h: float) -> list[int]:
    x0, y0 = np.clip(pts.min(axis=0), 0, [w, h])
    x1, y1 = np.clip(pts.max(axis=0), 0, [w, h])
    return [int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0))]


def _corners(w: float, h: float) -> np.ndarray:
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)


def verify(
    query: Features,
    ref_pts: np.ndarray,
    ref_desc: np.ndarray,
    ref_size: tuple[float, float],
    ref_scale: float,
    query_full: tuple[int, int],
    source_full: tuple[int, int] | None = None,
) -> Geometry | None:
    """Match one query view against one reference; the transform if it holds up, else None.

    ``query_full`` is the query's original (width, height); ``source_full`` the source's, if known
    (else derived from the reference's work size and scale).
    """
    cv2 = _cv2()
    if query.count < 4 or len(ref_desc) < 4:
        return None
    dist, nidx = _two_nearest(query.desc, ref_desc)
    ok = (nidx[:, 0] >= 0) & (nidx[:, 1] >= 0) & (dist[:, 0] < RATIO * dist[:, 1])
    q = np.flatnonzero(ok)
    if len(q) < 6:
        return None
    r, d = nidx[q, 0], dist[q, 0]
    order = np.lexsort((d, r))  # keep the closest query keypoint per reference keypoint
    r_sorted = r[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = r_sorted[1:] != r_sorted[:-1]
    keep = order[first]
    q, r = q[keep], r[keep]
    if len(q) < 6:
        return None
    src = query.pts[q].astype(np.float32)
    dst = ref_pts[r].astype(np.float32)
    try:
        m, inl = cv2.estimateAffine2D(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=REPROJ_PX, maxIters=2000, confidence=0.995
        )
    except cv2.error as exc:
        raise CheckFailed(f"RANSAC failed: {exc}") from exc
    if m is None or inl is None:
        return None
    mask = inl.ravel().astype(bool)
    n_in = int(mask.sum())
    if n_in < 4:
        return None
    a = m[:, :2]
    sv = np.linalg.svd(a, compute_uv=False)
    if not (1 / MAX_SCALE <= sv[1] <= sv[0] <= MAX_SCALE and sv[0] / sv[1] <= MAX_ANISOTROPY):
        return None
    if np.linalg.det(a) <= 0:
        return None
    qw, qh = query.size
    rw, rh = ref_size
    spread_ref = cv2.contourArea(cv2.convexHull(dst[mask])) / (rw * rh)
    spread_q = cv2.contourArea(cv2.convexHull(src[mask])) / (qw * qh)
    if max(spread_ref, spread_q) < MIN_SPREAD:
        return None
    # to original pixels: query (undo the mirror, then the work scale), source (work scale)
    sq, sr = query.scale, ref_scale
    to_work = np.array([[1 / sq, 0, 0], [0, 1 / sq, 0], [0, 0, 1]], dtype=np.float64)
    if query.mirrored:  # work-mirror x' = (w - 1) - x
        to_work = np.array([[-1, 0, qw - 1], [0, 1, 0], [0, 0, 1]], dtype=np.float64) @ to_work
    full = (
        np.array([[sr, 0, 0], [0, sr, 0], [0, 0, 1]], dtype=np.float64) @ np.vstack([m, [0, 0, 1]]) @ to_work
    )
    fw, fh = query_full
    sw, sh = source_full or (rw * sr, rh * sr)
    inv = np.linalg.inv(full)
    q_corners = cv2.transform(_corners(sw, sh)[None], inv[:2])[0]
    s_corners = cv2.transform(_corners(fw, fh)[None], full[:2])[0]
    q_in = cv2.transform(src[mask][None].astype(np.float64), np.linalg.inv(to_work)[:2])[0]
    s_in = dst[mask].astype(np.float64) * sr
    det = float(np.linalg.det(full[:2, :2]))
    rot = math.degrees(math.atan2(full[1, 0], full[0, 0]))
    if query.mirrored:
        rot = math.degrees(math.atan2(-full[1, 0], -full[0, 0]))
    return Geometry(
        inliers=n_in,
        matches=int(len(q)),
        matrix=[[round(float(x), 5) for x in row] for row in full[:2]],
        mirrored=query.mirrored,
        rotation_deg=round(rot, 1),
        scale=round(math.sqrt(abs(det)), 4),
        query_box=_box(q_corners, fw, fh),
        source_box=_box(s_corners, sw, sh),
        query_inlier_box=_box(q_in, fw, fh),
        source_inlier_box=_box(s_in, sw, sh),
    )


__all__ = [
    "LOCAL_SPEC",
    "Candidate",
    "Features",
    "Geometry",
    "InvertedTables",
    "LocalTables",
    "bit_values",
    "build_postings",
    "stop_bucket_for",
    "build_tables",
    "default_spec",
    "extract",
    "false_match_rate",
    "lsh_bits_for",
    "lsh_keys",
    "lsh_positions",
    "sig_positions_for",
    "verify",
]
