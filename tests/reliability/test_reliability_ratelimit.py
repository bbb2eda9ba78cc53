"""Per-key rate limits and quotas (gateway/ratelimit.py): token buckets in the database, 429 + Retry-After."""

from __future__ import annotations

import pytest

from core.errors import RateLimited
from core.store import Database
from gateway.ratelimit import Limit, RateLimiter
from tests.concurrency import at_once, raised


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_bucket_refills_with_time_and_names_the_wait(database) -> None:
    clock = Clock()
    rl = RateLimiter(database, clock=clock)
    lim = Limit.per_minute(3)
    for _ in range(3):
        rl.charge("k1", lim)
    with pytest.raises(RateLimited) as e:
        rl.charge("k1", lim)
    assert e.value.retry_after == pytest.approx(20.0, abs=0.01) and e.value.status == 429
    assert "3 requests per minute" in e.value.message
    rl.charge("k2", lim)  # another key has its own bucket
    clock.t += 19.0
    with pytest.raises(RateLimited) as e:
        rl.charge("k1", lim)
    assert e.value.retry_after == pytest.approx(1.0, abs=0.01)
    clock.t += 1.0
    rl.charge("k1", lim)
    clock.t += 3600  # a long pause refills to capacity, not beyond
    for _ in range(3):
        rl.charge("k1", lim)
    with pytest.raises(RateLimited):
        rl.charge("k1", lim)


def test_a_clock_running_behind_never_refills_and_replicas_share_the_bucket(database) -> None:
    lim = Limit.per_minute(2)
    ahead, behind = Clock(2_000_000.0), Clock(2_000_000.0 - 300)
    replica_a = RateLimiter(database, clock=ahead)
    replica_b = RateLimiter(Database(database.url), clock=behind)  # its own engine, same tables
    replica_a.charge("k", lim)
    replica_b.charge("k", lim)
    with pytest.raises(RateLimited):
        replica_a.charge("k", lim)
    with pytest.raises(RateLimited):
        replica_b.charge("k", lim)  # 300 s "behind" must not count as 300 s of refill
    replica_b.db.dispose()


def test_off_and_impossible_costs(database) -> None:
    rl = RateLimiter(database)
    assert Limit.per_minute(0) is None and Limit.per_day(0) is None
    for _ in range(50):
        rl.charge("k", None)
    with pytest.raises(RateLimited, match="can never pass"):
        rl.charge("k", Limit.per_day(2), cost=3)


def test_concurrent_charges_take_exactly_the_capacity(database) -> None:
    """Eight threads on two engines (two replicas) race for five tokens: five pass, three get 429."""
    lim = Limit.per_minute(5)
    other = Database(database.url)
    limiters = [RateLimiter(database, clock=Clock()), RateLimiter(other, clock=Clock())]
    outcomes = at_once([lambda i=i: limiters[i % 2].charge("hot", lim) for i in range(8)], timeout=30)
    other.dispose()
    results = ["429" if isinstance(o, RateLimited) else "ok" for o in outcomes]
    assert raised(outcomes) == [o for o in outcomes if isinstance(o, RateLimited)]  # nothing else went wrong
    assert sorted(results) == ["429"] * 3 + ["ok"] * 5


def test_api_answers_429_with_retry_after_per_key(client, lean_auth, state, monkeypatch) -> None:
    monkeypatch.setattr(state.settings, "rate_limit_per_minute", 2)
    other, _ = state.keys.create("acme", "requester", name="other")
    body = {"prompt": "a red kite", "size": "256x256"}
    assert client.post("/v1/images/generations", headers=lean_auth, json=body).status_code == 200
    assert client.post("/v1/images/generations", headers=lean_auth, json=body).status_code == 200
    size = state.ledger.head().size
    r = client.post("/v1/images/generations", headers=lean_auth, json=body)
    assert r.status_code == 429, r.text
    assert (
        r.json()["error"]["type"] == "rate_limit_error" and r.json()["error"]["code"] == "rate_limit_exceeded"
    )
    assert 1 <= int(r.headers["retry-after"]) <= 30
    assert state.ledger.head().size == size, "a refused request reached the pipeline"
    r = client.post("/v1/images/generations", headers={"Authorization": f"Bearer {other}"}, json=body)
    assert r.status_code == 200, "one key's limit throttled another key"
    # an unauthenticated call is refused before any bucket is touched (no bucket per guessed key)
    assert client.post("/v1/images/generations", json=body).status_code == 401


