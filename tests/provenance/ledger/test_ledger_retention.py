"""Retention erases personal data, records the erasure, and the ledger still verifies."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core.errors import InvalidRequest
from gateway.policy import Policy, PolicySet, PromptStorage, Retention
from provenance.ledger.retention import apply_retention, erase
from provenance.ledger.verify import verify_ledger


def _policy(prompt_days, personal_days):
    base = Policy.model_validate({"id": "p", "version": "1", "unsafe_allow_unmarked": True})
    return base.model_copy(
        update={
            "prompt_storage": PromptStorage(mode="plain", retention_days=prompt_days),
            "retention": Retention(personal_data_days=personal_days),
        }
    )


def test_retention_erases_by_age_and_records_it(ledger, checkpoints, make_record, clock):
    old = ledger.append_many([make_record() for _ in range(3)])
    clock.advance(days=100)
    mid = ledger.append(make_record())
    clock.advance(days=100)
    new = ledger.append(make_record())
    checkpoints.create()
    result = apply_retention(ledger, PolicySet({"p": _policy(90, 180)}).retention_rules("p"), now=clock())
    assert result.erased_records == 4 and len(result.erasure_record_ids) == 1
    for e in old:
        r = ledger.get(e.record_id)
        assert r.prompt is None and r.requester is None and r.prompt_digest and r.erased_at is not None
    r = ledger.get(mid.record_id)
    assert r.prompt is None and r.requester == "user-17"  # only the prompt's 90 days are over
    assert ledger.get(new.record_id).prompt is not None
    erasure = ledger.get(result.erasure_record_ids[0])
    assert erasure.kind == "erasure" and {e["record_id"] for e in erasure.body["erased"]} == {
        e.record_id for e in [*old, mid]
    }
    report = verify_ledger(ledger, checkpoints.verifier)
    assert report.ok and report.erased_records == 4, report.summary()
    assert (
        apply_retention(
            ledger, PolicySet({"p": _policy(90, 180)}).retention_rules("p"), now=clock()
        ).erased_records
        == 0
    )


def test_erasure_without_a_record_is_a_finding(database, ledger, checkpoints, make_record):
    e = ledger.append(make_record())
    with database.engine.begin() as c:
        c.execute(text("UPDATE ledger_entry SET prompt = NULL, requester = NULL, salt = NULL WHERE idx = 0"))
    report = verify_ledger(ledger, checkpoints.verifier)
    assert report.first_bad_index == e.index and "no erasure record" in report.problems[0].message


def test_erase_on_request_is_tenant_scoped(ledger, checkpoints, make_record):
    a = ledger.append(make_record(tenant="acme"))
    b = ledger.append(make_record(tenant="globex"))
    res = erase(
        ledger, [a.record_id, b.record_id], fields=["prompt"], reason="data subject request", tenant="acme"
    )
    assert res.erased_records == 1
    assert ledger.get(a.record_id).prompt is None and ledger.get(a.record_id).requester == "user-17"
    assert ledger.get(b.record_id).prompt is not None
    assert verify_ledger(ledger, checkpoints.verifier).ok
    with pytest.raises(InvalidRequest):
        erase(ledger, [a.record_id], fields=["decision"], reason="x")
