"""The fast RFC 8785 writer equals the ``rfc8785`` package on any JSON document."""

from __future__ import annotations

import math

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import InvalidRequest
from provenance.ledger.canonical import canonical_json, es_number

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
_floats = st.floats(allow_nan=False, allow_infinity=False)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _floats | _text,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(_text, kids, max_size=4),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(doc=st.dictionaries(_text, _json, max_size=6))
def test_matches_rfc8785(doc):
    assert canonical_json(doc) == rfc8785.dumps(doc)


@settings(max_examples=300, deadline=None)
@given(f=_floats)
def test_numbers_are_formatted_like_ecmascript(f):
    assert es_number(f).encode() == rfc8785.dumps(f)


@pytest.mark.parametrize(
    "f,text",
    [
        (1.0, "1"),
        (-0.0, "0"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (123.456, "123.456"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
    ],
)
def test_known_numbers(f, text):
    assert es_number(f) == text


def test_fallbacks_and_refusals():
    odd = {"\U0001f600": 1, "\ufb01": 2, "z": '"1.5e+16" and 2.0 \\', "a": [0.5, 2.0, 1e-7, -0.0, 10**15]}
    assert canonical_json(odd) == rfc8785.dumps(odd)
    assert canonical_json({"s": "2.0", "n": 2.0}) == b'{"n":2,"s":"2.0"}'
    assert canonical_json({1: "int key"}) == b'{"1":"int key"}'  # written as json does, like {"1": ...}
    for bad in ({"x": math.nan}, {"x": 2**53}, {"x": -(2**60)}, {"x": object()}, {"x": "\ud800"}):
        with pytest.raises(InvalidRequest):
            canonical_json(bad)
