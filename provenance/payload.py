"""Reading a watermark payload out of whatever the watermark step reports, in one place.

The watermark step records its payload in ``artifact.facts['watermark']`` and its decoder returns a
reading; the C2PA soft binding, the released-image index and ``verify`` all need the same bytes
from them. This accepts a mapping or an object carrying ``payload`` (bytes, a hex string, or an
int with ``bits``) or ``payload_hex``, and an algorithm name under ``alg``/``algorithm``/``scheme``.
"""

from __future__ import annotations

from typing import Any

DEFAULT_WATERMARK_ALG = "org.assay.watermark"


def _getter(obj: Any):  # noqa: ANN202
    if isinstance(obj, dict):
        return obj.get
    return lambda key, default=None: getattr(obj, key, default)


def payload_bytes(obj: Any) -> bytes | None:
    """The payload as bytes, or None when ``obj`` carries none."""
    if obj is None:
        return None
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj)
    get = _getter(obj)
    payload = get("payload")
    if payload is None:
        payload = get("payload_hex")
    if payload is None:
        return None
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    if isinstance(payload, int):
        bits = int(get("bits") or get("payload_bits") or max(8, payload.bit_length()))
        return payload.to_bytes((bits + 7) // 8, "big")
    text = str(payload).strip()
    try:
        return bytes.fromhex(text)
    except ValueError:
        return text.encode("utf-8")


def payload_hex(obj: Any) -> str | None:
    raw = payload_bytes(obj)
    return raw.hex() if raw is not None else None


def algorithm_name(obj: Any) -> str:
    if obj is None or isinstance(obj, (bytes, bytearray)):
        return DEFAULT_WATERMARK_ALG
    get = _getter(obj)
    return str(get("alg") or get("algorithm") or get("scheme") or DEFAULT_WATERMARK_ALG)
