"""GPU (or CPU) workers: the diffusers backend as a Ray Serve deployment behind the OpenAI image API.

``assay worker`` deploys it (:mod:`models.worker.deployment`); gateways reach it over HTTP through
the remote backend, which recognises a worker by ``GET /v1/models`` and records the ModelInfo
that comes with every image (:mod:`models.worker.protocol`). Ray is imported only by the
deployment module, so the gateway itself never needs it.
"""

from models.worker.protocol import PROTOCOL
from models.worker.spec import BackendSpec, WorkerSpec

__all__ = ["PROTOCOL", "BackendSpec", "WorkerSpec"]
