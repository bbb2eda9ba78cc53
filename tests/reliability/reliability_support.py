"""Helpers the reliability tests share: a lean policy, and the two questions every fault test asks.

"Was anything released?" and "is every record there, and does the ledger still verify?" are
answered from the gateway's own stores (the released-image index, the ledger, the blob store),
never from the response alone: a gateway that returned an error but left an image reachable
through a signed URL or ``verify`` would still have released it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import select

LEAN_POLICY = "lean"


def install_lean_policy(
    state: Any, tenant: str = "acme", *, prompt_storage: str = "plain", default_size: str | None = None
) -> None:
    """The default pack with every mark (visible, metadata, watermark, C2PA) and no content checks.

    The fault tests are about what the gateway does around a failing component; loading the
    content models of the default pack would only add minutes to each of them.
    """
    limits = state.policies.get("default").limits.model_dump()
    if default_size is not None:
        limits["default_size"] = default_size
    install_variant(
        state,
        "default",
        LEAN_POLICY,
        tenant,
        checks={"prompt": [], "input_image": [], "output_image": []},
        prompt_storage={"mode": prompt_storage, "retention_days": 180},
        limits=limits,
    )


def install_variant(state: Any, of: str, policy_id: str, tenant: str = "acme", **changes: Any) -> None:
    """Policy ``of`` with ``changes`` (top-level keys) as a new policy ``policy_id``, made ``tenant``'s."""
    from gateway.policy import Policy

    base = state.policies.get(of).model_dump()
    base.update(id=policy_id, **changes)
    state.policies.add(Policy.model_validate(base))
    state.keys.ensure_tenant(tenant, policy_id)
    state.keys.set_policy(tenant, policy_id)


def released_rows(state: Any, record_id: str | None = None) -> list[Any]:
    """Rows of the released-image index (what ``verify`` and signed URLs resolve), all or one record's."""
    from provenance.tables import ReleasedImage

    with state.db.session() as s:
        q = select(ReleasedImage)
        if record_id is not None:
            q = q.where(ReleasedImage.record_id == record_id)
        return list(s.exec(q))


def all_records(state: Any) -> list[Any]:
    """Every stored ledger record, in log order."""
    size = state.ledger.head().size
    return [state.ledger.get_index(i) for i in range(size)]


def ledger_report(state: Any) -> Any:
    """What ``assay audit verify`` computes, over this state's database."""
    from provenance.ledger.checkpoint import load_verifier
    from provenance.ledger.verify import verify_ledger

    return verify_ledger(state.ledger, load_verifier(state.settings))


@dataclass(frozen=True)
class Snapshot:
    """How many records and released images there were before the request under test."""

    records: int
    released: int


def snapshot(state: Any) -> Snapshot:
    return Snapshot(records=state.ledger.head().size, released=len(released_rows(state)))


def assert_failed_closed(
    state: Any,
    response: Any,
    *,
    status: int,
    code: str,
    stage: str | None,
    recorded: bool | None,
    before: Snapshot,
    decision: str = "failed",
) -> Any:
    """The gateway refused with a clear error, released nothing, and recorded the failure iff ``recorded``.

    ``recorded=None`` leaves that one question to the caller. Returns the failure record (or None).
    Checks, whatever the response says:
    no image bytes in the body; no row in the released-image index for any record written since
    ``before``; every record written since then is a ``failed`` record (``decision``: ``invalid``
    for the client's bad input) whose outputs carry
    no blob; the index holds no more rows than before; and the ledger verifies.
    """
    assert response.status_code == status, response.text
    body = response.json()
    assert "data" not in body, "an error response carried image data"
    err = body["error"]
    assert err["code"] == code and err["message"], body
    extra = body.get("assay") or {}
    if stage is not None:
        assert extra.get("stage") == stage, body
    new = all_records(state)[before.records :]
    for rec in new:
        assert rec.decision == decision, f"record {rec.record_id} says {rec.decision} after a failure"
        assert all(o.get("blob") is None for o in rec.body["outputs"]), rec.body["outputs"]
        assert released_rows(state, rec.record_id) == []
    if recorded:
        assert extra.get("record_id"), f"the failure was not recorded: {body}"
        assert [r.record_id for r in new] == [extra["record_id"]]
        assert new[0].body["error"]["code"] == code
        if stage is not None:
            assert new[0].body["error"]["stage"] == stage
    elif recorded is False:
        assert new == [] and not extra.get("record_id")
    else:
        assert len(new) <= 1 and [r.record_id for r in new] == (
            [extra["record_id"]] if extra.get("record_id") else []
        )
    assert len(released_rows(state)) == before.released, "an image reached the released-image index"
    report = ledger_report(state)
    assert report.ok, report.summary()
    return new[0] if new else None
