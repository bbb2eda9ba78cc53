"""Backends stop when the request's deadline passes or is cancelled: the diffusers backend between
denoising steps (``callback_on_step_end``), the built-in model the same way, and the model is free
for the next request within one step. NaN latents are caught at the step they appear."""

from __future__ import annotations

import threading
import time

import pytest

from core.deadline import Deadline
from core.errors import BackendError, BackendTimeout
from models.base import GenerationRequest
from models.diffusers_backend import DiffusersBackend
from models.testing import SlowSteps

STEP_S = 0.05


@pytest.fixture(scope="module")
def default_model_backend(tmp_path_factory: pytest.TempPathFactory) -> DiffusersBackend:
    """The built-in model's pipeline class (AssayShapesPipeline) with random weights."""
    from models import default

    folder = default.save_untrained(tmp_path_factory.mktemp("shapes") / "shapes", seed=0)
    return DiffusersBackend(str(folder), device="cpu", default_steps=2)


@pytest.fixture(params=["tiny_sd", "default_model"])
def backend(request: pytest.FixtureRequest, tiny_backend, default_model_backend) -> DiffusersBackend:  # noqa: ANN001
    return tiny_backend if request.param == "tiny_sd" else default_model_backend


def _long(deadline: Deadline | None) -> GenerationRequest:
    return GenerationRequest(prompt="a red circle", width=64, height=64, steps=150, seed=1, deadline=deadline)


def test_a_passed_deadline_stops_the_pipeline_within_one_step(backend: DiffusersBackend) -> None:
    with SlowSteps(backend, STEP_S) as slow:
        deadline = Deadline(0.6)
        t0 = time.monotonic()
        with pytest.raises(BackendTimeout, match="deadline of 0.6 s passed"):
            backend.generate(_long(deadline))
        took = time.monotonic() - t0
        calls = slow.calls
    # 150 steps would take >= 7.5 s of sleep alone; it stopped at the first step boundary after
    # the deadline: at most the step under way when it passed began later than it
    assert calls < 150, f"{calls} denoiser calls: the step loop was not interrupted"
    assert deadline.expires_at is not None
    late = slow.after(deadline.expires_at)
    assert late <= 1, f"{late} denoising steps began after the deadline (took {took:.2f} s)"
    assert not backend._lock.locked(), "the stopped call still holds the model"


def test_a_cancel_from_another_thread_frees_the_model_for_a_waiting_request(
    backend: DiffusersBackend,
) -> None:
    """The gateway gives up (its own timeout) while a second request waits for the model's lock."""
    abandoned = Deadline(None)
    errors: list[BaseException] = []

    def run_long() -> None:
        try:
            backend.generate(_long(abandoned))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    with SlowSteps(backend, STEP_S) as slow:
        t = threading.Thread(target=run_long)
        t.start()
        while slow.calls < 2:  # the long call holds the model
            time.sleep(0.01)
        waiting = Deadline(20)
        done: list[float] = []

        def run_short() -> None:
            backend.generate(
                GenerationRequest(prompt="x", width=64, height=64, steps=1, seed=3, deadline=waiting)
            )
            done.append(time.monotonic())

        s = threading.Thread(target=run_short)
        s.start()
        time.sleep(0.2)
        t_cancel = time.monotonic()
        abandoned.cancel("the gateway gave up on it")
        t.join(30)
        late = [x for x in slow.starts if x > t_cancel]
        s.join(30)
    assert not t.is_alive() and not s.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], BackendTimeout)
    assert "the gateway gave up on it" in str(errors[0])
    assert done, "the waiting request was not served after the cancel"
    # after the cancel: at most the abandoned call's step under way, then the short request's one step
    assert len(late) <= 2, f"{len(late)} denoiser passes after the cancel"


def test_waiting_for_the_lock_ends_at_the_deadline(tiny_backend: DiffusersBackend) -> None:
    tiny_backend._lock.acquire()
    try:
        t0 = time.monotonic()
        with pytest.raises(BackendTimeout, match="waiting for the model"):
            tiny_backend.generate(
                GenerationRequest(prompt="x", width=64, height=64, steps=1, deadline=Deadline(0.3))
            )
        assert time.monotonic() - t0 < 2
    finally:
        tiny_backend._lock.release()


def test_nan_latents_are_an_error_at_the_step_they_appear(tiny_backend: DiffusersBackend) -> None:
    def nan_out(_module, _args, out):  # noqa: ANN001, ANN202
        return (out[0] * float("nan"), *out[1:]) if isinstance(out, tuple) else out

    handle = tiny_backend.pipe.unet.register_forward_hook(nan_out)
    try:
        with pytest.raises(BackendError, match="NaN at step 1"):
            tiny_backend.generate(GenerationRequest(prompt="x", width=64, height=64, steps=20, seed=1))
    finally:
        handle.remove()
    assert tiny_backend.generate(GenerationRequest(prompt="x", width=64, height=64, steps=1)).images


def test_a_batch_member_that_gave_up_gets_its_own_stop_and_the_others_their_images(
    tiny_backend: DiffusersBackend,
) -> None:
    gone = Deadline(None)
    gone.cancel("its client hung up")
    reqs = [
        GenerationRequest(prompt="a", width=64, height=64, steps=1, seed=1),
        GenerationRequest(prompt="b", width=64, height=64, steps=1, seed=2, deadline=gone),
    ]
    out = tiny_backend.generate_batch(reqs)
    assert len(out[0].images) == 1
    assert isinstance(out[1], BackendTimeout) and "hung up" in out[1].message
