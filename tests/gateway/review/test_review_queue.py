"""The queue service on SQLite and PostgreSQL: racing claims, lease expiry, undo when the ledger or a
mark fails, the decision webhook (signed, retried with backoff)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from core.errors import Forbidden, MarkError, StoreError
from gateway.pipeline import PipelineRequest
from gateway.review import DecisionIn, ReviewConflict, ReviewState, verify_signature
from gateway.review.tables import ReviewEvent
from gateway.review.webhooks import BACKOFF_BASE_S, MAX_ATTEMPTS, backoff_s
from tests.concurrency import at_once, raised
from tests.gateway.review.support import PROMPT, ledger_ok, review_records

pytestmark = pytest.mark.usefixtures("held_policy")
OK = DecisionIn(reason_code="no_violation")


def _principals(state, n: int, tenant: str = "acme", role: str = "reviewer") -> list:  # noqa: ANN001
    return [state.keys.authenticate(state.keys.create(tenant, role, name=f"{role}{i}")[0]) for i in range(n)]


def _hold(state, requester, prompt: str = PROMPT) -> str:  # noqa: ANN001
    res = state.generate(PipelineRequest(prompt=prompt, principal=requester, size="256x256", seed=5))
    assert res.status == "held" and res.review_id
    return res.review_id


@pytest.fixture
def requester(state):  # noqa: ANN001, ANN201
    return _principals(state, 1, role="requester")[0]


def test_of_racing_claims_exactly_one_wins_and_an_expired_lease_frees_the_item(state, requester) -> None:
    q = state.review_queue
    rid = _hold(state, requester)
    reviewers = _principals(state, 6)
    outcomes = at_once([lambda p=p: q.claim(p, rid) for p in reviewers])
    won = [p.key_id for p, o in zip(reviewers, outcomes, strict=True) if not isinstance(o, BaseException)]
    lost = [p.key_id for p, o in zip(reviewers, outcomes, strict=True) if isinstance(o, ReviewConflict)]
    other = [repr(o) for o in raised(outcomes) if not isinstance(o, ReviewConflict)]
    assert other == [] and len(won) == 1 and len(lost) == 5
    winner = next(p for p in reviewers if p.key_id == won[0])
    loser = next(p for p in reviewers if p.key_id != won[0])
    d = q.detail(loser, rid)
    assert d.state is ReviewState.CLAIMED and d.claimed_by == winner.key_id
    assert [r.decision for r in review_records(state, rid)] == ["queued", "claimed"]

    # while the lease runs, nobody else may take it or decide
    with pytest.raises(ReviewConflict):
        q.claim(loser, rid)
    with pytest.raises(ReviewConflict):
        q.approve(loser, rid, OK)
    # the lease expires: the item is pending again and another reviewer takes it
    real = q.clock
    q.clock = lambda: real() + q.lease + timedelta(seconds=1)
    assert q.detail(loser, rid).state is ReviewState.PENDING
    assert q.page(loser).counts.pending == 1
    d = q.claim(loser, rid)
    assert d.claimed_by == loser.key_id
    assert review_records(state, rid)[-1].body["took_over_expired"] is True
    # the first reviewer's late decision is refused and changes nothing
    with pytest.raises(ReviewConflict):
        q.approve(winner, rid, OK)
    q.clock = lambda: real() + q.lease + timedelta(seconds=2)
    q.approve(loser, rid, OK)  # first of two (real_person is four-eyes in this policy)
    assert q.detail(loser, rid).first_approver == loser.key_id
    ledger_ok(state)


def test_a_failed_ledger_append_undoes_the_action(state, requester, monkeypatch) -> None:
    q = state.review_queue
    rid = _hold(state, requester)
    r1 = _principals(state, 1)[0]
    before = state.ledger.head().size

    def down(_rec):  # noqa: ANN001, ANN202
        raise StoreError("ledger unreachable")

    monkeypatch.setattr(state.ledger, "append", down)
    with pytest.raises(StoreError):
        q.claim(r1, rid)
    monkeypatch.undo()
    d = q.detail(r1, rid)
    assert d.state is ReviewState.PENDING and d.claimed_by is None
    assert [e.action for e in d.events] == ["queued"] and state.ledger.head().size == before
    q.claim(r1, rid)  # works once the ledger is back
    assert q.detail(r1, rid).state is ReviewState.CLAIMED


def test_a_failing_mark_releases_nothing_and_keeps_the_claim(state, requester, monkeypatch) -> None:
    q = state.review_queue
    state.keys.set_policy("acme", "held-one")  # one approval releases
    rid = _hold(state, requester)
    r1 = _principals(state, 1)[0]
    q.claim(r1, rid)
    mark = state.marks.get("c2pa")

    def broken(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise MarkError("signer offline")

    monkeypatch.setattr(mark, "apply", broken)
    with pytest.raises(MarkError):
        q.approve(r1, rid, OK)
    d = q.detail(r1, rid)
    assert d.state is ReviewState.CLAIMED and d.claimed_by == r1.key_id and d.decided_by is None
    assert q.released_images(requester, rid) == []
    assert [r.decision for r in review_records(state, rid)] == ["queued", "claimed"]
    monkeypatch.undo()
    q.approve(r1, rid, OK)  # the retry releases
    [(out, data)] = q.released_images(requester, rid)
    assert out.content_id.endswith("-0") and data[:4] == b"\x89PNG"
    ledger_ok(state)


def test_four_eyes_needs_two_different_reviewers_and_never_the_requester(state, requester) -> None:
    q = state.review_queue
    rid = _hold(state, requester)
    r1, r2 = _principals(state, 2)
    q.claim(r1, rid)
    d = q.approve(r1, rid, OK)
    assert d.state is ReviewState.PENDING and d.approvals == 1 and d.approvals_needed == 2
    with pytest.raises(Forbidden):
        q.claim(r1, rid)
    with pytest.raises(Forbidden):
        q.claim(requester, rid)  # a requester key is not a reviewer
    q.claim(r2, rid)
    d = q.approve(r2, rid, DecisionIn(reason_code="consent_on_file", comment="signed release form #42"))
    assert d.state is ReviewState.APPROVED and d.decided_by == r2.key_id
    rec = review_records(state, rid)[-1]
    assert rec.body["first_approver"] == r1.key_id and rec.body["actor"] == r2.key_id
    assert rec.body["comment_sha256"] and "release form" not in json.dumps(rec.body)
    assert d.prompt == PROMPT  # default policy stores plain prompts


def test_the_webhook_is_signed_and_retried_with_backoff(state, requester) -> None:
    q = state.review_queue
    secret = "s3cret-s3cret-s3cret"
    q.webhooks.set("acme", "https://hooks.example.test/assay", secret)
    calls: list[httpx.Request] = []
    answers = iter([500, 503, 204])

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(next(answers))

    q.webhooks.transport = httpx.MockTransport(handler)
    rid = _hold(state, requester)
    r1 = _principals(state, 1)[0]
    q.claim(r1, rid)
    q.reject(r1, rid, DecisionIn(reason_code="real_person"))
    real = q.clock
    assert q.webhooks.run_due() == 1
    [d] = q.webhooks.deliveries(rid)
    assert d.status == "pending" and d.attempts == 1 and d.last_error == "HTTP 500"
    assert q.webhooks.run_due() == 0  # not due before the backoff
    q.clock = lambda: real() + timedelta(seconds=backoff_s(1) + 0.5)
    assert q.webhooks.run_due() == 1
    q.clock = lambda: real() + timedelta(seconds=backoff_s(1) + backoff_s(2) + 1)
    assert q.webhooks.run_due() == 1
    [d] = q.webhooks.deliveries(rid)
    assert d.status == "delivered" and d.attempts == 3
    assert len(calls) == 3 and calls[0].content == calls[2].content
    body = json.loads(calls[2].content)
    assert (
        body["type"] == "review.rejected"
        and body["review_id"] == rid
        and body["reason_code"] == "real_person"
    )
    sig = calls[2].headers["Assay-Signature"]
    assert verify_signature(secret, sig, calls[2].content, now=q.clock().timestamp())
    assert not verify_signature("wrong-secret-wrong", sig, calls[2].content, now=q.clock().timestamp())
    assert not verify_signature(secret, sig, calls[2].content + b" ", now=q.clock().timestamp())
    assert not verify_signature(secret, sig, calls[2].content, now=q.clock().timestamp() + 3600)  # replay
    assert backoff_s(1) == BACKOFF_BASE_S and backoff_s(30) == 3600


def test_a_webhook_that_keeps_failing_gives_up(state, requester) -> None:
    q = state.review_queue
    q.webhooks.set("acme", "https://hooks.example.test/x", "0123456789abcdef")
    q.webhooks.transport = httpx.MockTransport(lambda r: httpx.Response(500))
    state.keys.set_policy("acme", "held-one")
    rid = _hold(state, requester)
    r1 = _principals(state, 1)[0]
    q.claim(r1, rid)
    q.approve(r1, rid, OK)
    real = q.clock
    for i in range(MAX_ATTEMPTS):
        q.clock = lambda i=i: real() + timedelta(hours=2 * (i + 1))
        q.webhooks.run_due()
    [d] = q.webhooks.deliveries(rid)
    assert d.status == "failed" and d.attempts == MAX_ATTEMPTS


def test_no_webhook_without_a_url(state, requester) -> None:
    q = state.review_queue
    rid = _hold(state, requester)
    r1 = _principals(state, 1)[0]
    q.claim(r1, rid)
    q.reject(r1, rid, DecisionIn(reason_code="pii"))
    assert q.webhooks.deliveries(rid) == []


def test_comments_and_unclaim_are_recorded(state, requester) -> None:
    q = state.review_queue
    rid = _hold(state, requester)
    r1 = _principals(state, 1)[0]
    q.comment(r1, rid, "looks like a stock photo")
    q.claim(r1, rid)
    d = q.unclaim(r1, rid)
    assert d.state is ReviewState.PENDING
    assert [e.action for e in d.events] == ["queued", "commented", "claimed", "unclaimed"]
    assert d.events[1].comment == "looks like a stock photo"
    with state.db.session() as s:
        ev = s.get(ReviewEvent, d.events[1].id)
    assert state.ledger.get(ev.ledger_record_id).decision == "commented"
    ledger_ok(state)
