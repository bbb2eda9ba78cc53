"""Property tests (hypothesis) for the two parsers of hostile input that the other suites cover by
example or by mutation only: image decoding of arbitrary bytes, and Merkle proofs under tampering.

(The prompt normaliser and the policy loader have theirs in tests/safety/prompt and
tests/gateway/test_policy.py; damaged real image files in tests/safety/image/test_image_decode.py.)
"""

from __future__ import annotations

import hashlib

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.errors import AssayError, IntegrityError
from core.images import DecodeLimits, decode_image
from provenance.ledger.merkle import (
    LeafListSource,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

# --- image decoding: any bytes at all ------------------------------------------------------------
_MAGIC = [
    b"",
    b"\x89PNG\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b"\xff\xd8\xff\xe0",
    b"\xff\xd8\xff\xdb",
    b"GIF89a",
    b"GIF87a",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"RIFF\x10\x00\x00\x00WEBPVP8L",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"\x00\x00\x00\x0cjP  ",
    b"<svg",
    b"%PDF-1.4",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    magic=st.sampled_from(_MAGIC),
    rest=st.binary(max_size=1500),
    mode=st.sampled_from(["RGB", "L"]),
    small=st.booleans(),
)
def test_arbitrary_bytes_decode_or_raise_only_a_4xx_assay_error(
    magic: bytes, rest: bytes, mode: str, small: bool
) -> None:
    limits = DecodeLimits(max_bytes=1024, max_pixels=4096, max_side=128) if small else DecodeLimits()
    try:
        img = decode_image(magic + rest, limits=limits, name="upload", mode=mode)
    except AssayError as exc:
        assert 400 <= exc.status < 500 and exc.message, exc
        assert "upload" in exc.message or exc.param, exc.message  # the error names what was wrong
    else:
        assert img.mode == mode and img.width * img.height <= limits.max_pixels


# --- Merkle proofs ---------------------------------------------------------------------------------
def _leaves(n: int, salt: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(f"{salt}:{i}".encode()).digest()) for i in range(n)]


def _flip(proof: list[bytes], which: int, bit: int) -> list[bytes]:
    out = list(proof)
    b = bytearray(out[which])
    b[bit // 8] ^= 1 << (bit % 8)
    out[which] = bytes(b)
    return out


def _rejected(fn, *args) -> bool:  # noqa: ANN001
    try:
        fn(*args)
    except IntegrityError:
        return True
    return False


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 300), salt=st.integers(0, 2**16), data=st.data())
def test_inclusion_proofs_verify_and_any_tampering_is_rejected(
    n: int, salt: int, data: st.DataObject
) -> None:
    leaves = _leaves(n, salt)
    src = LeafListSource(leaves)
    root = root_of(leaves)
    i = data.draw(st.integers(0, n - 1))
    proof = inclusion_proof(src, i, n)
    verify_inclusion(i, n, leaves[i], proof, root)
    # another leaf, another index, another root, a changed or cut proof: each is refused
    j = data.draw(st.integers(0, n - 1))
    if j != i:
        assert _rejected(verify_inclusion, i, n, leaves[j], proof, root)
        assert _rejected(verify_inclusion, j, n, leaves[i], proof, root)
    assert _rejected(
        verify_inclusion, i, n, _flip([leaves[i]], 0, data.draw(st.integers(0, 255)))[0], proof, root
    )
    assert _rejected(
        verify_inclusion, i, n, leaves[i], proof, _flip([root], 0, data.draw(st.integers(0, 255)))[0]
    )
    # (not asserted: another tree size with the same path shape, e.g. leaf 0 of 65 vs 66, recomputes
    # the same root; RFC 6962 binds the size through the signed checkpoint, not through the proof)
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        assert _rejected(
            verify_inclusion, i, n, leaves[i], _flip(proof, k, data.draw(st.integers(0, 255))), root
        )
        assert _rejected(verify_inclusion, i, n, leaves[i], proof[:-1], root)
    assert _rejected(verify_inclusion, i, n, leaves[i], proof + [leaves[0]], root)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(n=st.integers(2, 300), salt=st.integers(0, 2**16), data=st.data())
def test_consistency_proofs_verify_and_a_rewritten_history_is_rejected(
    n: int, salt: int, data: st.DataObject
) -> None:
    leaves = _leaves(n, salt)
    src = LeafListSource(leaves)
    m = data.draw(st.integers(1, n - 1))
    proof = consistency_proof(src, m, n)
    old, new = root_of(leaves[:m]), root_of(leaves)
    verify_consistency(m, n, proof, old, new)
    # the log rewrote one of its first m entries: the old checkpoint no longer fits the new tree
    k = data.draw(st.integers(0, m - 1))
    forged = list(leaves)
    forged[k] = leaf_hash(b"rewritten")
    assume(forged[k] != leaves[k])
    forged_proof = consistency_proof(LeafListSource(forged), m, n)
    assert _rejected(verify_consistency, m, n, forged_proof, old, root_of(forged))
    if proof:
        j = data.draw(st.integers(0, len(proof) - 1))
        assert _rejected(verify_consistency, m, n, _flip(proof, j, data.draw(st.integers(0, 255))), old, new)
    assert _rejected(verify_consistency, m, n, proof, _flip([old], 0, 0)[0], new)
    if m + 1 < n:
        assert _rejected(verify_consistency, m + 1, n, proof, old, new)
