"""The payload, its CRC and the channel code: exact, deterministic, and error-correcting."""

from __future__ import annotations

import numpy as np
import pytest

from provenance.watermark.conv import ConvCode
from provenance.watermark.crc import crc24
from provenance.watermark.payload import INFO_BITS, info_bits, payload_for, payload_from_bits, payload_hex


def test_crc24_matches_the_openpgp_check_value() -> None:
    assert crc24(b"123456789") == 0x21CF02  # RFC 4880 CRC-24 check value


def test_payload_is_a_deterministic_64_bit_hash_of_record_and_index() -> None:
    p = payload_for("01JDQ3V6ZK7C3M5W0Y8N2P4R6T", 0)
    assert p == payload_for("01JDQ3V6ZK7C3M5W0Y8N2P4R6T", 0)
    assert 0 <= p < 1 << 64
    assert p != payload_for("01JDQ3V6ZK7C3M5W0Y8N2P4R6T", 1)
    assert p != payload_for("01JDQ3V6ZK7C3M5W0Y8N2P4R6V", 0)
    assert len(payload_hex(p)) == 16 and payload_hex(1) == "0000000000000001"


@pytest.mark.parametrize("bad", [("", 0), ("01JDQ3V6ZK7C3M5W0Y8N2P4R6T", -1)])
def test_payload_for_refuses_bad_input(bad: tuple[str, int]) -> None:
    with pytest.raises(ValueError):
        payload_for(*bad)


def test_info_bits_round_trip_and_a_flipped_bit_fails_the_crc() -> None:
    p = payload_for("rec", 3)
    bits = info_bits(p)
    assert bits.shape == (INFO_BITS,)
    assert payload_from_bits(bits) == p
    for i in (0, 40, 63, 70, 87):  # payload and CRC positions
        flipped = bits.copy()
        flipped[i] ^= 1
        assert payload_from_bits(flipped) is None
    assert payload_from_bits(np.zeros(INFO_BITS, dtype=np.uint8)) is None  # what a flat image decodes to


def test_rate_two_thirds_code_length() -> None:
    assert ConvCode().coded_length(INFO_BITS) == 141  # (88 + 6 tail) * 2 * 3/4


def test_viterbi_corrects_noise_and_erasures() -> None:
    code = ConvCode()
    rng = np.random.default_rng(0)
    for _ in range(20):
        bits = rng.integers(0, 2, INFO_BITS).astype(np.uint8)
        sym = 1.0 - 2.0 * code.encode(bits)
        noisy = sym + rng.normal(0.0, 0.5, sym.shape)
        noisy[rng.choice(len(sym), 10, replace=False)] = 0.0  # erasures
        assert np.array_equal(code.decode(noisy, INFO_BITS), bits)


def test_viterbi_corrects_hard_errors() -> None:
    code = ConvCode()
    bits = info_bits(payload_for("rec", 0))
    sym = 1.0 - 2.0 * code.encode(bits)
    sym[[5, 40, 90, 130]] *= -1  # four flipped coded bits, far apart
    assert np.array_equal(code.decode(sym, INFO_BITS), bits)


def test_decoder_checks_its_input_length() -> None:
    with pytest.raises(ValueError, match="soft values"):
        ConvCode().decode(np.zeros(10), INFO_BITS)


def test_public_surface_is_exported() -> None:
    import provenance.watermark as wm

    for name in wm.__all__:
        assert hasattr(wm, name), name
