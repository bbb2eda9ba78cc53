"""Audit queries: filters, tenant scope, keyset cursors that refuse other queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from core.errors import InvalidRequest
from provenance.ledger.query import AuditQuery, encode_cursor, page


def _all(ledger, q, limit=37):
    out, cursor = [], None
    while True:
        p = page(ledger, q, limit=limit, cursor=cursor)
        out += p.records
        if p.next_cursor is None:
            return out
        cursor = p.next_cursor


def test_filters_match_a_scan(ledger, filled, clock):
    start = filled[0].created_at
    cases = [
        ({"tenant": "acme"}, lambda r: r.tenant == "acme"),
        ({"tenant": "acme", "requester": "user-3"}, lambda r: r.tenant == "acme" and r.requester == "user-3"),
        ({"decision": "block"}, lambda r: r.decision == "block"),
        ({"category": "pii"}, lambda r: "pii" in r.categories),
        (
            {"model": "sd-turbo", "tenant": "globex"},
            lambda r: r.model_id == "sd-turbo" and r.tenant == "globex",
        ),
        (
            {"since": start + timedelta(seconds=50), "until": start + timedelta(seconds=80)},
            lambda r: start + timedelta(seconds=50) <= r.created_at < start + timedelta(seconds=80),
        ),
        ({"policy": "default", "kind": "generation"}, lambda r: True),
    ]
    for filters, pred in cases:
        got = _all(ledger, AuditQuery(**filters))
        want = [r.record_id for r in reversed(filled) if pred(r)]
        assert [r.record_id for r in got] == want, filters
    asc = _all(ledger, AuditQuery(order="asc", decision="review"), limit=500)
    assert [r.index for r in asc] == sorted(r.index for r in asc)


def test_category_filter_is_exact_not_a_pattern(ledger, make_record):
    ledger.append(make_record(categories=["selfxharm"]))
    assert page(ledger, AuditQuery(category="self_harm")).records == []


def test_bad_filters_and_foreign_cursors_are_invalid(ledger, filled):
    with pytest.raises(ValidationError):
        AuditQuery(decision="DROP TABLE")
    with pytest.raises(ValidationError):
        AuditQuery(requester="user-1")  # needs a tenant
    with pytest.raises(ValidationError):
        AuditQuery(since=filled[5].created_at, until=filled[1].created_at)
    q = AuditQuery(tenant="acme")
    cur = page(ledger, q, limit=5).next_cursor
    with pytest.raises(InvalidRequest, match="other filters"):
        page(ledger, AuditQuery(tenant="globex"), cursor=cur)
    for bad in ("garbage", "", "eyJ2IjoxfQ", encode_cursor(q, 3)[:-2]):
        if bad:
            with pytest.raises(InvalidRequest):
                page(ledger, q, cursor=bad)
    with pytest.raises(InvalidRequest):
        page(ledger, q, limit=0)
