"""RFC 8785 (JSON Canonicalization Scheme) fast enough for every ledger append.

Why not just ``rfc8785.dumps``: it is pure Python and token-by-token; at ~300 µs for a typical
generation record it cost more than the database insert. Here the C JSON encoder writes the text
(sorted keys, compact separators, no ASCII escaping: for strings, integers, booleans and null that
is exactly RFC 8785), then the number tokens between the strings are rewritten the ECMAScript
way RFC 8785 asks for (``1.0`` -> ``1``, ``1e-05`` -> ``0.00001``, ``1e+16`` -> ``10000000000000000``)
and refuses integers JSON cannot hold exactly. Text with characters outside the Basic Multilingual
Plane falls back to the ``rfc8785`` package (RFC 8785 sorts keys by UTF-16 code units, Python by
code points; they differ only there). A property test checks equality with ``rfc8785``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import rfc8785

from core.errors import InvalidRequest

_INT_LIMIT = 2**53 - 1
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode
#: a number token between strings (floats as Python writes them: 1.0, 1e-05, 1.5e+16)
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]\d+)?")
#: a float or a long integer standing as a value (after ':' ',' '[' or at the start, before ',' ']' '}' or the
#: end)
_CANDIDATE_RE = re.compile(r"[:,\[](-?\d+(?:\.\d+(?:e[-+]\d+)?|e[-+]\d+)|-?\d{16,})(?=[,\]}])")
_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")


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


def _fix(m: re.Match[str], group: int = 0) -> str:
    tok = m.group(group)
    if "e" in tok:
        return es_number(float(tok))
    if "." in tok:
        # Python writes |x| in [1e-4, 1e16) without exponent, with the same shortest digits as
        # ECMAScript (which goes fixed up to 1e21): only a trailing ".0" and the zero's sign differ
        if tok.endswith(".0"):
            tok = tok[:-2]
            return "0" if tok == "-0" else tok
        return tok
    if len(tok) >= 16 and abs(int(tok)) > _INT_LIMIT:
        raise InvalidRequest(
            f"integer {tok} is outside +-(2^53-1), which JSON numbers hold exactly",
            hint="send it as a string",
            param="body",
        )
    return tok


def _fix_numbers(text: str) -> str:
    """Rewrite the float (and check the long integer) tokens of compact JSON text, strings untouched.

    Candidates are found by one regular-expression scan; one inside a string has an odd number of
    quotes before it. That count is exact when no string holds an escaped quote; otherwise the
    slower tokenising pass decides.
    """
    if '\\"' in text or not text.startswith(("{", "[")):
        return _fix_numbers_by_parts(text)
    out: list[str] = []
    last = 0
    for m in _CANDIDATE_RE.finditer(text):
        start = m.start(1)
        if text.count('"', 0, start) % 2:
            continue  # inside a string
        out.append(text[last:start])
        out.append(_fix(m, 1))
        last = m.end()
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _fix_numbers_by_parts(text: str) -> str:
    """Rewrite the number tokens of compact JSON text; string contents are left alone.

    The encoder escapes every quote inside a string (``\\"``), so splitting on ``"`` alternates
    between structure and string contents, except where a quote is escaped (an odd run of
    backslashes before it), which keeps us inside the string.
    """
    parts = text.split('"')
    inside = False
    changed = False
    for i, part in enumerate(parts):
        if inside:
            if part.endswith("\\") and (len(part) - len(part.rstrip("\\"))) % 2 == 1:
                continue  # the quote after this part is escaped: still inside the string
            inside = False
        else:
            if part and ("." in part or "e" in part or len(part) > 16):
                fixed = _NUMBER_RE.sub(_fix, part)
                if fixed != part:
                    parts[i] = fixed
                    changed = True
            inside = True
    return '"'.join(parts) if changed else text


def canonical_json(obj: Any) -> bytes:
    """The RFC 8785 bytes of ``obj`` (JSON types; non-string keys are written as ``json`` does)."""
    try:
        text = _encode(obj)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(
            f"not a JSON value: {exc}",
            param="body",
            hint="bodies hold strings, finite numbers, booleans, null, lists and objects",
        ) from exc
    if not text.isascii() and _ASTRAL_RE.search(text):
        return _slow(obj)  # RFC 8785 sorts keys by UTF-16 units: differs from Python's order only here
    text = _fix_numbers(text)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest("text holds lone surrogates, which are not Unicode", param="body") from None


def _slow(obj: Any) -> bytes:
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InvalidRequest(f"not canonical JSON: {exc}", param="body") from exc
