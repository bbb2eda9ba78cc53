"""A periodic task on a daemon thread: scheduled checkpoints and retention runs.

Failures are logged and the schedule goes on (the next tick retries); nothing here may take the
gateway down. Every replica may run the same schedule: checkpoints of the same size and repeated
retention runs are harmless (a run erases only what is still there).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from gateway.errors import AssayError, ConfigError

log = logging.getLogger("assay.ledger")
T = TypeVar("T")


class Periodic(Generic[T]):
    def __init__(self, name: str, fn: Callable[[], T], interval_s: float, *, first_delay_s: float | None = None) -> None:
        if interval_s <= 0:
            raise ConfigError(f"{name}: the interval must be positive")
        self.name = name
        self.fn = fn
        self.interval_s = interval_s
        self.first_delay_s = interval_s if first_delay_s is None else first_delay_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> T | None:
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
