"""Per-key rate limits and quotas (gateway/ratelimit.py): token buckets in the database, 429 + Retry-After."""

from __future__ import annotations

import threading

import pytest

from gateway.errors import RateLimited
from gateway.ratelimit import Limit, RateLimiter
from gateway.store import Database


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
    results: list[str] = []
    barrier = threading.Barrier(8)

    def worker(i: int) -> None:
        barrier.wait()
        try:
            limiters[i % 2].charge("hot", lim)
            results.append("ok")
        except RateLimited:
            results.append("429")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    other.dispose()
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
    assert r.json()["error"]["type"] == "rate_limit_error" and r.json()["error"]["code"] == "rate_limit_exceeded"
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
        assert client.get("/v1/audit/records", headers={"Authorization": f"Bearer {auditor}"}).status_code == 200
