"""Errors of the worker: Ray or the deployment would not start (the CLI exits 1 with the reason)."""

from __future__ import annotations

from core.errors import ComponentError


class WorkerError(ComponentError):
    """Ray could not start, or the deployment's replicas did not come up."""

    code = "worker_unavailable"
    component = "worker"
