"""CRC-24 (the OpenPGP polynomial, RFC 4880 §6.1): the watermark's check code.

Why it exists: the Viterbi decoder always returns *some* 64-bit word, even from an image that was
never marked. The CRC is what turns "the decoder's best guess" into "a payload": a random word
passes with probability 2^-24 (6e-8) per decoding attempt, so with the few dozen attempts the
resynchronisation search makes per image, an unmarked image yields a false payload about once
in a few hundred thousand images, before the pilot and correlation gates that also have to pass.
The non-zero initial value means an all-zero word (what a flat, unmarked image decodes to) fails.
"""

from __future__ import annotations

CRC24_INIT = 0xB704CE
CRC24_POLY = 0x1864CFB
CRC_BITS = 24


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= CRC24_POLY
        table.append(crc & 0xFFFFFF)
    return table


_TABLE = _table()


def crc24(data: bytes) -> int:
    """The OpenPGP CRC-24 of ``data`` (check value for b"123456789" is 0x21CF02)."""
    crc = CRC24_INIT
    for b in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ _TABLE[((crc >> 16) ^ b) & 0xFF]
    return crc
