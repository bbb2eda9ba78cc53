"""RFC 8785 (JSON Canonicalization Scheme) fast enough for every ledger append.

Why not just ``rfc8785.dumps``: it is pure Python and token-by-token; at ~300 µs for a typical
generation record it cost more than the database insert. Here the C JSON encoder writes the text
(sorted keys, compact separators, no ASCII escaping: for strings, integers, booleans and null that
is exactly RFC 8785) and only floats are formatted in Python, the ECMAScript way RFC 8785 asks for
(``1.0`` -> ``1``, ``1e-7`` -> ``1e-7``, ``1e21`` -> ``1e+21``). Inputs the fast path cannot
promise to order like RFC 8785 (object keys outside the Basic Multilingual Plane, which RFC 8785
sorts by UTF-16 code units) or that would collide with its float markers fall back to the
``rfc8785`` package. A property test checks equality with ``rfc8785`` on random documents.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import rfc8785

from gateway.errors import InvalidRequest

_INT_LIMIT = 2**53 - 1
_MARK_OPEN, _MARK_CLOSE = "\ue000", "\ue001"
_MARK_RE = re.compile('"\ue000(\\d+)\ue001"')
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False,
                           check_circular=False).encode


class _Fallback(Exception):
    """The fast path cannot guarantee RFC 8785 output for this input."""


def es_number(f: float) -> str:
    """ECMAScript Number::toString of a finite float (RFC 8785 section 3.2.2.3)."""
    if math.isnan(f) or math.isinf(f):
        raise InvalidRequest(f"{f} has no JSON form", hint="use finite numbers", param="body")
    if f == 0:
        return "0"
    if f < 0:
        return "-" + es_number(-f)
    mantissa, _, exp = repr(f).partition("e")
    int_part, _, frac = mantissa.partition(".")
    digits = int_part + frac
    stripped = digits.lstrip("0")
    n = len(stripped) - len(frac) + (int(exp) if exp else 0)  # value = 0.<s> x 10^n
    s = stripped.rstrip("0")
    k = len(s)
    if k <= n <= 21:
        return s + "0" * (n - k)
    if 0 < n <= 21:
        return s[:n] + "." + s[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + s
    e = n - 1
    sign = "+" if e >= 0 else "-"
    return (s if k == 1 else s[0] + "." + s[1:]) + "e" + sign + str(abs(e))


def _scalar(v: Any, t: type, floats: list[str]) -> Any:
    if t is float:
        floats.append(es_number(v))
        return f"{_MARK_OPEN}{len(floats) - 1}{_MARK_CLOSE}"
    if t is int:
        if not -_INT_LIMIT <= v <= _INT_LIMIT:
            raise InvalidRequest(f"integer {v} is outside +-(2^53-1), which JSON numbers hold exactly",
                                 hint="send it as a string", param="body")
        return v
    raise InvalidRequest(f"a {t.__name__} is not a JSON value", param="body",
                         hint="bodies hold strings, numbers, booleans, null, lists and objects")


def _prep(o: Any, floats: list[str]) -> Any:
    """A copy of ``o`` with floats replaced by markers; raises _Fallback where the fast path can't vouch.

    Scalars are handled inline (not by a call each): this walk runs for every appended record.
    """
    if type(o) is dict:
        out = {}
        for k, v in o.items():
            if type(k) is not str:
                raise InvalidRequest(f"object key {k!r} is not a string", param="body")
            if not k.isascii() and (max(k) > "\uffff" or _MARK_OPEN in k):
                raise _Fallback
            t = type(v)
            if t is str:
                if _MARK_OPEN in v:
                    raise _Fallback
                out[k] = v
            elif t is dict or t is list or t is tuple:
                out[k] = _prep(v, floats)
            elif v is None or t is bool:
                out[k] = v
            else:
                out[k] = _scalar(v, t, floats)
        return out
    out_l = []
    for v in o:
        t = type(v)
        if t is str:
            if _MARK_OPEN in v:
                raise _Fallback
            out_l.append(v)
        elif t is dict or t is list or t is tuple:
            out_l.append(_prep(v, floats))
        elif v is None or t is bool:
            out_l.append(v)
        else:
            out_l.append(_scalar(v, t, floats))
    return out_l


def canonical_json(obj: Any) -> bytes:
    """The RFC 8785 bytes of ``obj`` (JSON types only)."""
    floats: list[str] = []
    t = type(obj)
    try:
        if t is dict or t is list or t is tuple:
            prepped = _prep(obj, floats)
        elif t is str:
            if _MARK_OPEN in obj:
                raise _Fallback
            prepped = obj
        elif obj is None or t is bool:
            prepped = obj
        else:
            prepped = _scalar(obj, t, floats)
    except _Fallback:
        return _slow(obj)
    text = _encode(prepped)
    if floats:
        text = _MARK_RE.sub(lambda m: floats[int(m.group(1))], text)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest("text holds lone surrogates, which are not Unicode", param="body") from None


def _slow(obj: Any) -> bytes:
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InvalidRequest(f"not canonical JSON: {exc}", param="body") from exc
