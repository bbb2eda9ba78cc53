"""The watermark payload: a 64-bit number derived from the ledger record, plus its CRC.

Decision (documented in the README's provenance section): the payload is **derived**, not drawn:
``payload_for(record_id, image_index)`` is the first 64 bits of
``SHA-256("assay/watermark/v1" NUL record_id NUL image_index)``. So

* the same image of the same record always gets the same payload (re-marking after a review
  approval, or re-running the pipeline, is idempotent and testable);
* anyone holding the record can recompute and check the payload; nobody can read the record id
  out of the payload (it is a hash, not an encoding of the ULID's timestamp and randomness);
* the ledger stores the payload's hex in the record's ``facts["watermark"]["payload"]`` and
  indexes it, which is how ``verify`` goes from a decoded payload to the record;
* 64 bits keep accidental collisions negligible (birthday bound: ~4 billion images for a 50%
  chance of one collision anywhere; a lookup that ever returns two records shows both).

On the wire the 64 payload bits are followed by a CRC-24 over their 8 big-endian bytes.
"""

from __future__ import annotations

import hashlib

import numpy as np

from provenance.watermark.crc import CRC_BITS, crc24

PAYLOAD_BITS = 64
INFO_BITS = PAYLOAD_BITS + CRC_BITS
_DOMAIN = b"assay/watermark/v1"


def payload_for(record_id: str, image_index: int) -> int:
    """The 64-bit payload for image ``image_index`` of the ledger record ``record_id``."""
    if not record_id:
        raise ValueError("record_id must be a non-empty string")
    if image_index < 0:
        raise ValueError(f"image_index must be >= 0, got {image_index}")
    msg = _DOMAIN + b"\x00" + record_id.encode("utf-8") + b"\x00" + str(int(image_index)).encode()
    return int.from_bytes(hashlib.sha256(msg).digest()[:8], "big")


def payload_hex(payload: int) -> str:
    """The form the ledger stores and indexes: 16 lower-case hex digits."""
    return f"{payload:016x}"


def info_bits(payload: int) -> np.ndarray:
    """The 88 bits the channel code protects: payload (big-endian) then its CRC-24."""
    if not 0 <= payload < 1 << PAYLOAD_BITS:
        raise ValueError(f"payload must fit in {PAYLOAD_BITS} bits")
    data = payload.to_bytes(PAYLOAD_BITS // 8, "big")
    word = data + crc24(data).to_bytes(CRC_BITS // 8, "big")
    return np.unpackbits(np.frombuffer(word, dtype=np.uint8))


def payload_from_bits(bits: np.ndarray) -> int | None:
    """The payload if the CRC matches, else None (the bits are not a payload)."""
    word = np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()
    data, check = word[: PAYLOAD_BITS // 8], word[PAYLOAD_BITS // 8 :]
    if crc24(data) != int.from_bytes(check, "big"):
        return None
    return int.from_bytes(data, "big")
