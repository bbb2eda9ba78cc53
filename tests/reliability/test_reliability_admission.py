"""The admission queue in front of the model (gateway.admission): bounded, fair between tenants
(weighted), per-tenant concurrency, early refusal when the expected wait exceeds the deadline,
and the saturation that /readyz reports. Driven directly, with threads, no HTTP."""

from __future__ import annotations

import threading
import time

import pytest

from core.deadline import Deadline
from core.errors import Overloaded
from gateway.admission import Admission
from gateway.metrics import Metrics
from gateway.policy import AdmissionRules

R = AdmissionRules()


def _admission(concurrency: int = 1, queue_size: int = 100, **kw) -> Admission:  # noqa: ANN003
    return Admission(concurrency=concurrency, queue_size=queue_size, max_wait_s=30, metrics=Metrics(), **kw)


def _queue_in_order(adm: Admission, arrivals: list[tuple[str, AdmissionRules]]) -> list[str]:
    """With the model busy, let ``arrivals`` queue in this order; then free the model and return
    the order in which they were granted (each releases at once, handing the slot on)."""
    blocker = adm.acquire("blocker", R, Deadline(30), 1)
    order: list[str] = []
    lock = threading.Lock()

    def arrive(tenant: str, rules: AdmissionRules) -> None:
        t = adm.acquire(tenant, rules, Deadline(30), 1)
        with lock:
            order.append(tenant)
        t.release(completed=True)

    threads = []
    for i, (tenant, rules) in enumerate(arrivals):
        th = threading.Thread(target=arrive, args=(tenant, rules))
        th.start()
        threads.append(th)
        while adm.snapshot()["waiting"] < i + 1:  # queued in exactly this order
            time.sleep(0.001)
    blocker.release(completed=True)
    for th in threads:
        th.join(10)
    assert not any(th.is_alive() for th in threads)
    return order


def test_tenants_are_served_round_robin_not_in_arrival_order() -> None:
    """A tenant that queued six requests first does not make a later tenant wait for all six."""
    order = _queue_in_order(_admission(), [("a", R)] * 6 + [("b", R)] * 2)
    assert order[:4] in (["a", "b", "a", "b"], ["b", "a", "b", "a"]), order
    assert sorted(order) == ["a"] * 6 + ["b"] * 2


def test_weights_share_the_model_in_proportion() -> None:
    heavy = AdmissionRules(weight=2)
    order = _queue_in_order(_admission(), [("a", heavy)] * 6 + [("b", R)] * 6)
    first_nine = order[:9]
    assert first_nine.count("a") == 6 and first_nine.count("b") == 3, order


def test_a_tenant_at_its_concurrency_limit_leaves_the_free_slot_to_others() -> None:
    adm = _admission(concurrency=2)
    one = AdmissionRules(max_concurrent=1)
    a1 = adm.acquire("a", one, Deadline(30), 1)
    got: list[str] = []

    def a_again() -> None:
        adm.acquire("a", one, Deadline(30), 1).release()
        got.append("a")

    th = threading.Thread(target=a_again)
    th.start()
    while adm.snapshot()["waiting"] < 1:
        time.sleep(0.001)
    b1 = adm.acquire("b", R, Deadline(1), 1)  # the second slot is free for b, not for a
    assert adm.snapshot()["tenants"]["a"] == {"waiting": 1, "running": 1}
    assert got == []
    a1.release()
    th.join(10)
    assert got == ["a"]
    b1.release()


def test_a_request_that_cannot_start_before_its_deadline_is_refused_at_once() -> None:
    adm = _admission()
    adm.sec_per_unit = 1.0  # measured: one cost unit takes a second
    running = adm.acquire("a", R, Deadline(60), 10)  # about ten seconds of work
    t0 = time.monotonic()
    with pytest.raises(Overloaded) as exc:
        adm.acquire("b", R, Deadline(2), 1)
    assert time.monotonic() - t0 < 1, "the refusal waited"
    assert exc.value.reason == "expected_wait" and 8 <= exc.value.retry_after <= 10.5
    assert "expected wait" in exc.value.message and exc.value.status == 503
    assert adm.snapshot()["waiting"] == 0
    running.release(completed=True)
    adm.acquire("b", R, Deadline(2), 1).release()  # free again: admitted
    text = adm.metrics.render().decode()  # type: ignore[union-attr]
    assert 'assay_admission_refusals_total{reason="expected_wait"} 1.0' in text


def test_a_full_queue_refuses_with_retry_after_and_saturates_until_it_drains() -> None:
    adm = _admission(queue_size=1)
    running = adm.acquire("a", R, Deadline(30), 1)
    assert adm.saturation() is None
    waiter = threading.Thread(target=lambda: adm.acquire("b", R, Deadline(30), 1).release())
    waiter.start()
    while adm.snapshot()["waiting"] < 1:
        time.sleep(0.001)
    assert "queue is full" in (adm.saturation() or "")
    with pytest.raises(Overloaded) as exc:
        adm.acquire("c", R, Deadline(30), 1)
    assert exc.value.reason == "queue_full" and exc.value.retry_after >= 1
    running.release(completed=True)
    waiter.join(10)
    assert adm.saturation() is None and adm.snapshot() == {
        "running": 0,
        "waiting": 0,
        "queue_size": 1,
        "concurrency": 1,
        "tenants": {},
    }


def test_a_tenants_own_queue_bound_and_wait_bound() -> None:
    adm = _admission()
    running = adm.acquire("x", R, Deadline(30), 1)
    with pytest.raises(Overloaded) as exc:
        adm.acquire("a", AdmissionRules(max_queued=0), Deadline(30), 1)
    assert exc.value.reason == "tenant_queue_full"
    t0 = time.monotonic()
    with pytest.raises(Overloaded) as exc:
        adm.acquire("a", AdmissionRules(max_wait_s=0.2), Deadline(30), 1)
    assert exc.value.reason == "queue_timeout" and 0.2 <= time.monotonic() - t0 < 3
    assert adm.snapshot()["waiting"] == 0, "a waiter that gave up stayed in the queue"
    running.release()


def test_a_generation_past_its_deadline_that_does_not_stop_saturates_the_model() -> None:
    adm = _admission(overrun_grace_s=0.1)
    d = Deadline(0.2)
    ticket = adm.acquire("a", R, d, 1)
    assert adm.saturation() is None
    time.sleep(0.4)
    d.cancel("the gateway gave up on it")
    reason = adm.saturation() or ""
    assert "overran its deadline" in reason and "tenant a" in reason
    ticket.release()  # the backend finally returned
    assert adm.saturation() is None


def test_the_slot_is_held_until_the_backend_returns_and_speed_is_learnt_from_completed_calls() -> None:
    adm = _admission()
    ticket = adm.acquire("a", R, Deadline(30), 2)
    assert ticket.run(lambda: time.sleep(0.1) or "done") == "done"
    assert adm.snapshot()["running"] == 0
    assert adm.sec_per_unit is not None and 0.04 <= adm.sec_per_unit < 1
    learnt = adm.sec_per_unit
    stopped = Deadline(30)
    ticket = adm.acquire("a", R, stopped, 2)
    stopped.cancel()
    with pytest.raises(RuntimeError):
        ticket.run(lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert adm.snapshot()["running"] == 0 and adm.sec_per_unit == learnt  # a stopped call teaches nothing
