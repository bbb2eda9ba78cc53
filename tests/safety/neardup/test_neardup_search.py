import numpy as np
import pytest

from core.errors import InvalidRequest
from safety.neardup.search import MIH_EXACT_RADIUS, HammingSearcher, VectorSearcher


def _planted(n=20_000, seed=1):
    """Random codes plus, for each of 40 queries, neighbours planted at distances 0..12."""
    rng = np.random.default_rng(seed)
    db = rng.integers(0, 256, (n, 8), dtype=np.uint8)
    queries = rng.integers(0, 256, (40, 8), dtype=np.uint8)
    rows = rng.choice(n, size=(40, 13), replace=False)
    for q in range(40):
        for d in range(13):
            bits = np.zeros(64, dtype=np.uint8)
            bits[rng.choice(64, size=d, replace=False)] = 1
            db[rows[q, d]] = queries[q] ^ np.packbits(bits)
    return db, queries


def _brute(db, q, r):
    d = np.bitwise_count(db.view(np.uint64)[:, 0] ^ q.view(np.uint64)[0])
    idx = np.flatnonzero(d <= r)
    return sorted(zip(d[idx].tolist(), idx.tolist(), strict=True))


def test_multihash_is_exact_up_to_radius_8_and_inclusive():
    db, queries = _planted()
    mih = HammingSearcher(db)
    assert mih.kind == "multihash" and MIH_EXACT_RADIUS == 8
    for r in (0, 3, 8):
        got = mih.search(queries, r)
        for q in range(len(queries)):
            expected = _brute(db, queries[q], r)
            assert [(int(h.distance), h.row) for h in got[q]] == expected
            assert max(d for d, _ in expected) == r  # a neighbour at exactly r is planted and found


def test_flat_above_the_exact_range():
    db, queries = _planted(5_000)
    flat = HammingSearcher(db, max_radius=12)
    assert flat.kind == "flat"
    got = flat.search(queries[:5], 12)
    for q in range(5):
        assert [(int(h.distance), h.row) for h in got[q]] == _brute(db, queries[q], 12)


def test_radius_outside_what_the_structure_answers_is_refused():
    mih = HammingSearcher(np.zeros((3, 8), np.uint8))
    with pytest.raises(InvalidRequest, match="exactly"):
        mih.search(np.zeros(8, np.uint8), 9)
    with pytest.raises(InvalidRequest):
        HammingSearcher(np.zeros((3, 8), np.uint8), max_radius=40)
    with pytest.raises(InvalidRequest, match="shape"):
        HammingSearcher(np.zeros((3, 4), np.uint8))


def test_empty_index_answers_nothing():
    assert HammingSearcher(np.zeros((0, 8), np.uint8)).search(np.zeros((2, 8), np.uint8), 8) == [[], []]
    assert VectorSearcher(np.zeros((0, 4), np.float32)).search(np.ones((1, 4), np.float32), 0.5) == [[]]


def test_vector_threshold_is_inclusive_and_sorted():
    v = np.eye(4, dtype=np.float32)
    v[2] = np.array([0.6, 0.8, 0, 0], np.float32)
    s = VectorSearcher(v)
    hits = s.search(np.array([[1, 0, 0, 0]], np.float32), 0.6)[0]
    assert [h.row for h in hits] == [0, 2]
    assert hits[0].distance == pytest.approx(1.0) and hits[1].distance == pytest.approx(0.6)
    assert [h.row for h in s.search(np.array([[1, 0, 0, 0]], np.float32), 0.61)[0]] == [0]


def test_multihash_reports_each_row_once_with_duplicate_codes_and_full_width_flips():
    """Rows sharing a code are all found; a neighbour found in several substring tables is reported
    once; flips in the last (22-bit) substring and in the top bit are found like any other."""
    rng = np.random.default_rng(7)
    db = rng.integers(0, 256, (5_000, 8), dtype=np.uint8)
    q = db[10].copy()
    db[11] = db[12] = q  # duplicates of the query's code
    top = q.copy()
    top[7] ^= 0x80  # bit 63 (little-endian view): inside the 22-bit substring
    db[13] = top
    spread = q.view("<u8").copy()
    spread ^= np.array(
        [(1 << 0) | (1 << 22) | (1 << 43) | (1 << 63)], dtype="<u8"
    )  # one flip per substring + top
    db[14] = spread.view(np.uint8)
    hits = HammingSearcher(db).search(q, 4)[0]
    got = [(int(h.distance), h.row) for h in hits]
    assert got == _brute(db, q, 4)
    assert {(0, 10), (0, 11), (0, 12), (1, 13), (4, 14)} <= set(got) and len(got) == len(set(got))
