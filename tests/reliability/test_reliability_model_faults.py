"""Fail closed when the model or what is around it misbehaves, through the real HTTP API: a model
that raises, returns NaN/black frames, the wrong size or too few images; a remote upstream that
answers 500 or 429 or trickles its body past the deadline; a blob store that is read-only;
PostgreSQL connections cut again and again under concurrent load. Each ends in a clear error to
the client, a failure record, no image released, and the gateway serving the next request
(tests/reliability/test_reliability_faults.py has the timeout, signer, full-disk and locked-store
cases; test_reliability_saturation.py the hung model)."""

from __future__ import annotations

import errno
import threading
import time

import httpx
import pytest
from reliability_support import all_records, assert_failed_closed, ledger_report, released_rows, snapshot

from models.testing import FaultyBackend, PhotoBackend

GEN = {"prompt": "a lighthouse on a cliff at dusk", "size": "256x256", "n": 2}


def _ok(client, auth, state) -> None:  # noqa: ANN001
    r = client.post("/v1/images/generations", headers=auth, json=GEN)
    assert r.status_code == 200, r.text
    rid = r.json()["assay"]["record_id"]
    assert [x.record_id for x in all_records(state)].count(rid) == 1
    assert len(released_rows(state, rid)) == 2


# --- the model answers wrongly -------------------------------------------------------------------
@pytest.fixture
def tiny_backend() -> FaultyBackend:
    return FaultyBackend("none")


@pytest.mark.parametrize(
    "fault,status,code,says",
    [
        ("raises", 503, "component_failure", "RuntimeError"),
        ("nan", 502, "backend_error", "entirely black"),
        ("black", 502, "backend_error", "entirely black"),
        ("wrong_size", 502, "backend_error", "131x128, 256x256 was asked for"),
        ("too_few", 502, "backend_error", "returned 1 images, 2 were asked for"),
    ],
)
def test_a_model_that_answers_wrongly_releases_nothing_and_the_next_request_is_served(
    client, lean_auth, state, tiny_backend, fault, status, code, says
) -> None:  # noqa: ANN001
    tiny_backend.fault = fault
    before = snapshot(state)
    r = client.post("/v1/images/generations", headers=lean_auth, json=GEN)
    rec = assert_failed_closed(
        state, r, status=status, code=code, stage="backend", recorded=True, before=before
    )
    assert says in r.json()["error"]["message"] or says in rec.body["error"]["type"], r.text
    assert rec.body["outputs"] == []
    assert state.admission.snapshot()["running"] == 0, "the failed call kept its slot"
    tiny_backend.fault = "none"
    _ok(client, lean_auth, state)


