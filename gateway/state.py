"""Everything a running gateway holds, built once per process from `Settings`, and how it is wired.

The API (through ``Depends``) and the CLI share this one object, so ``assay generate`` runs
exactly the pipeline that ``POST /v1/images/generations`` runs (:meth:`AppState.generate`). Nothing
here is needed by another replica: the database and the blob store are the shared state.

This is the top of the gateway's imports: it builds the release stage, the pipeline and the review
queue from their collaborators (stores, registries, metrics), and none of them imports it back.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from core.errors import AssayError
from core.settings import Settings
from core.store import Database
from gateway.admission import Admission
from gateway.auth import KeyStore
from gateway.blobs import BlobStore, FileBlobStore
from gateway.metrics import Metrics
from gateway.pipeline import Pipeline, PipelineRequest, PipelineResult
from gateway.policy import Policy, PolicySet
from gateway.release import Release
from gateway.review.cases import CaseDesk
from gateway.review.queue import ReviewQueue
from gateway.store import migrate
from models.base import Backend
from provenance.ledger import Ledger
from provenance.mark_registry import MarkRegistry
from safety.registry import CheckRegistry

if TYPE_CHECKING:  # pragma: no cover
    from provenance.verify import VerifyReport

log = logging.getLogger("assay")


class AppState:
    def __init__(
        self,
        settings: Settings,
        *,
        backend: Backend | None = None,
        db: Database | None = None,
        blobs: BlobStore | None = None,
        policies: PolicySet | None = None,
    ) -> None:
        self.settings = settings
        settings.ensure_dirs()
        self.db = db or Database(settings.db_url)
        if settings.auto_migrate:
            migrate(self.db)
        self.keys = KeyStore(self.db)
        self.ledger = Ledger(self.db)
        self.policies = policies or PolicySet.from_dir(settings.policy_dir)
        self.policies.get(settings.default_policy)  # an unknown default policy fails start-up
        self.checks = CheckRegistry(settings)
        self.marks = MarkRegistry(settings)
        self.blobs: BlobStore = blobs or FileBlobStore(settings.blob_dir)
        self.metrics = Metrics(settings.metrics_multiproc_dir)
        self._backend = backend
        self._backend_lock = threading.Lock()
        self.admission = Admission(
            concurrency=self._backend_concurrency,
            queue_size=settings.admission_queue_size,
            max_wait_s=settings.admission_max_wait_s,
            overrun_grace_s=settings.admission_overrun_grace_s,
            metrics=self.metrics,
        )
        # threads start as needed; the admission bounds how many calls run (a slot is held until
        # its call returns, so a call that outlives its request still counts)
        self.backend_pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="assay-backend")
        #: set while the app runs: the leadership of the scheduled ledger jobs (one replica holds it)
        self.schedule_leader: Any | None = None
        #: marks -> store -> record, for the pipeline and for approved reviews alike
        self.release = Release(
            marks=self.marks,
            blobs=self.blobs,
            recorder=self.ledger,
            metrics=self.metrics,
            features=settings.released_features,
        )
        self.pipeline = Pipeline(
            policies=self.policy_for,
            backend=lambda: self.backend,
            checks=self.checks,
            release=self.release,
            metrics=self.metrics,
            admission=self.admission,
            backend_pool=self.backend_pool,
            backend_timeout_s=lambda: float(self.settings.backend_timeout_s),
            default_steps=lambda: self.settings.default_steps,
        )
        self.review_queue = ReviewQueue(
            db=self.db,
            ledger=self.ledger,
            blobs=self.blobs,
            settings=settings,
            policies=self.policies,
            release=self.release,
        )
        self.cases = CaseDesk(self.review_queue, verify=self._verify_image)

    def _verify_image(self, data: bytes) -> VerifyReport:
        from provenance.verify import verifier_for

        return verifier_for(self).verify(data)

    # -- components ---------------------------------------------------------------------------
    @property
    def backend(self) -> Backend:
        if self._backend is None:
            with self._backend_lock:
                if self._backend is None:
                    from models.loader import load_backend

                    self._backend = load_backend(self.settings)
        return self._backend

    def _backend_concurrency(self) -> int:
        """How many generations the model takes at once: ASSAY_BACKEND_CONCURRENCY, else what the
        backend says (``max_concurrency``: 1 for a diffusers pipeline under its lock), else 2."""
        if self.settings.backend_concurrency:
            return self.settings.backend_concurrency
        return int(getattr(self.backend, "max_concurrency", 2))

    def preload(self) -> None:
        """Load the model, every check and every mark that any policy names (start-up, not first request)."""
        from safety.verdict import TargetKind

        info = self.backend.info
        log.warning(
            "model %s%s",
            info.model_id,
            " (PLACEHOLDER: untrained random weights)" if info.placeholder else "",
        )
        for pol in self.policies.all():
            self.marks.preload(pol.mark_names())
            for kind in TargetKind:
                for spec in pol.checks.for_target(kind):
                    warm = getattr(self.checks.get(spec.name), "warm", None)
                    if callable(warm):  # e.g. build a near-dup index's search structure now
                        warm(spec.parsed)

    def policy_for(self, tenant: str) -> Policy:
        row = self.keys.tenant(tenant)
        return self.policies.get(row.policy_id if row is not None else self.settings.default_policy)

    def generate(self, req: PipelineRequest) -> PipelineResult:
        """Run the pipeline on ``req`` and hand what it held to the review queue (the API and the CLI
        call this; ``result.review_id`` names the queued item)."""
        result = self.pipeline.run(req)
        if result.held:
            result.review_id = self.review_queue.hold(result, req)
        return result

    # -- health -------------------------------------------------------------------------------
    def readiness(self) -> dict[str, Any]:
        """What /readyz reports: each component ok or the error, plus warnings for unsafe defaults."""
        comps: dict[str, str] = {}
        warnings: list[str] = []
        report_extra: dict[str, Any] = {}
        try:
            self.db.ping()
            comps["store"] = "ok"
        except AssayError as exc:
            comps["store"] = exc.message
        try:
            info = self.backend.info
            saturated = self.admission.saturation()
            down = _unavailable(self.backend)
            comps["model"] = down or ("saturated" if saturated else "ok")
            if saturated:  # the queue is full, or a generation overran its deadline and runs on
                report_extra["saturation"] = saturated
            if info.placeholder:
                warnings.append("the model is an untrained PLACEHOLDER (random weights)")
        except AssayError as exc:
            comps["model"] = exc.message
        try:
            for pol in self.policies.all():
                self.marks.preload(pol.mark_names())
            comps["marks"] = "ok"
        except AssayError as exc:
            comps["marks"] = exc.message
        signer = self.marks.peek("c2pa")
        if signer is not None and getattr(signer, "development", False):
            warnings.append(
                "C2PA signing uses a generated DEVELOPMENT certificate: set ASSAY_SIGNING_CERT/KEY"
            )
        if not self.settings.is_production:
            warnings.append("ASSAY_ENV=development")
        for pol in self.policies.all():
            if pol.unsafe_allow_unmarked:
                warnings.append(f"policy {pol.id} allows unmarked images (unsafe_allow_unmarked)")
        report: dict[str, Any] = {
            "ready": all(v == "ok" for v in comps.values()),
            "components": comps,
            "warnings": warnings,
            "admission": self.admission.snapshot(),
            **report_extra,
        }
        if self.schedule_leader is not None:  # which replica signs the scheduled checkpoints
            report["schedule_leader"] = self.schedule_leader.held
        return report

    def close(self) -> None:
        self.pipeline.close()
        self.backend_pool.shutdown(wait=False, cancel_futures=True)
        self.db.dispose()


def _unavailable(backend: Backend) -> str | None:
    """Why a backend refuses work right now (a remote one whose circuit is open), if it says."""
    why = getattr(backend, "unavailable", None)
    return why() if callable(why) else None
