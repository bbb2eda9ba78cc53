"""The options of a worker deployment, validated before Ray is started (no Ray import here)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class BackendSpec(BaseModel):
    """Which weights a worker loads and how: the part of ``assay worker``'s options each replica needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = "assay-default"  # the built-in model, a local diffusers folder or a hub id
    revision: str | None = None
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    default_steps: int | None = Field(default=None, ge=1, le=150)
    data_dir: str | None = None  # where the weights digest is cached (default: a temporary folder)


class WorkerSpec(BaseModel):
    """Every option of one worker deployment (validated before Ray is started)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: BackendSpec = Field(default_factory=BackendSpec)
    name: str = Field(default="assay-worker", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    route_prefix: str = Field(default="/", pattern=r"^/[A-Za-z0-9_./-]*$")
    num_cpus: float = Field(default=1.0, ge=0)  # per replica
    num_gpus: float = Field(default=0.0, ge=0)  # per replica; fractions share a GPU
    min_replicas: int = Field(default=1, ge=0, le=1000)
    max_replicas: int = Field(default=1, ge=1, le=1000)
    target_ongoing_requests: float = Field(default=2.0, gt=0)  # the autoscaler's target per replica
    max_ongoing_requests: int = Field(
        default=8, ge=1, le=1000
    )  # queued in a replica, beyond: wait in the proxy
    max_batch_size: int = Field(default=4, ge=1, le=64)
    batch_wait_timeout_s: float = Field(default=0.01, ge=0, le=10)

    @model_validator(mode="after")
    def _bounds(self) -> WorkerSpec:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"the fewest replicas ({self.min_replicas}, --min-replicas) is above the most "
                f"({self.max_replicas}, --max-replicas)"
            )
        return self

    def deployment_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {
            "name": self.name,
            "ray_actor_options": {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus},
            "max_ongoing_requests": self.max_ongoing_requests,
        }
        if self.min_replicas == self.max_replicas:
            opts["num_replicas"] = self.max_replicas
        else:
            opts["autoscaling_config"] = {
                "min_replicas": self.min_replicas,
                "max_replicas": self.max_replicas,
                "target_ongoing_requests": self.target_ongoing_requests,
            }
        return opts
