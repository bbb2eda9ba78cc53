"""Prometheus metrics: requests, decisions by category, stage/check/mark latencies, and the model
path under load (admission queue depth, wait, refusals, cancellations: gateway.admission).

Each `Metrics` owns its own registry so that several apps in one process (tests) do not collide.
``assay serve --workers N`` runs N processes behind one port, and a scrape reaches any one of
them: there it sets ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode, where
every process writes its values to files in that folder) and ``/metrics`` sums all the workers.
Separate replicas are separate scrape targets.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: set (before prometheus_client is imported) in every worker of a multi-process server; read as
#: ``Settings.metrics_multiproc_dir``
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self, multiproc_dir: Path | str | None = None) -> None:
        """``multiproc_dir``: prometheus_client's multiprocess folder (``Settings.metrics_multiproc_dir``);
        when set, :meth:`render` sums the values every process wrote there."""
        self.multiproc_dir = multiproc_dir
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "assay_http_requests_total",
            "HTTP requests",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "assay_decisions_total", "Generation outcomes", ["status"], registry=self.registry
        )
        self.categories = Counter(
            "assay_decision_categories_total", "Categories in decisions", ["category"], registry=self.registry
        )
        self.stage = Histogram(
            "assay_stage_seconds",
            "Pipeline stage latency",
            ["stage"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.check = Histogram(
            "assay_check_seconds", "Check latency", ["check"], buckets=_BUCKETS, registry=self.registry
        )
        self.mark = Histogram(
            "assay_mark_seconds", "Mark latency", ["mark"], buckets=_BUCKETS, registry=self.registry
        )
        # --- the model path under load (gateway.admission) ---
        self.cancellations = Counter(
            "assay_generations_cancelled_total",
            "Generations given up on (deadline passed); the backend was told to stop",
            ["reason"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "assay_admission_refusals_total",
            "Requests refused before any work (503 with Retry-After), by reason",
            ["reason"],
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "assay_admission_wait_seconds",
            "Time a generation waited for the model",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "assay_admission_queue_depth",
            "Generations waiting for the model",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.running = Gauge(
            "assay_admission_running",
            "Generations holding the model (a stopped-waiting but still running one included)",
            registry=self.registry,
            multiprocess_mode="livesum",
        )

    def refused(self, reason: str) -> None:
        self.refusals.labels(reason).inc()

    def admission_wait(self, seconds: float) -> None:
        self.queue_wait.observe(seconds)

    def admission_depth(self, waiting: int, running: int) -> None:
        self.queue_depth.set(waiting)
        self.running.set(running)

    def cancelled(self, reason: str) -> None:
        """A generation given up on: its deadline was cancelled so that the backend stops."""
        self.cancellations.labels(reason).inc()

    def decision(self, status: str, categories: list[str]) -> None:
        self.decisions.labels(status).inc()
        for c in categories:
            self.categories.labels(c).inc()

    def stage_latency(self, stage: str, seconds: float) -> None:
        self.stage.labels(stage).observe(seconds)

    def check_latency(self, check: str, seconds: float) -> None:
        self.check.labels(check).observe(seconds)

    def mark_latency(self, mark: str, seconds: float) -> None:
        self.mark.labels(mark).observe(seconds)

    def render(self) -> bytes:
        folder = self.multiproc_dir
        if folder:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=str(folder))
            return generate_latest(registry)
        return generate_latest(self.registry)
