"""How long the next request waits after a generation that ran past its deadline, with and without
the deadline travelling into the backend.

    .venv/bin/python benchmarks/cancellation.py [--step-s 0.1] [--long-steps 150] [--timeout 2]

The built-in model's pipeline (random weights, loaded from its folder by the diffusers backend)
with a denoiser that sleeps ``--step-s`` per step (``models.testing.SlowSteps``). A long request
(``--long-steps``) is given up on after ``--timeout`` seconds, as the gateway's
``ASSAY_BACKEND_TIMEOUT_S`` does; then a 1-step request is sent and timed from the moment of
giving up. *Without* cancellation the abandoned call runs on under the pipeline's lock (the
gateway's behaviour before issue 15: the timeout only stopped waiting); *with* it, the request's
``Deadline`` is cancelled and the step callback interrupts the denoising loop. Prints both times
and the denoising steps the abandoned call still ran after it was given up on.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def run(backend, slow, *, cancel: bool, long_steps: int, timeout_s: float) -> tuple[float, int]:  # noqa: ANN001
    from core.deadline import Deadline
    from models.base import GenerationRequest

    deadline = Deadline(None)
    long_req = GenerationRequest(
        prompt="a red circle",
        width=256,
        height=256,
        steps=long_steps,
        seed=1,
        deadline=deadline if cancel else None,
    )
    t = threading.Thread(target=lambda: _swallow(backend.generate, long_req), daemon=True)
    t.start()
    time.sleep(timeout_s)
    gave_up = time.monotonic()
    if cancel:
        deadline.cancel("the gateway gave up on it")
    backend.generate(GenerationRequest(prompt="a blue star", width=256, height=256, steps=1, seed=2))
    next_s = time.monotonic() - gave_up
    t.join()
    return next_s, slow.after(gave_up) - 1  # less the short request's own step


def _swallow(fn, *a) -> None:  # noqa: ANN001, ANN002
    try:
        fn(*a)
    except Exception:  # noqa: BLE001, S110 - the abandoned call's stop is expected
        pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--step-s", type=float, default=0.1)
    ap.add_argument("--long-steps", type=int, default=150)
    ap.add_argument("--timeout", type=float, default=2.0)
    args = ap.parse_args()

    from models import default
    from models.base import GenerationRequest
    from models.diffusers_backend import DiffusersBackend
    from models.testing import SlowSteps

    with tempfile.TemporaryDirectory() as tmp:
        folder = default.save_untrained(Path(tmp) / "shapes", seed=0)
        backend = DiffusersBackend(str(folder), device="cpu", default_steps=2)
        backend.generate(GenerationRequest(prompt="warm", width=256, height=256))
        with SlowSteps(backend, args.step_s) as slow:
            before, before_steps = run(
                backend, slow, cancel=False, long_steps=args.long_steps, timeout_s=args.timeout
            )
            slow.starts.clear()
            after, after_steps = run(
                backend, slow, cancel=True, long_steps=args.long_steps, timeout_s=args.timeout
            )
    print(
        f"next 1-step request after giving up on a {args.long_steps}-step one at {args.timeout:.1f} s "
        f"({args.step_s:.2f} s per step):"
    )
    print(f"  without cancellation: {before:.2f} s ({before_steps} steps of the abandoned call ran on)")
    print(f"  with cancellation:    {after:.2f} s ({after_steps} steps of the abandoned call ran on)")
    print(f"  ratio: {before / after:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
