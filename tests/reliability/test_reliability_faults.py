"""Fail closed under injected faults: no image leaves, the client gets a clear error, the failure is
recorded whenever the store can take the record, and the ledger still verifies afterwards.

The check-raises, backend-raises and ledger-append-raises cases live in
tests/gateway/test_api_images.py; these are the faults that need more than a monkeypatched
exception: a model that does not answer in time, a signer (HSM) that fails, a disk that is full,
a database locked by someone else, and a PostgreSQL connection cut under the gateway's feet.
Each test drives the real HTTP API and inspects the stores, not just the response.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
import time

import pytest
from reliability_support import all_records, assert_failed_closed, ledger_report, released_rows, snapshot

GEN = {"prompt": "a lighthouse on a cliff at dusk", "size": "256x256", "n": 1}


def _wrap_generate(state, monkeypatch, before):  # noqa: ANN001, ANN202
    """Run ``before()`` inside the backend call (that is: mid-request, after auth and policy lookup)."""
    real = state.backend.generate

    def generate(req):  # noqa: ANN001, ANN202
        before()
        return real(req)

    monkeypatch.setattr(state.backend, "generate", generate)


def _ok(client, auth, state) -> None:  # noqa: ANN001
    """A normal generation succeeds, has one released record and its image is indexed."""
    r = client.post("/v1/images/generations", headers=auth, json=GEN)
    assert r.status_code == 200, r.text
    rid = r.json()["assay"]["record_id"]
    assert [x.record_id for x in all_records(state)].count(rid) == 1
    assert len(released_rows(state, rid)) == 1


# --- the model does not answer in time ---------------------------------------------------------
def test_model_timeout_releases_nothing_even_when_the_model_answers_late(
    client, lean_auth, state, monkeypatch
) -> None:
    monkeypatch.setattr(state.settings, "backend_timeout_s", 1.0)
    finished = threading.Event()
    real = state.backend.generate

    def slow(req):  # noqa: ANN001, ANN202
        try:
            time.sleep(2.5)
            return real(req)
        finally:
            finished.set()

    monkeypatch.setattr(state.backend, "generate", slow)
    before = snapshot(state)
    r = client.post("/v1/images/generations", headers=lean_auth, json=GEN)
    rec = assert_failed_closed(
        state, r, status=504, code="backend_timeout", stage="backend", recorded=True, before=before
    )
    assert "did not answer" in r.json()["error"]["message"]
    assert rec.body["outputs"] == [] and rec.body["model"] is None
    # the abandoned call completes later: its images must not surface anywhere
    assert finished.wait(60)
    time.sleep(0.2)
    assert state.ledger.head().size == before.records + 1
    assert len(released_rows(state)) == before.released


# --- the signer (an HSM/KMS behind the callback interface) fails ---------------------------------
def test_signer_failure_releases_nothing_and_is_recorded(client, lean_auth, state) -> None:
    from provenance.c2pa_sign.mark import C2paMark
    from provenance.c2pa_sign.signer import process_signer
    from provenance.testing import FailingSigner

    failing = FailingSigner(process_signer(state.settings))
    state.marks.add(C2paMark(failing, provider=state.settings.provider_name))
    before = snapshot(state)
    r = client.post("/v1/images/generations", headers=lean_auth, json=GEN)
    rec = assert_failed_closed(
        state, r, status=503, code="signing_failed", stage="marks", recorded=True, before=before
    )
    assert failing.calls >= 1, "the failing signer was never asked to sign"
    assert "c2pa" in r.json()["error"]["message"].lower()
    # the watermark was embedded before the signature failed: those pixels were never stored
    assert all(o["blob"] is None for o in rec.body["outputs"])
    assert not state.settings.blob_dir.exists() or not any(
        p.is_file() for p in state.settings.blob_dir.rglob("*")
    )


def test_a_signer_that_hangs_releases_nothing_and_the_next_request_is_served(
    client, lean_auth, state
) -> None:
    """An HSM/KMS that stops answering: the request fails closed at the signing deadline (503,
    recorded, nothing stored), and the gateway signs the next request once the signer answers."""
    import time

    from provenance.c2pa_sign.mark import C2paMark
    from provenance.c2pa_sign.signer import process_signer
    from provenance.testing import SlowSigner

    slow = SlowSigner(process_signer(state.settings), delay_s=60)
    state.marks.add(C2paMark(slow, provider=state.settings.provider_name, timeout_s=1.0))
    before = snapshot(state)
    t0 = time.monotonic()
    r = client.post("/v1/images/generations", headers=lean_auth, json=GEN)
    assert time.monotonic() - t0 < 30, "the request waited for the hung signer"
    rec = assert_failed_closed(
        state, r, status=503, code="signing_failed", stage="marks", recorded=True, before=before
    )
    assert "did not answer within 1 s" in r.json()["error"]["message"]
    assert all(o["blob"] is None for o in rec.body["outputs"])
    slow.release.set()  # the signer answers again: the next request is signed and released
    r2 = client.post("/v1/images/generations", headers=lean_auth, json=GEN)
    assert r2.status_code == 200, r2.text


# --- the blob store's disk is full ---------------------------------------------------------------
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux) for a real ENOSPC")
def test_full_blob_store_releases_nothing_and_is_recorded(client, lean_auth, state, monkeypatch) -> None:
    """The file store's own write path meets a real ENOSPC (writes go to /dev/full)."""
    import gateway.blobs as blobs

    real_mkstemp = blobs.tempfile.mkstemp

    def full_disk(*a, **k):  # noqa: ANN002, ANN003, ANN202
        fd, path = real_mkstemp(*a, **k)
        os.close(fd)
        os.unlink(path)
        return os.open("/dev/full", os.O_WRONLY), path

    monkeypatch.setattr(blobs.tempfile, "mkstemp", full_disk)
    before = snapshot(state)
    r = client.post("/v1/images/generations", headers=lean_auth, json=GEN)
    rec = assert_failed_closed(
        state, r, status=503, code="store_unavailable", stage="store", recorded=True, before=before
    )
    assert os.strerror(errno.ENOSPC) in r.json()["error"]["message"]
    assert rec.body["error"]["stage"] == "store"
    assert not any(p.is_file() for p in state.settings.blob_dir.rglob("*"))


