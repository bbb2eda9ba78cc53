"""A slow or hung model never wedges the gateway: a request that runs past its deadline is stopped
inside the backend (not just abandoned), so the requests after it are served; a model that will
not stop is reported, not hidden behind a ready ``/readyz``.

The acceptance scenario runs a real diffusers pipeline whose denoiser sleeps per step (the built-in
model's ``AssayShapesPipeline`` with random weights, loaded from its folder by the diffusers
backend: the tiny Stable Diffusion runs its UNet at 128x128 for a 256x256 image, seconds per step
on a shared two-core machine; tests/models/test_backend_cancellation.py stops both), through the
real HTTP API, and reads the ledger for what happened.
"""

from __future__ import annotations

import time

import pytest
from reliability_support import all_records, assert_failed_closed, released_rows, snapshot

from models.testing import SlowSteps

STEP_S = 0.1
TIMEOUT_S = 8.0


@pytest.fixture(scope="module")
def tiny_backend(tmp_path_factory):  # noqa: ANN001, ANN201
    """A real diffusers pipeline here (the reliability suite's default is the photo stand-in)."""
    from models import default
    from models.diffusers_backend import DiffusersBackend

    folder = default.save_untrained(tmp_path_factory.mktemp("shapes") / "shapes", seed=0)
    return DiffusersBackend(str(folder), device="cpu", default_steps=2)


def _gen(steps: int, seed: int = 1) -> dict:
    return {"prompt": "a lighthouse on a cliff at dusk", "size": "256x256", "steps": steps, "seed": seed}


def test_after_a_long_request_times_out_three_short_ones_each_succeed_within_their_deadline(
    client, lean_auth, state, monkeypatch
) -> None:  # noqa: ANN001
    monkeypatch.setattr(state.settings, "backend_timeout_s", TIMEOUT_S)
    with SlowSteps(state.backend, STEP_S) as slow:
        before = snapshot(state)
        t0 = time.monotonic()
        r = client.post("/v1/images/generations", headers=lean_auth, json=_gen(150))
        gave_up = time.monotonic()
        # 150 steps sleep 15 s: the gateway answers at its deadline, not when the model is done
        assert_failed_closed(
            state, r, status=504, code="backend_timeout", stage="backend", recorded=True, before=before
        )
        assert gave_up - t0 < TIMEOUT_S + 5, f"the 504 came after {gave_up - t0:.1f} s"
        for i in range(3):
            r = client.post("/v1/images/generations", headers=lean_auth, json=_gen(1, seed=10 + i))
            assert r.status_code == 200, f"short request {i} after the timeout: {r.text}"
            rid = r.json()["assay"]["record_id"]
            rec = state.ledger.get(rid)
            assert rec.body["timings_ms"]["backend_s"] < TIMEOUT_S * 1000
            assert len(released_rows(state, rid)) == 1
        # the abandoned generation stopped at its next step: it did not go on to its 150th
        late = slow.after(gave_up)
        assert late <= 1 + 3, f"{late} denoiser passes after the timeout (3 short requests take 3)"
    assert [x.decision for x in all_records(state)[before.records :]] == ["failed"] + ["allow"] * 3
    text = client.get("/metrics").text
    assert 'assay_generations_cancelled_total{reason="timeout"} 1.0' in text
