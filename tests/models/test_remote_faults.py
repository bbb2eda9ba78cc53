"""The remote backend under a failing upstream: a deadline that bounds the whole call (an upstream
that stalls or trickles mid-body included), retries only where the upstream cannot have done the
work (with jittered back-off and its Retry-After honoured), and a circuit breaker. And the worker's
side: the deadline header makes a worker stop its generation."""

from __future__ import annotations

import base64
import io
import socket
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from core.deadline import Deadline
from core.errors import BackendError, BackendTimeout, Overloaded
from models.base import GenerationRequest
from models.remote import CircuitBreaker, RemoteBackend
from models.worker.protocol import DEADLINE_HEADER
from models.worker.service import LocalRunner, WorkerService, make_api


def _png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), "blue").save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


OK = {"created": 1, "data": [{"b64_json": _png()}]}


def _req(deadline: Deadline | None = None) -> GenerationRequest:
    return GenerationRequest(prompt="x", width=64, height=64, deadline=deadline)


def _backend(handler, **kw) -> RemoteBackend:  # noqa: ANN001, ANN003
    kw.setdefault("backoff_s", 0)
    return RemoteBackend(
        "http://upstream.test/v1", transport=httpx.MockTransport(handler), discover=False, **kw
    )


# --- retries: only where the upstream cannot have done the work -------------------------------
def test_a_500_is_not_sent_again_the_upstream_may_have_run_it() -> None:
    calls = []
    be = _backend(lambda r: calls.append(r) or httpx.Response(500, text="boom"), retries=3)
    with pytest.raises(BackendError, match="500"):
        be.generate(_req())
    assert len(calls) == 1


def test_a_read_timeout_is_not_sent_again() -> None:
    calls = []

    def handler(r: httpx.Request) -> httpx.Response:
        calls.append(r)
        raise httpx.ReadTimeout("slow", request=r)

    with pytest.raises(BackendTimeout, match="not retried"):
        _backend(handler, retries=3).generate(_req())
    assert len(calls) == 1


def test_a_connection_that_never_opened_is_retried_with_the_same_idempotency_key() -> None:
    calls: list[httpx.Request] = []

    def handler(r: httpx.Request) -> httpx.Response:
        calls.append(r)
        if len(calls) < 3:
            raise httpx.ConnectError("refused", request=r)
        return httpx.Response(200, json=OK)

    res = _backend(handler, retries=2).generate(_req(Deadline(30)))
    assert len(calls) == 3 and res.images[0].size == (64, 64)
    assert len({c.headers["idempotency-key"] for c in calls}) == 1
    assert 0 < float(calls[0].headers[DEADLINE_HEADER]) <= 30


def test_a_503_is_retried_no_sooner_than_its_retry_after() -> None:
    calls: list[float] = []

    def handler(r: httpx.Request) -> httpx.Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return httpx.Response(503, json={"error": {"message": "busy"}}, headers={"retry-after": "0.4"})
        return httpx.Response(200, json=OK)

    _backend(handler, retries=2, backoff_s=0.01).generate(_req(Deadline(30)))
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.4


def test_a_429_whose_retry_after_outlasts_the_deadline_is_refused_at_once_with_it() -> None:
    calls = []

    def handler(r: httpx.Request) -> httpx.Response:
        calls.append(r)
        return httpx.Response(429, json={"error": {"message": "slow down"}}, headers={"retry-after": "20"})

    t0 = time.monotonic()
    with pytest.raises(Overloaded) as exc:
        _backend(handler, retries=5).generate(_req(Deadline(5)))
    assert time.monotonic() - t0 < 2 and len(calls) == 1
    assert exc.value.retry_after == 20 and exc.value.status == 503
    assert "429: slow down" in exc.value.message


def test_jittered_backoff_stays_within_its_bound_and_varies() -> None:
    be = _backend(lambda r: httpx.Response(200, json=OK), backoff_s=1.0)
    delays = [be._backoff(2, None) for _ in range(200)]
    assert all(0 <= d <= 4.0 for d in delays) and len({round(d, 3) for d in delays}) > 100
    assert all(be._backoff(0, 7.0) >= 7.0 for _ in range(20))