def test_daily_quota_counts_generations_only(client, lean_auth, state, monkeypatch) -> None:
    monkeypatch.setattr(state.settings, "quota_per_day", 1)
    auditor, _ = state.keys.create("acme", "auditor")
    body = {"prompt": "a red kite", "size": "256x256"}
    assert client.post("/v1/images/generations", headers=lean_auth, json=body).status_code == 200
    r = client.post("/v1/images/generations", headers=lean_auth, json=body)
    assert r.status_code == 429 and "per day" in r.json()["error"]["message"]
    assert int(r.headers["retry-after"]) > 3600
    for _ in range(3):  # reading the audit log is not a generation
        assert (
            client.get("/v1/audit/records", headers={"Authorization": f"Bearer {auditor}"}).status_code == 200
        )


def test_public_verify_is_limited_per_client_address(app, state, requester_key, monkeypatch) -> None:  # noqa: ANN001
    """G5: without a key there is no key bucket; the public verify endpoint charges the client's
    address instead (an IPv6 client by its /64), before it reads the upload, and answers 429 with
    Retry-After. Keyed callers are not charged against it."""
    from fastapi.testclient import TestClient
    from sqlmodel import select

    from gateway.ratelimit import PUBLIC_VERIFY, RateBucket

    monkeypatch.setattr(state.settings, "public_verify", True)
    monkeypatch.setattr(state.settings, "public_verify_per_minute", 2)
    files = {"image": ("x.png", b"not an image", "image/png")}

    def verify(host: str, headers: dict[str, str] | None = None) -> int:
        with TestClient(app, client=(host, 40000)) as c:
            r = c.post("/v1/verify", files=files, headers=headers or {})
        if r.status_code == 429:
            assert r.json()["error"]["type"] == "rate_limit_error"
            assert "public verify requests per minute" in r.json()["error"]["message"]
            assert 1 <= int(r.headers["retry-after"]) <= 30
        return r.status_code

    assert [verify("203.0.113.7") for _ in range(3)] == [415, 415, 429]  # not an image: 4xx, still counted
    assert verify("203.0.113.8") == 415  # another address, its own bucket
    assert verify("::ffff:203.0.113.7") == 429  # the same IPv4 client, mapped
    assert [verify(f"2001:db8:1:2::{i}") for i in (1, 2, 3)] == [415, 415, 429]  # one /64, one bucket
    assert verify("2001:db8:1:3::1") == 415
    keyed = {"Authorization": f"Bearer {requester_key}"}
    assert all(verify("203.0.113.7", keyed) == 415 for _ in range(3))  # a key's own limits apply instead
    with state.db.session() as s:
        keys = s.exec(select(RateBucket.key_id).where(RateBucket.scope == PUBLIC_VERIFY)).all()
    assert len(keys) == 4 and all(k.startswith("ip-") and "203" not in k for k in keys)  # no address stored
    monkeypatch.setattr(state.settings, "public_verify_per_minute", 0)  # 0 = off
    assert verify("203.0.113.7") == 415


def test_buckets_that_refilled_are_pruned_when_a_new_one_is_made(database) -> None:
    """Client-address buckets are unbounded in number: a full bucket is the same as none, so making
    a bucket deletes the full ones of its scope, and the table holds one refill period's clients."""
    from sqlmodel import select

    from gateway.ratelimit import RateBucket

    clock = Clock()
    rl = RateLimiter(database, clock=clock)
    lim = Limit.per_minute(2, "public_verify", "public verify requests")
    for i in range(5):
        rl.charge(f"ip-{i}", lim)
    rl.charge("k", Limit.per_minute(2))  # another scope is left alone
    clock.t += 59.0
    rl.charge("ip-new", lim)  # the others have not refilled yet
    clock.t += 2.0
    rl.charge("ip-0", lim)  # an existing bucket: charged, nothing pruned
    rl.charge("ip-newer", lim)
    with database.session() as s:
        rows = [tuple(r) for r in s.exec(select(RateBucket.key_id, RateBucket.scope)).all()]
    assert sorted(rows) == [
        ("ip-0", "public_verify"),
        ("ip-new", "public_verify"),
        ("ip-newer", "public_verify"),
        ("k", "rpm"),
    ]
    rl.charge("ip-0", lim)
    with pytest.raises(RateLimited, match="ip-0"):
        rl.charge("ip-0", lim)  # ip-0 kept its history: 2 tokens used since the refill
