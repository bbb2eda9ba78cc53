"""The Merkle code against all of tests/data/rfc6962 (a copy of ../shared/testdata/rfc6962), and proof
generation against RFC 6962."""

from __future__ import annotations

import functools
import random

import pytest

from provenance.ledger.merkle import (
    EMPTY_ROOT,
    TILE_HEIGHT,
    TILE_WIDTH,
    Frontier,
    LeafListSource,
    ProofError,
    TiledSource,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_of,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

#: the eight leaves transparency-dev's vectors are built from
LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
LEAF_HASHES = [leaf_hash(x) for x in LEAVES]


def test_inclusion_vector(inclusion_vector):
    v = inclusion_vector
    args = (v["leafIdx"], v["treeSize"], v["leafHash"], v["proof"], v["root"])
    if v["want_err"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


def test_consistency_vector(consistency_vector):
    v = consistency_vector
    args = (v["size1"], v["size2"], v["proof"], v["root1"], v["root2"])
    if v["want_err"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_generated_proofs_equal_the_vectors_happy_paths(all_vectors):
    happy = [
        v
        for v in all_vectors["inclusion"]
        if not v["want_err"] and v["treeSize"] <= len(LEAVES) and v["leafHash"] == LEAF_HASHES[v["leafIdx"]]
    ]
    assert len(happy) >= 5
    for v in happy:
        src = LeafListSource(LEAF_HASHES[: v["treeSize"]])
        assert inclusion_proof(src, v["leafIdx"], v["treeSize"]) == v["proof"]
        assert tree_root(src, v["treeSize"]) == v["root"]
    happy_c = [v for v in all_vectors["consistency"] if not v["want_err"] and v["size1"] < v["size2"] <= 8]
    assert len(happy_c) >= 3
    for v in happy_c:
        src = LeafListSource(LEAF_HASHES[: v["size2"]])
        assert consistency_proof(src, v["size1"], v["size2"]) == v["proof"]


def _naive_mth(leaves):
    """RFC 6962 section 2.1 MTH, literally."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(_naive_mth(leaves[:k]), _naive_mth(leaves[k:]))


def test_frontier_root_matches_rfc_definition_for_every_size():
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(70)]
    f = Frontier()
    assert f.root() == EMPTY_ROOT
    for n, h in enumerate(leaves, start=1):
        f.append(h)
        assert f.root() == _naive_mth(leaves[:n]), n


def test_frontier_emits_the_stored_tile_nodes():
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(3 * TILE_WIDTH * TILE_WIDTH + 5)]
    f = Frontier()
    emitted = [n for h in leaves for n in f.append(h)]
    expected = []
    for j in range(len(leaves)):  # in the order they complete: as leaf j arrives
        for level in range(TILE_HEIGHT, 64, TILE_HEIGHT):
            span = 1 << level
            if (j + 1) % span == 0:
                expected.append((level, j // span, _naive_mth(leaves[j + 1 - span : j + 1])))
    assert emitted == expected and {lv for lv, _, _ in emitted} == {TILE_HEIGHT, 2 * TILE_HEIGHT}


def test_proofs_over_tiles_round_trip_for_random_sizes():
    rnd = random.Random(7)
    n = 3 * TILE_WIDTH * TILE_WIDTH + 37  # spans several tiles of leaves and of nodes, and partial ones
    leaves = [leaf_hash(rnd.randbytes(8)) for _ in range(n)]
    f = Frontier()
    stored = {0: leaves}
    for h in leaves:
        for level, idx, nh in f.append(h):
            stored.setdefault(level, []).append(nh)
            assert idx == len(stored[level]) - 1
    reads = []

    def fetch(level, start, end):
        reads.append((level, start))
        return stored.get(level, [])[start:end]

    for _ in range(40):
        size = rnd.randint(1, n)
        idx = rnd.randrange(size)
        src = TiledSource(fetch)
        root = tree_root(src, size)
        assert root == root_of(leaves[:size])
        verify_inclusion(idx, size, leaves[idx], inclusion_proof(src, idx, size), root)
        size1 = rnd.randint(1, size)
        root1 = root_of(leaves[:size1])
        verify_consistency(size1, size, consistency_proof(src, size1, size), root1, root)
    assert len(set(reads)) < len(reads) or len(reads) < 40 * 6  # tiles are read whole and cached


def test_proof_for_a_leaf_outside_the_tree_is_refused():
    src = LeafListSource(LEAF_HASHES)
    with pytest.raises(ProofError):
        inclusion_proof(src, 8, 8)
    with pytest.raises(ProofError):
        consistency_proof(src, 5, 3)
    with pytest.raises(ProofError):
        consistency_proof(src, 0, 3)


def test_prefetched_proofs_need_few_stored_hashes_and_match():
    from provenance.ledger.merkle import PrefetchedSource, stored_hashes_needed

    rnd = random.Random(3)
    n = 5 * TILE_WIDTH**3 + 77
    leaves = [leaf_hash(rnd.randbytes(8)) for _ in range(n)]
    f = Frontier()
    stored = {(0, i): h for i, h in enumerate(leaves)}
    for h in leaves:
        stored.update({(lv, ix): nh for lv, ix, nh in f.append(h)})
    full = LeafListSource(leaves)
    for _ in range(30):
        size = rnd.randint(2, n)
        idx = rnd.randrange(size)
        size1 = rnd.randint(1, size)
        for fn in (
            functools.partial(inclusion_proof, index=idx, size=size),
            functools.partial(consistency_proof, size1=size1, size2=size),
            functools.partial(tree_root, size=size),
        ):
            needed = stored_hashes_needed(fn)
            count = sum(len(v) for v in needed.values())
            assert count <= 2 * (TILE_WIDTH - 1) * (n.bit_length() // TILE_HEIGHT + 1)
            src = PrefetchedSource({(lv, i): stored[(lv, i)] for lv, ids in needed.items() for i in ids})
            assert fn(src) == fn(full)
