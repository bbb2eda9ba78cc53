"""Prometheus metrics: requests, decisions by category, stage/check/mark latencies.

Each `Metrics` owns its own registry so that several apps in one process (tests) do not collide.
``assay serve --workers N`` runs N processes behind one port, and a scrape reaches any one of
them: there it sets ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode, where
every process writes its values to files in that folder) and ``/metrics`` sums all the workers.
Separate replicas are separate scrape targets.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

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