# --- the blob store is read-only -----------------------------------------------------------------
def test_a_read_only_blob_store_releases_nothing_and_is_recorded(
    client, lean_auth, state, monkeypatch
) -> None:
    import gateway.blobs as blobs

    def read_only(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(blobs.tempfile, "mkstemp", read_only)
    before = snapshot(state)
    r = client.post("/v1/images/generations", headers=lean_auth, json=GEN)
    assert_failed_closed(
        state, r, status=503, code="store_unavailable", stage="store", recorded=True, before=before
    )
    assert "Read-only file system" in r.json()["error"]["message"]
    monkeypatch.undo()
    _ok(client, lean_auth, state)


# --- a remote upstream that fails ------------------------------------------------------------------
class _Upstream:
    """An OpenAI-compatible upstream behind httpx's MockTransport; ``mode`` says how it answers."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.calls = 0
        self.photos = PhotoBackend()

    def __call__(self, req: httpx.Request) -> httpx.Response:
        import base64
        import io
        import json

        from models.base import GenerationRequest

        self.calls += 1
        if self.mode == "500":
            return httpx.Response(500, json={"error": {"message": "CUDA out of memory"}})
        if self.mode == "429":
            return httpx.Response(429, json={"error": {"message": "slow down"}}, headers={"retry-after": "7"})
        body = json.loads(req.content)
        w, h = (int(x) for x in body["size"].split("x"))
        res = self.photos.generate(GenerationRequest(prompt=body["prompt"], width=w, height=h, n=body["n"]))
        data = []
        for im in res.images:
            buf = io.BytesIO()
            im.save(buf, format="PNG")
            data.append({"b64_json": base64.b64encode(buf.getvalue()).decode()})
        payload = json.dumps({"created": 1, "data": data}).encode()
        if self.mode == "trickle":
            return httpx.Response(200, stream=_Trickle(payload), headers={"content-type": "application/json"})
        return httpx.Response(200, content=payload, headers={"content-type": "application/json"})


class _Trickle(httpx.SyncByteStream):
    """The first bytes of the body, then one byte every 50 ms: never done before any deadline."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.closed = threading.Event()

    def __iter__(self):  # noqa: ANN204
        yield self.payload[:100]
        for b in self.payload[100:]:
            if self.closed.is_set():
                return
            time.sleep(0.05)
            yield bytes([b])

    def close(self) -> None:
        self.closed.set()


@pytest.fixture
def upstream() -> _Upstream:
    return _Upstream()


@pytest.fixture
def remote(upstream):  # noqa: ANN001, ANN201
    from models.remote import RemoteBackend

    return RemoteBackend(
        "http://upstream.test/v1",
        transport=httpx.MockTransport(upstream),
        retries=0,
        discover=False,
        breaker_failures=50,
    )


@pytest.mark.parametrize(
    "mode,status,code,says",
    [
        ("500", 502, "backend_error", "500: CUDA out of memory"),
        ("429", 503, "overloaded", "429: slow down"),
        ("trickle", 504, "backend_timeout", "within 2 s"),
    ],
)
def test_a_failing_remote_upstream_ends_in_a_clear_error_and_the_next_request_is_served(
    client, lean_auth, state, monkeypatch, upstream, remote, mode, status, code, says
) -> None:  # noqa: ANN001
    monkeypatch.setattr(state, "_backend", remote)
    monkeypatch.setattr(state.settings, "backend_timeout_s", 1.5)
    upstream.mode = mode
    before = snapshot(state)
    t0 = time.monotonic()
    r = client.post("/v1/images/generations", headers=lean_auth, json=GEN)
    took = time.monotonic() - t0
    decision = "refused" if code == "overloaded" else "failed"
    assert_failed_closed(
        state, r, status=status, code=code, stage="backend", recorded=True, before=before, decision=decision
    )
    assert says in r.json()["error"]["message"], r.text
    if mode == "429":
        assert r.headers["Retry-After"] == "7", "the upstream's Retry-After was not passed on"
    if mode == "trickle":
        assert took < 1.5 + 10, f"the trickling upstream held the request {took:.1f} s"
    t0 = time.monotonic()  # the abandoned call itself ends at its deadline too (per-chunk check)
    while state.admission.snapshot()["running"] and time.monotonic() - t0 < 3:
        time.sleep(0.02)
    assert state.admission.snapshot()["running"] == 0, "the remote call outlived its deadline"
    upstream.mode = "ok"
    monkeypatch.setattr(state.settings, "backend_timeout_s", 120.0)
    _ok(client, lean_auth, state)


# --- PostgreSQL connections cut again and again under concurrent load -------------------------------
@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgres_restarted_under_load_releases_only_what_is_recorded_and_recovers(
    client, lean_auth, state, db_url, monkeypatch
) -> None:  # noqa: ANN001
    """Every connection to the test's own database is terminated (``pg_terminate_backend``, as a
    restart does) every 150 ms while eight clients generate: each request either has exactly its
    one released record or fails closed with nothing released, and the gateway serves after."""
    from sqlalchemy import create_engine, text

    from core.store.db import normalise_url
    from tests.concurrency import at_once

    _ok(client, lean_auth, state)
    admin = create_engine(normalise_url(db_url))
    stop = threading.Event()
    killed: list[int] = []

    def restarts() -> None:
        with admin.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT")
            while not stop.is_set():
                rows = c.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).fetchall()
                killed.extend(1 for (ok,) in rows if ok)
                time.sleep(0.15)

    before = snapshot(state)
    killer = threading.Thread(target=restarts, daemon=True)
    killer.start()
    try:
        outcomes = at_once(
            [lambda: client.post("/v1/images/generations", headers=lean_auth, json=GEN) for _ in range(8)],
            timeout=300,
        )
    finally:
        stop.set()
        killer.join(10)
        admin.dispose()
    assert killed, "no connection was cut"
    escaped = [o for o in outcomes if isinstance(o, BaseException)]
    assert escaped == [], f"an error escaped the gateway's error handling: {escaped!r}"
    ok = [o for o in outcomes if o.status_code == 200]
    for r in outcomes:
        assert r.status_code in (200, 503), r.text
        if r.status_code == 503:
            assert "data" not in r.json() and r.json()["error"]["code"] == "store_unavailable", r.text
    _ok(client, lean_auth, state)
    new = all_records(state)[before.records :]
    released = {rec.record_id for rec in new if rec.decision == "allow"}
    for r in ok:
        rid = r.json()["assay"]["record_id"]
        assert rid in released and len(released_rows(state, rid)) == 2
    assert len(released) == len(ok) + 1, "a released record whose request failed, or a missing one"
    assert len({rec.record_id for rec in new}) == len(new), "a record was written twice"
    for rec in new:
        if rec.decision != "allow":
            assert released_rows(state, rec.record_id) == []
    assert len(released_rows(state)) == before.released + 2 * (len(ok) + 1)
    report = ledger_report(state)
    assert report.ok, report.summary()
