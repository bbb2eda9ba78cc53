"""Running calls at the same moment, for the tests that race replicas, reviewers or writers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any


def at_once(calls: Sequence[Callable[[], Any]], *, timeout: float = 60.0) -> list[Any]:
    """Run every call in its own thread, released together by a barrier; return, in call order,
    what each returned or the exception it raised. A call still running after ``timeout``
    seconds fails the test (a hang is a finding, not a pass)."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = calls[i]()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    hung = [i for i, t in enumerate(threads) if t.is_alive()]
    assert not hung, f"calls {hung} still running after {timeout} s"
    return outcomes


def raised(outcomes: Sequence[Any]) -> list[BaseException]:
    """The exceptions among ``at_once``'s outcomes."""
    return [o for o in outcomes if isinstance(o, BaseException)]
