"""The worker as a Ray Serve deployment: replicas with CPU or GPU resources, batching, autoscaling.

Ray Serve does the scheduling (which node, how many replicas, restarts, request queues) and its
HTTP proxy is the endpoint the gateways reach. Each replica loads the backend once and serves
:func:`models.worker.service.make_api`; requests that arrive together are handed to the backend
as one batch (``@serve.batch``: up to ``max_batch_size`` requests, waiting at most
``batch_wait_timeout_s`` for more), which the diffusers backend runs in as few pipeline calls as
the pipeline allows. ``assay worker`` (gateway/cli/worker.py) builds the options and runs it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol, cast

from ray import serve

from core.errors import AssayError
from models.base import GenerationRequest, GenerationResult
from models.worker.service import Runner, WorkerService, load_worker_backend, make_api
from models.worker.spec import WorkerSpec

log = logging.getLogger("assay.worker")


def _runner() -> Runner:
    """The replica serving this request (Ray Serve knows it; a module global would be a copy)."""
    return cast(Runner, serve.get_replica_context().servable_object)


class _Batched(Protocol):
    """What ``@serve.batch`` adds to the method it wraps (its type hints name only the call)."""

    def set_max_batch_size(self, new_max_batch_size: int) -> None: ...

    def set_batch_wait_timeout_s(self, new_batch_wait_timeout_s: float) -> None: ...


api = make_api(_runner)


@serve.deployment
@serve.ingress(api)
class ImageWorker:
    """One replica: the backend loaded once, requests batched into it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = WorkerSpec.model_validate(spec)
        if self.spec.backend.device == "auto" and self.spec.num_gpus > 0:
            self.spec = self.spec.model_copy(
                update={"backend": self.spec.backend.model_copy(update={"device": "cuda"})}
            )
        ctx = serve.get_replica_context()
        self.service = WorkerService(
            load_worker_backend(self.spec.backend),
            deployment=self.spec.name,
            max_batch_size=self.spec.max_batch_size,
            notes=[f"served by Ray Serve deployment {self.spec.name} (replica {ctx.replica_id.unique_id})"],
        )
        batched = cast(_Batched, self.generate_batched)
        batched.set_max_batch_size(self.spec.max_batch_size)
        batched.set_batch_wait_timeout_s(self.spec.batch_wait_timeout_s)
        info = self.service.backend.info
        log.warning("worker replica ready: %s %s on %s", info.model_id, info.weights_digest, info.device)

    @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.01)
    async def generate_batched(
        self, requests: list[GenerationRequest]
    ) -> list[GenerationResult | AssayError]:
        return await asyncio.to_thread(self.service.generate_many, requests)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        out = await self.generate_batched(request)
        if isinstance(out, AssayError):
            raise out
        return out


def build(spec: WorkerSpec) -> Any:
    """The Ray Serve application of ``spec`` (``serve.run`` it, or reference it from a config file)."""
    deployment = cast(serve.Deployment, ImageWorker)  # @serve.deployment made the class a Deployment
    return deployment.options(**spec.deployment_options()).bind(spec.model_dump(mode="json"))


def app_builder(args: dict[str, Any]) -> Any:
    """The application for Ray Serve's own tooling (``serve run`` / ``serve deploy`` config files,
    KubeRay's RayService): ``import_path: models.worker.deployment:app_builder`` with ``args`` as
    the fields of :class:`~models.worker.spec.WorkerSpec` (see docs/deployment.md)."""
    return build(WorkerSpec.model_validate(args or {}))
