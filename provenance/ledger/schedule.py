"""A periodic task on a daemon thread: scheduled checkpoints and retention runs.

Failures are logged and the schedule goes on (the next tick retries); nothing here may take the
gateway down. Every replica starts the same schedules, but with a ``leader`` (a
:class:`core.store.locks.Leadership`) a tick runs only in the replica that holds it: one
elected replica signs the scheduled checkpoints and runs retention, and when it dies the next
tick of another replica takes over.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from core.errors import AssayError, ConfigError
from core.store.locks import Leadership

log = logging.getLogger("assay.ledger")
T = TypeVar("T")


class Periodic(Generic[T]):
    def __init__(
        self,
        name: str,
        fn: Callable[[], T],
        interval_s: float,
        *,
        first_delay_s: float | None = None,
        leader: Leadership | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ConfigError(f"{name}: the interval must be positive")
        self.name = name
        self.fn = fn
        self.interval_s = interval_s
        self.first_delay_s = interval_s if first_delay_s is None else first_delay_s
        self.leader = leader
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> T | None:
        """Run once (in the leader only, where there is one); None where it did not run or failed."""
        if self.leader is not None and not self.leader.acquire():
            return None
        try:
            return self.fn()
        except AssayError as exc:
            log.warning("%s failed: %s", self.name, exc.diagnostics())
            return None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"assay-{self.name}", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        delay = self.first_delay_s
        while not self._stop.wait(delay):
            self.tick()
            delay = self.interval_s

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
