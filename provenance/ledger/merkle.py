"""RFC 6962 / RFC 9162 Merkle tree: hashing, the compact frontier, proofs and their verification.

Why by hand: no maintained Python library implements RFC 9162 proofs over an external node store;
the algorithms are short and pinned down by the RFC and by the transparency-dev test vectors
(``tests/data/rfc6962``, a copy of ``../shared/testdata/rfc6962``), which the tests run in full.

Hashes are raw 32-byte ``bytes`` here; the storage layer keeps them as lowercase hex.

* leaf hash  = SHA-256(0x00 ‖ leaf bytes)
* node hash  = SHA-256(0x01 ‖ left ‖ right)
* empty root = SHA-256("")

The *compact frontier* of a tree of size ``n`` is the list of roots of the perfect subtrees that
the binary expansion of ``n`` describes (largest first); appending one leaf touches O(log n) of them
and the root is their right fold. Proof generation asks a :class:`NodeSource` for the hashes of
perfect, aligned subtrees only (``level``, ``index``), so a store that keeps leaf hashes plus every
``TILE_HEIGHT``-th level of inner nodes answers any proof with a few range reads.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from core.errors import IntegrityError

HASH_SIZE = 32
#: inner nodes are stored for every level that is a multiple of this (and leaves at level 0): one
#: node row per 16 records; a proof then reads at most 15 hashes per 4 levels (measured: 4x less
#: CPU per proof than with 8, for the same append rate)
TILE_HEIGHT = 4
TILE_WIDTH = 1 << TILE_HEIGHT

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(IntegrityError):
    """A Merkle proof does not verify against the given root(s), or is malformed."""

    code = "proof_invalid"


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162 section 2.1.1: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


# --- compact frontier ----------------------------------------------------------------------------
@dataclass
class Frontier:
    """The compact state of an append-only tree: its size and the roots of its perfect subtrees.

    ``append`` returns the inner nodes that became complete at stored levels (multiples of
    ``TILE_HEIGHT``), so the caller can persist them for later proofs.
    """

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.hashes) != bin(self.size).count("1"):
            raise IntegrityError(
                f"ledger frontier holds {len(self.hashes)} hashes but size {self.size} needs "
                f"{bin(self.size).count('1')}",
                hint="the head row was edited; run `assay audit verify` to find the damage",
            )

    def copy(self) -> Frontier:
        return Frontier(self.size, list(self.hashes))

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; return the completed stored nodes as (level, index, hash)."""
        stored: list[tuple[int, int, bytes]] = []
        index = self.size
        h = leaf
        level = 0
        while (index >> level) & 1:
            h = node_hash(self.hashes.pop(), h)
            level += 1
            if level % TILE_HEIGHT == 0:
                stored.append((level, index >> level, h))
        self.hashes.append(h)
        self.size += 1
        return stored

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        r = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            r = node_hash(h, r)
        return r


def root_of(leaves: Sequence[bytes]) -> bytes:
    f = Frontier()
    for leaf in leaves:
        f.append(leaf)
    return f.root()


# --- proofs from a node store --------------------------------------------------------------------
class NodeSource(Protocol):
    """Answers the hash of the perfect subtree at (level, index) of the log."""

    def node(self, level: int, index: int) -> bytes: ...