# --- the circuit breaker ------------------------------------------------------------------------
def test_the_circuit_opens_after_n_failures_refuses_at_once_then_one_probe_closes_it() -> None:
    calls = []
    healthy = threading.Event()

    def handler(r: httpx.Request) -> httpx.Response:
        calls.append(r)
        return httpx.Response(200, json=OK) if healthy.is_set() else httpx.Response(500, text="down")

    be = _backend(handler, retries=0, breaker_failures=3, breaker_reset_s=0.3)
    for _ in range(3):
        with pytest.raises(BackendError, match="500"):
            be.generate(_req())
    assert be.breaker.state == "open" and "circuit open" in (be.unavailable() or "")
    with pytest.raises(Overloaded) as exc:
        be.generate(_req())
    assert len(calls) == 3, "an open circuit still called the upstream"
    assert exc.value.reason == "circuit_open" and exc.value.retry_after >= 1
    time.sleep(0.35)
    assert be.breaker.state == "half_open" and be.unavailable() is None
    with pytest.raises(BackendError):  # the probe fails: open again at once
        be.generate(_req())
    assert be.breaker.state == "open" and len(calls) == 4
    time.sleep(0.35)
    healthy.set()
    assert be.generate(_req()).images  # the probe succeeds: closed
    assert be.breaker.state == "closed" and be.breaker.failures == 0


def test_half_open_lets_one_probe_through_at_a_time() -> None:
    now = [0.0]
    br = CircuitBreaker(failures=1, reset_s=10, clock=lambda: now[0])
    br.failure()
    assert br.state == "open" and not br.allow()
    now[0] = 11
    assert br.allow() and not br.allow(), "two probes at once in half-open"
    br.success()
    assert br.state == "closed" and br.allow() and br.allow()


# --- an upstream that stalls or trickles mid-body ----------------------------------------------
class _StallingUpstream:
    """A raw HTTP server on loopback: headers and the start of a JSON body, then ``mode``:
    ``stall`` (nothing more) or ``trickle`` (one byte every 50 ms, forever)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n"
                b'{"created": 1, "data": [{"b64_json": "'
            )
            while not self.stop.is_set():
                if self.mode == "trickle":
                    conn.sendall(b"A")
                time.sleep(0.05)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize("mode", ["stall", "trickle"])
def test_an_upstream_that_stops_mid_body_is_dropped_at_the_deadline(mode: str) -> None:
    up = _StallingUpstream(mode)
    try:
        be = RemoteBackend(up.url, timeout_s=600, retries=3, discover=False)
        t0 = time.monotonic()
        with pytest.raises(BackendTimeout):
            be.generate(_req(Deadline(1.0)))
        took = time.monotonic() - t0
        assert took < 1.0 + 1.5, f"the call ran {took:.1f} s past a 1 s deadline"
        assert be.breaker.failures == 1, "a broken-off call was sent again or not counted"
    finally:
        up.close()


def test_a_cancel_from_another_thread_ends_a_stalled_call() -> None:
    up = _StallingUpstream("stall")
    try:
        be = RemoteBackend(up.url, timeout_s=600, retries=0, discover=False)
        d = Deadline(None)
        threading.Timer(0.5, d.cancel, args=("the gateway gave up on it",)).start()
        t0 = time.monotonic()
        with pytest.raises(BackendTimeout, match="gave up"):
            be.generate(_req(d))
        assert time.monotonic() - t0 < 3
    finally:
        up.close()


# --- the worker drops a request whose deadline passes -----------------------------------------
def test_a_worker_stops_a_generation_at_the_callers_deadline(tiny_backend) -> None:  # noqa: ANN001
    from models.testing import SlowSteps

    runner = LocalRunner(WorkerService(tiny_backend, deployment="test-worker"))
    body = {"prompt": "a red circle", "size": "64x64", "steps": 150}
    with TestClient(make_api(lambda: runner)) as c, SlowSteps(tiny_backend, 0.05) as slow:
        t0 = time.monotonic()
        r = c.post("/v1/images/generations", json=body, headers={DEADLINE_HEADER: "0.5"})
        assert r.status_code == 504 and r.json()["error"]["code"] == "backend_timeout", r.text
        assert slow.calls < 150 and slow.after(t0 + 0.5) <= 1
        r = c.post("/v1/images/generations", json=body, headers={DEADLINE_HEADER: "soon"})
        assert r.status_code == 400 and r.json()["error"]["param"] == DEADLINE_HEADER
