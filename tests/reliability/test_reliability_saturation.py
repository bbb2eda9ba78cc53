"""A model that hangs, through the real HTTP API: a cooperative one is stopped at its deadline and
the next request is served at once; one that will not stop keeps its slot, so the gateway refuses
new work early (503 with Retry-After, recorded as a refusal, the backend never called) and
``/readyz`` says ``model: saturated`` within a second, and ready again once the model is free."""

from __future__ import annotations

import time

import pytest
from reliability_support import assert_failed_closed, released_rows, snapshot

from models.testing import HangingBackend

GEN = {"prompt": "a lighthouse on a cliff at dusk", "size": "256x256", "n": 1}
HANG = {**GEN, "prompt": "hang: a lighthouse on a cliff at dusk"}


@pytest.fixture
def tiny_backend(request: pytest.FixtureRequest) -> HangingBackend:
    cooperative = getattr(request, "param", True)
    return HangingBackend(cooperative=cooperative, hang_on="hang:")


def _ok(client, auth, state) -> float:  # noqa: ANN001
    t0 = time.monotonic()
    r = client.post("/v1/images/generations", headers=auth, json=GEN)
    took = time.monotonic() - t0
    assert r.status_code == 200, r.text
    assert len(released_rows(state, r.json()["assay"]["record_id"])) == 1
    return took


def _ready_within(client, want: bool, seconds: float) -> tuple[float, dict]:  # noqa: ANN001
    t0 = time.monotonic()
    while True:
        r = client.get("/readyz")
        body = r.json()
        if body["ready"] is want:
            assert r.status_code == (200 if want else 503)
            return time.monotonic() - t0, body
        if time.monotonic() - t0 > seconds:
            pytest.fail(f"/readyz still says ready={body['ready']} after {seconds} s: {body}")
        time.sleep(0.05)


def test_a_hung_model_that_honours_its_deadline_frees_the_model_for_the_next_request(
    client, lean_auth, state, monkeypatch, tiny_backend
) -> None:  # noqa: ANN001
    monkeypatch.setattr(state.settings, "backend_timeout_s", 1.0)
    before = snapshot(state)
    r = client.post("/v1/images/generations", headers=lean_auth, json=HANG)
    assert_failed_closed(
        state, r, status=504, code="backend_timeout", stage="backend", recorded=True, before=before
    )
    assert tiny_backend.stopped.wait(5), "the hung model was never told to stop"
    monkeypatch.setattr(state.settings, "backend_timeout_s", 30.0)
    took = _ok(client, lean_auth, state)
    assert took < 30
    assert state.admission.snapshot()["running"] == 0


@pytest.mark.parametrize("tiny_backend", [False], indirect=True)
def test_a_model_that_will_not_stop_saturates_the_gateway_which_refuses_early_and_recovers(
    client, lean_auth, state, monkeypatch, tiny_backend
) -> None:  # noqa: ANN001
    monkeypatch.setattr(state.settings, "backend_timeout_s", 1.0)
    monkeypatch.setattr(state.admission, "overrun_grace_s", 0.2)
    _ready_within(client, True, 5)
    before = snapshot(state)
    r = client.post("/v1/images/generations", headers=lean_auth, json=HANG)
    assert_failed_closed(
        state, r, status=504, code="backend_timeout", stage="backend", recorded=True, before=before
    )
    # it overran its deadline and runs on: not ready within a second, and it says why
    took, body = _ready_within(client, False, 1.0 + 0.2)
    assert body["components"]["model"] == "saturated" and "overran its deadline" in body["saturation"]
    assert took <= 1.2
    # the next request is refused before any work: 503, Retry-After, a refusal record, no backend call
    monkeypatch.setattr(state.admission, "queue_size", 0)  # no waiting room: refuse while it is busy
    calls_before = tiny_backend.started.is_set()
    before = snapshot(state)
    r = client.post("/v1/images/generations", headers=lean_auth, json=GEN)
    rec = assert_failed_closed(
        state,
        r,
        status=503,
        code="overloaded",
        stage="admission",
        recorded=True,
        before=before,
        decision="refused",
    )
    assert int(r.headers["Retry-After"]) >= 1
    assert "queue is full" in r.json()["error"]["message"]
    assert rec.body["status"] == "refused" and rec.body["model"] is None
    assert calls_before and state.admission.snapshot()["running"] == 1
    metrics = client.get("/metrics").text
    assert 'assay_admission_refusals_total{reason="queue_full"} 1.0' in metrics
    assert "assay_admission_running 1.0" in metrics
    assert 'assay_generations_cancelled_total{reason="timeout"} 1.0' in metrics
    # the model finally returns: its late images go nowhere, and the gateway is ready again at once
    t_release = time.monotonic()
    tiny_backend.release()
    took, body = _ready_within(client, True, 1.0)
    assert time.monotonic() - t_release < 1.5 and body["components"]["model"] == "ok"
    monkeypatch.setattr(state.settings, "backend_timeout_s", 30.0)
    _ok(client, lean_auth, state)
    assert "assay_admission_queue_depth 0.0" in client.get("/metrics").text