# --- SQLite: another process holds the write lock while the request runs ---------------------------
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_locked_mid_request_releases_nothing_then_recovers(
    client, lean_auth, state, monkeypatch
) -> None:
    from sqlalchemy import event

    # the gateway waits busy_timeout (10 s) for a lock; shorten it so the test does not wait that long
    def short_busy(dbapi_conn, _rec):  # noqa: ANN001, ANN202
        dbapi_conn.execute("PRAGMA busy_timeout=300")

    event.listen(state.db.engine, "connect", short_busy)
    state.ledger.close()
    state.db.engine.dispose()
    path = state.db.engine.url.database
    holder: dict[str, sqlite3.Connection] = {}

    def lock() -> None:
        conn = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN EXCLUSIVE")
        holder["conn"] = conn

    _wrap_generate(state, monkeypatch, lock)
    before = snapshot(state)
    try:
        r = client.post("/v1/images/generations", headers=lean_auth, json=GEN)
        assert "conn" in holder, "the lock was never taken"
        # the ledger append (record + index rows, one transaction) fails first and the store cannot
        # take the failure record either: nothing recorded, nothing released
        assert_failed_closed(
            state, r, status=503, code="store_unavailable", stage="ledger", recorded=False, before=before
        )
        assert "locked" in r.json()["error"]["message"]
    finally:
        conn = holder.get("conn")
        if conn is not None:
            if conn.in_transaction:
                conn.rollback()
            conn.close()
    monkeypatch.undo()
    _ok(client, lean_auth, state)
    assert ledger_report(state).ok


# --- PostgreSQL: every connection of the gateway is terminated while the model runs -----------------
@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgres_connections_cut_mid_request(client, lean_auth, state, monkeypatch, db_url) -> None:
    from sqlalchemy import create_engine, event, text

    from core.store.db import normalise_url

    pids: set[int] = set()

    def remember(dbapi_conn, _rec):  # noqa: ANN001, ANN202
        pids.add(dbapi_conn.info.backend_pid)

    event.listen(state.db.engine, "connect", remember)
    state.ledger.close()
    state.db.engine.dispose()
    _ok(client, lean_auth, state)  # a serving gateway: pooled and ledger-writer connections are open
    assert pids
    admin = create_engine(normalise_url(db_url))
    killed: list[int] = []

    def cut() -> None:
        with admin.connect() as c:
            for pid in sorted(pids):
                if c.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar():
                    killed.append(pid)

    _wrap_generate(state, monkeypatch, cut)
    before = snapshot(state)
    try:
        r = client.post("/v1/images/generations", headers=lean_auth, json=GEN)
    finally:
        admin.dispose()
    assert killed, "no connection of the gateway was cut"
    if r.status_code == 200:
        # reconnected in time: then the image has exactly one released record
        rid = r.json()["assay"]["record_id"]
        assert [x.record_id for x in all_records(state)[before.records :]] == [rid]
        assert len(released_rows(state, rid)) == 1
    else:
        rec = assert_failed_closed(
            state, r, status=503, code="store_unavailable", stage=None, recorded=None, before=before
        )
    monkeypatch.undo()
    _ok(client, lean_auth, state)
    assert ledger_report(state).ok
    if r.status_code != 200 and rec is None:
        pytest.xfail(
            f"failure at stage {r.json()['assay'].get('stage')} was not recorded although the "
            "store was reachable again (docs/threat-model.md G1)"
        )


