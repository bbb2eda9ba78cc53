"""The leaf bytes are RFC 8785 canonical JSON of the leaf document, whatever the field values."""

from __future__ import annotations

from datetime import UTC, datetime

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.ledger.record import canonical, encode_categories, leaf_bytes, leaf_document

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
_opt = st.none() | _text
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(-1e15, 1e15)
    | _text,  # larger integral floats come back from JSON as ints
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(_text, kids, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(
    idx=st.integers(0, 2**53 - 1),
    strings=st.lists(_opt, min_size=11, max_size=11),
    cats=st.lists(st.from_regex(r"[a-z0-9_]{1,10}", fullmatch=True), max_size=4),
    body=st.dictionaries(_text, _json, max_size=5),
    t=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 1, 1)),
)
def test_fast_leaf_writer_matches_rfc8785(idx, strings, cats, body, t):
    names = [
        "record_id",
        "kind",
        "tenant",
        "decision",
        "model_id",
        "policy_id",
        "policy_digest",
        "subject_id",
        "prompt_digest",
        "prompt_commit",
        "requester_commit",
    ]
    row = dict(zip(names, strings, strict=True))
    row.update(
        idx=idx,
        categories=encode_categories(cats),
        created_at=t,
        appended_at=t.replace(tzinfo=UTC),
        body=canonical(body).decode(),
    )
    assert leaf_bytes(row) == rfc8785.dumps(leaf_document(row))
