"""What an ``assay worker`` and the gateway say to each other over HTTP.

The worker speaks the OpenAI image API (``POST /v1/images/generations``, ``/v1/images/edits``,
``GET /v1/models``), so the gateway reaches it through the ordinary remote backend. Two things
ride along in extra keys, as Assay's own fields do in the gateway's responses:

* requests may carry ``seed``, ``steps``, ``guidance`` and ``negative_prompt`` (the gateway's own
  extras); the remote backend sends them only to an endpoint that said it is an Assay worker;
* requests may carry ``X-Assay-Deadline-S`` (:data:`DEADLINE_HEADER`): the seconds the gateway
  will wait. The worker stops the generation between denoising steps when they pass, or when the
  gateway hangs up (Ray Serve cancels the request), so an abandoned request frees the replica;
* every response carries ``assay.model_info``: the :class:`~models.base.ModelInfo` of the weights
  that made *these* images (id, revision, weights digest, scheduler, seeds, steps), which the
  gateway records as it is. ``GET /v1/models`` lists the model with ``assay_worker`` (protocol,
  model info, deployment), which is how the gateway tells a worker from any other upstream.
"""

from __future__ import annotations

import re
from typing import Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.base import GenerationMode, GenerationRequest, ModelInfo

#: the protocol a worker announces in ``GET /v1/models`` (and the remote backend accepts)
PROTOCOL = "assay-worker/1"
#: request header: the seconds the caller will wait; a worker stops the generation when they pass
DEADLINE_HEADER = "X-Assay-Deadline-S"
_SIZE_RE = re.compile(r"^([1-9][0-9]{0,4})x([1-9][0-9]{0,4})$")
MAX_SIDE = 4096


def parse_size(size: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` as (width, height); a bad value is a ``ValueError`` naming what is accepted."""
    m = _SIZE_RE.match(size or "")
    if not m:
        raise ValueError(f"size {size!r} is not WIDTHxHEIGHT (e.g. 512x512)")
    w, h = int(m.group(1)), int(m.group(2))
    if w > MAX_SIDE or h > MAX_SIDE:
        raise ValueError(f"size {size!r} is larger than {MAX_SIDE} pixels on a side")
    return w, h


class WorkerImageRequest(BaseModel):
    """The body of ``POST /v1/images/generations`` on a worker (unknown OpenAI fields are ignored)."""

    model_config = ConfigDict(extra="ignore")

    prompt: str = Field(min_length=1, max_length=100_000)
    n: int = Field(default=1, ge=1, le=16)
    size: str = "512x512"
    response_format: Literal["b64_json"] = "b64_json"
    model: str | None = None
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    steps: int | None = Field(default=None, ge=1, le=150)
    guidance: float | None = Field(default=None, ge=0, le=50)
    negative_prompt: str | None = Field(default=None, max_length=10_000)

    @field_validator("size")
    @classmethod
    def _size(cls, v: str) -> str:
        parse_size(v)
        return v

    def to_request(
        self,
        mode: GenerationMode = GenerationMode.TXT2IMG,
        *,
        image: Image.Image | None = None,
        mask: Image.Image | None = None,
    ) -> GenerationRequest:
        w, h = parse_size(self.size)
        return GenerationRequest(
            prompt=self.prompt,
            width=w,
            height=h,
            n=self.n,
            seed=self.seed,
            steps=self.steps,
            guidance=self.guidance,
            negative_prompt=self.negative_prompt,
            mode=mode,
            image=image,
            mask=mask,
        )


class WorkerDescription(BaseModel):
    """What a worker says about itself in ``GET /v1/models`` (``assay_worker``)."""

    protocol: str = PROTOCOL
    model_info: ModelInfo
    deployment: str | None = None  # the Ray Serve deployment (and application) serving it
    max_batch_size: int = 1


class WorkerModelCard(BaseModel):
    """One entry of ``GET /v1/models`` (OpenAI's ``Model`` object plus ``assay_worker``)."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "assay"
    assay_worker: WorkerDescription


class WorkerModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[WorkerModelCard]


class WorkerImage(BaseModel):
    b64_json: str
    revised_prompt: str | None = None


class WorkerResult(BaseModel):
    """``assay`` of a worker's image response: exactly what produced these images."""

    model_info: ModelInfo
    elapsed_s: float = 0.0  # the pipeline's own time (a batched call: the whole call's)


class WorkerImageResponse(BaseModel):
    created: int
    data: list[WorkerImage]
    model: str
    assay: WorkerResult