# --- the ledger append fails once, the store answers again right after --------------------------
def test_a_transient_ledger_failure_releases_nothing_and_is_recorded(
    client, lean_auth, state, monkeypatch
) -> None:
    from core.errors import StoreError

    real = state.ledger.append
    calls: list[str] = []

    def flaky(record, **kw):  # noqa: ANN001, ANN003, ANN202
        calls.append(record.record_id)
        if len(calls) == 1:
            raise StoreError(
                "ledger append failed: OperationalError: server closed the connection unexpectedly"
            )
        return real(record, **kw)

    monkeypatch.setattr(state.ledger, "append", flaky)
    before = snapshot(state)
    r = client.post("/v1/images/generations", headers=lean_auth, json=GEN)
    rec = assert_failed_closed(
        state, r, status=503, code="store_unavailable", stage="ledger", recorded=None, before=before
    )
    monkeypatch.undo()
    _ok(client, lean_auth, state)
    assert rec is not None, "the failure after a failed ledger append was not recorded"


# --- a check finds the client's input unusable ----------------------------------------------------
class _RefusesInput:
    """A check that finds what it is given unusable the way a decoder rejecting a format variant does:
    it raises the client's error (InvalidRequest), not a failure of its own."""

    name = "test.refuses_input"
    targets = frozenset({"prompt", "input_image", "output_image"})

    def __init__(self, on: str) -> None:
        self.on = on

    def run(self, item):  # noqa: ANN001, ANN201
        from core.errors import ImageDecodeError, InvalidRequest

        if item.target.kind.value != self.on:
            return []
        if self.on == "prompt":
            raise InvalidRequest("prompt uses a script this check cannot read", param="prompt")
        raise ImageDecodeError(f"{item.target}: CMYK JPEG with an unsupported colour profile", param="image")


def _with_check(state, on: str) -> None:  # noqa: ANN001
    from reliability_support import install_lean_policy, install_variant

    install_lean_policy(state)
    spec = [{"name": "test.refuses_input"}]
    install_variant(
        state, "lean", "lean-refuses", checks={"prompt": spec, "input_image": spec, "output_image": spec}
    )
    state.checks.add(_RefusesInput(on))


@pytest.mark.parametrize("on,stage", [("input_image", "input_checks"), ("prompt", "prompt_checks")])
def test_a_check_that_finds_the_clients_input_unusable_is_a_4xx_recorded_and_releases_nothing(
    client, auth, state, monkeypatch, on, stage
) -> None:  # noqa: ANN001
    """Not a 503: the client's upload (or prompt) is at fault and the client can fix it. Still fail
    closed: the backend never runs, nothing is released, and an ``invalid`` record names the stage."""
    import io

    from PIL import Image

    _with_check(state, on)
    called = []
    monkeypatch.setattr(state.backend, "generate", lambda req: called.append(req))
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buf, format="PNG")
    before = snapshot(state)
    r = client.post(
        "/v1/images/edits",
        headers=auth,
        files={"image": ("in.png", buf.getvalue(), "image/png")},
        data={"prompt": "make it blue", "size": "256x256"},
    )
    code, param = ("invalid_image", "image") if on == "input_image" else ("invalid_request", "prompt")
    rec = assert_failed_closed(
        state, r, status=400, code=code, stage=stage, recorded=True, before=before, decision="invalid"
    )
    assert r.json()["error"]["param"] == param and r.json()["error"]["type"] == "invalid_request_error"
    assert rec.body["status"] == "invalid" and rec.body["error"]["type"] in (
        "ImageDecodeError",
        "InvalidRequest",
    )
    assert called == [], "the backend ran although the input was refused"


def test_a_check_raising_invalid_request_on_an_output_image_is_its_own_failure(client, auth, state) -> None:
    """The output image is the gateway's own: a check that cannot read it has failed (503), whatever it
    raised."""
    _with_check(state, "output_image")
    before = snapshot(state)
    r = client.post("/v1/images/generations", headers=auth, json=GEN)
    assert_failed_closed(
        state, r, status=503, code="check_failed", stage="output_checks", recorded=True, before=before
    )