class _Tree:
    """Merkle tree hashes MTH(D[lo:hi]) computed from perfect aligned subtrees of a source."""

    def __init__(self, source: NodeSource) -> None:
        self._node = source.node

    def mth(self, lo: int, hi: int) -> bytes:
        size = hi - lo
        if size == 0:
            return EMPTY_ROOT
        if size & (size - 1) == 0 and lo % size == 0:
            level = size.bit_length() - 1
            return self._node(level, lo >> level)
        k = _largest_power_of_two_below(size)
        return node_hash(self.mth(lo, lo + k), self.mth(lo + k, hi))

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        """RFC 9162 PATH(m, D[lo:hi]) with m relative to lo, leaf-to-root order."""
        if hi - lo <= 1:
            return []
        k = _largest_power_of_two_below(hi - lo)
        if m < k:
            return self.path(m, lo, lo + k) + [self.mth(lo + k, hi)]
        return self.path(m - k, lo + k, hi) + [self.mth(lo, lo + k)]

    def subproof(self, m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        """RFC 9162 SUBPROOF(m, D[lo:hi], b)."""
        n = hi - lo
        if m == n:
            return [] if complete else [self.mth(lo, hi)]
        k = _largest_power_of_two_below(n)
        if m <= k:
            return self.subproof(m, lo, lo + k, complete) + [self.mth(lo + k, hi)]
        return self.subproof(m - k, lo + k, hi, False) + [self.mth(lo, lo + k)]


def inclusion_proof(source: NodeSource, index: int, size: int) -> list[bytes]:
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    return _Tree(source).path(index, 0, size)


def consistency_proof(source: NodeSource, size1: int, size2: int) -> list[bytes]:
    if not 0 < size1 <= size2:
        raise ProofError(
            f"no consistency proof from size {size1} to size {size2}",
            hint="size1 must be at least 1 and at most size2",
        )
    if size1 == size2:
        return []
    return _Tree(source).subproof(size1, 0, size2, True)


def tree_root(source: NodeSource, size: int) -> bytes:
    return _Tree(source).mth(0, size)


class LeafListSource:
    """A node source over an in-memory list of leaf hashes (tests, offline verification of exports)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self._levels: list[list[bytes]] = [list(leaves)]
        while len(self._levels[-1]) > 1:
            below = self._levels[-1]
            self._levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

    def node(self, level: int, index: int) -> bytes:
        try:
            return self._levels[level][index]
        except IndexError:
            raise ProofError(f"no complete subtree at level {level}, index {index}") from None


class TiledSource:
    """A node source over stored leaf hashes and stored inner nodes at every TILE_HEIGHT-th level.

    ``fetch(level, start, end)`` returns the stored hashes of level ``level`` (a multiple of
    TILE_HEIGHT) for indices ``start..end-1``; whole tiles are fetched and cached so that one
    proof costs a handful of range reads. Inner nodes between stored levels are recomputed.
    """

    def __init__(self, fetch: Callable[[int, int, int], list[bytes]], *, max_tiles: int = 64) -> None:
        self._fetch = fetch
        self._max_tiles = max_tiles
        self._tiles: OrderedDict[tuple[int, int], list[bytes]] = OrderedDict()

    def _stored(self, level: int, index: int) -> bytes:
        key = (level, index // TILE_WIDTH)
        tile = self._tiles.get(key)
        if tile is None:
            start = key[1] * TILE_WIDTH
            tile = self._fetch(level, start, start + TILE_WIDTH)
            self._tiles[key] = tile
            if len(self._tiles) > self._max_tiles:  # bounded: exports walk whole logs
                self._tiles.popitem(last=False)
        else:
            self._tiles.move_to_end(key)
        pos = index % TILE_WIDTH
        if pos >= len(tile):
            raise IntegrityError(
                f"ledger is missing the stored hash at level {level}, index {index}",
                hint="rows were deleted; run `assay audit verify`",
            )
        return tile[pos]

    def node(self, level: int, index: int) -> bytes:
        base = level - level % TILE_HEIGHT
        if base == level:
            return self._stored(level, index)
        span = level - base
        hashes = [self._stored(base, i) for i in range(index << span, (index + 1) << span)]
        while len(hashes) > 1:
            hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]


class _Recorder:
    """A node source that only notes which perfect subtrees are asked for."""

    def __init__(self) -> None:
        self.asked: set[tuple[int, int]] = set()

    def node(self, level: int, index: int) -> bytes:
        self.asked.add((level, index))
        return bytes(HASH_SIZE)


def stored_hashes_needed(compute: Callable[[NodeSource], object]) -> dict[int, list[int]]:
    """The stored hashes (stored level -> sorted indices) that ``compute(source)`` will read.

    Running the proof algorithm once on a recorder (no hashing) lets the caller fetch everything
    a proof needs in one or two queries instead of a query per tile.
    """
    rec = _Recorder()
    compute(rec)
    out: dict[int, set[int]] = {}
    for level, index in rec.asked:
        base = level - level % TILE_HEIGHT
        span = level - base
        out.setdefault(base, set()).update(range(index << span, (index + 1) << span))
    return {lv: sorted(ix) for lv, ix in out.items()}


class PrefetchedSource:
    """A node source over stored hashes fetched ahead ((level, index) -> hash), inner levels recomputed."""

    def __init__(self, hashes: dict[tuple[int, int], bytes]) -> None:
        self._hashes = hashes

    def node(self, level: int, index: int) -> bytes:
        base = level - level % TILE_HEIGHT
        span = level - base
        try:
            hashes = [self._hashes[(base, i)] for i in range(index << span, (index + 1) << span)]
        except KeyError as exc:
            raise IntegrityError(
                f"ledger is missing the stored hash at level {exc.args[0][0]}, index {exc.args[0][1]}",
                hint="rows were deleted; run `assay audit verify`",
            ) from None
        while len(hashes) > 1:
            hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]


# --- verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2) ----------------------------------------
def _check_hashes(proof: Sequence[bytes], what: str) -> None:
    for i, p in enumerate(proof):
        if not isinstance(p, bytes | bytearray) or len(p) != HASH_SIZE:
            raise ProofError(f"{what} proof element {i} is not a {HASH_SIZE}-byte hash")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    if len(leaf) != HASH_SIZE:
        raise ProofError(f"leaf hash is {len(leaf)} bytes, expected {HASH_SIZE}")
    _check_hashes(proof, "inclusion")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError(f"inclusion proof has {len(proof)} elements: too long for size {size}")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"inclusion proof has {len(proof)} elements: too short for size {size}")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows ``leaf`` at ``index`` in the tree ``root``."""
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError(f"inclusion proof for index {index} does not lead to the root of size {size}")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Raise :class:`ProofError` unless the tree ``root2`` (size2) extends the tree ``root1`` (size1)."""
    _check_hashes(proof, "consistency")
    if size2 < size1 or size1 < 0:
        raise ProofError(f"size2 {size2} is smaller than size1 {size1}")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing; start from size >= 1")
    if size1 == size2:
        if proof:
            raise ProofError("equal sizes need an empty consistency proof")
        if root1 != root2:
            raise ProofError(f"two different roots for the same size {size1}")
        return
    if not proof:
        raise ProofError(f"empty consistency proof from size {size1} to {size2}")
    nodes = list(proof)
    if size1 & (size1 - 1) == 0:
        nodes.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != root1:
        raise ProofError(f"consistency proof does not lead to the root of size {size1}")
    if sr != root2:
        raise ProofError(f"consistency proof does not lead to the root of size {size2}")
