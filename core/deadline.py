"""A request's deadline and cancel flag, shared by the gateway (which sets it) and the backends
(which stop when it passes).

Why it exists: a timeout that only stops *waiting* leaves the abandoned generation running under
the backend's lock, so every request after it times out too. A :class:`Deadline` travels with the
request into the backend (``GenerationRequest.deadline``); the backend asks :attr:`Deadline.stopped`
between denoising steps and stops within one step, an HTTP backend bounds its call by
:meth:`Deadline.remaining`, and whoever gives up (the gateway on a timeout, a worker whose client
hung up) calls :meth:`Deadline.cancel`. It lives in ``core`` because ``gateway`` and ``models`` both
need it; it imports nothing of the project but ``core.errors``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from core.errors import BackendTimeout, InvalidRequest


class Deadline:
    """A point on the monotonic clock by which the work must stop, and an explicit cancel.

    Thread-safe: the request's thread cancels, the backend's thread polls. ``timeout_s=None`` is
    no deadline (only :meth:`cancel` stops the work). Callbacks registered with :meth:`on_cancel`
    run once, on the cancelling thread (or at once, if already cancelled).
    """

    def __init__(self, timeout_s: float | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        if timeout_s is not None and (not math.isfinite(timeout_s) or timeout_s <= 0):
            raise InvalidRequest(f"a deadline must be a positive number of seconds, not {timeout_s!r}")
        self._clock = clock
        self.started_at = clock()
        self.timeout_s = timeout_s
        self.expires_at = None if timeout_s is None else self.started_at + timeout_s
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []
        self.reason: str | None = None

    @classmethod
    def after(cls, timeout_s: float | None) -> Deadline:
        return cls(timeout_s)

    # -- state ------------------------------------------------------------------------------------
    def remaining(self) -> float:
        """Seconds left (``inf`` without a deadline, 0 once cancelled or passed)."""
        if self._cancelled.is_set():
            return 0.0
        if self.expires_at is None:
            return math.inf
        return max(0.0, self.expires_at - self._clock())

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self._clock() >= self.expires_at

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def stopped(self) -> bool:
        """True once the work should stop: cancelled, or the deadline has passed."""
        return self._cancelled.is_set() or self.expired

    def overrun_s(self) -> float:
        """How long ago the deadline passed (0 if it has not, or there is none)."""
        if self.expires_at is None:
            return 0.0
        return max(0.0, self._clock() - self.expires_at)

    def elapsed_s(self) -> float:
        return self._clock() - self.started_at

    # -- giving up --------------------------------------------------------------------------------
    def cancel(self, reason: str = "cancelled") -> None:
        with self._lock:
            if self._cancelled.is_set():
                return
            self.reason = reason
            self._cancelled.set()
            callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            try:
                cb()
            except Exception:  # noqa: BLE001, S110 - a failing callback must not stop the others
                pass

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback`` on cancel (at once if already cancelled); returns what unregisters it."""
        with self._lock:
            if not self._cancelled.is_set():
                self._callbacks.append(callback)
                return lambda: self._forget(callback)
        callback()
        return lambda: None

    def _forget(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, waking early on cancel or expiry; True if the work must stop."""
        self._cancelled.wait(min(seconds, self.remaining()))
        return self.stopped

    def check(self, what: str = "the generation") -> None:
        """Raise :class:`BackendTimeout` if the work must stop."""
        if self.stopped:
            raise self.error(what)

    def error(self, what: str = "the generation") -> BackendTimeout:
        if self._cancelled.is_set() and self.reason:
            why = self.reason
        elif self.timeout_s is not None:
            why = f"its deadline of {self.timeout_s:.3g} s passed"
        else:
            why = "it was cancelled"
        return BackendTimeout(
            f"{what} was stopped: {why}",
            hint="retry with fewer steps, a smaller size or n, or ask the operator to raise "
            "ASSAY_BACKEND_TIMEOUT_S",
        )


def any_stopped(deadlines: list[Deadline | None]) -> bool:
    return any(d is not None and d.stopped for d in deadlines)


def all_stopped(deadlines: list[Deadline | None]) -> bool:
    """True when every request of a shared call must stop (a request without a deadline never does)."""
    return bool(deadlines) and all(d is not None and d.stopped for d in deadlines)
