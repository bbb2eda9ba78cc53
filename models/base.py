"""The `Backend` protocol and the types that cross it.

Why it exists: the gateway must not care whether an image came from SDXL on a local GPU, the
built-in default model on a CPU, or a remote OpenAI-compatible service — but the audit record must
say *exactly* what produced each image. So every backend takes one `GenerationRequest`, returns
one `GenerationResult`, and describes itself with a `ModelInfo` (id, revision, weights digest,
pipeline class, scheduler, seed, steps, guidance, size) that goes into the ledger verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from core.deadline import Deadline
from core.errors import BackendError

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image


class GenerationMode(StrEnum):
    TXT2IMG = "txt2img"
    IMG2IMG = "img2img"
    INPAINT = "inpaint"


@dataclass
class GenerationRequest:
    """A validated request to a backend. The gateway has already checked size, n and prompt length."""

    prompt: str
    width: int = 512
    height: int = 512
    n: int = 1
    seed: int | None = None  # None: the backend draws one and reports it in ModelInfo
    steps: int | None = None  # None: the backend's default
    guidance: float | None = None
    negative_prompt: str | None = None
    mode: GenerationMode = GenerationMode.TXT2IMG
    image: Image.Image | None = None  # img2img / inpaint input (decoded safely upstream)
    mask: Image.Image | None = None  # inpaint mask: white = repaint
    strength: float = 0.75  # img2img / inpaint strength
    control_image: Image.Image | None = None  # a control input (decoded and checked upstream)
    control_type: str | None = None  # which control model: canny, pose, depth, ... (models/control.py)
    control_strength: float = 1.0  # conditioning scale of the control model
    #: when the backend must stop (checked between denoising steps; bounds an HTTP call)
    deadline: Deadline | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ModelInfo(BaseModel):
    """Exactly what produced an image; recorded with every generation."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    backend: str  # "diffusers", "remote", "ray"
    model_id: str  # hub id, local folder name, or remote model name
    revision: str | None = None  # hub commit / folder digest / remote version
    weights_digest: str | None = None  # sha256 over the weight files (sorted by path)
    pipeline_class: str | None = None
    scheduler: str | None = None
    seed: int | None = None
    seeds: list[int] = Field(default_factory=list)  # one per output image
    steps: int | None = None
    guidance: float | None = None
    width: int | None = None
    height: int | None = None
    native_size: int | None = None  # native resolution before resizing, where it differs
    resampler: str | None = None  # how outputs were resized to the requested size
    device: str | None = None
    dtype: str | None = None
    placeholder: bool = False  # True for random-weight stand-ins: never a real model
    #: adapters that shaped the image: ControlNet, T2I-Adapter, IP-Adapter, LoRA ("kind:name")
    adapters: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


@dataclass
class GenerationResult:
    images: list[Image.Image]
    model: ModelInfo
    #: seconds the backend itself took (reported apart from the compliance path)
    elapsed_s: float = 0.0


@runtime_checkable
class Backend(Protocol):
    """A source of images. Implementations are built once per process and are thread-safe."""

    #: what this backend will say about itself (per-call fields such as seed are filled per result)
    @property
    def info(self) -> ModelInfo: ...

    def check_request(self, request: GenerationRequest) -> None:
        """Raise :class:`core.errors.InvalidRequest` for what this backend cannot do (size, mode)."""

    def generate(self, request: GenerationRequest) -> GenerationResult: ...


def check_result(request: GenerationRequest, result: GenerationResult) -> None:
    """Refuse what no backend may hand on: too few or too many images, the wrong size, or black
    frames (NaN latents decode to black, and so does a model's own safety checker replacing an
    image). Raises :class:`BackendError` naming the image; fails closed for any backend, a
    plug-in one included."""
    import numpy as np

    if len(result.images) != request.n:
        raise BackendError(
            f"the backend returned {len(result.images)} images, {request.n} were asked for",
            details={"returned": len(result.images), "asked": request.n},
        )
    for i, im in enumerate(result.images):
        if im.size != (request.width, request.height):
            raise BackendError(
                f"the backend returned image {i} at {im.size[0]}x{im.size[1]}, "
                f"{request.width}x{request.height} was asked for"
            )
        arr = np.asarray(im.convert("RGB"))
        if int(arr.max()) <= 1:
            raise BackendError(
                f"the backend returned image {i} entirely black: the model produced no picture "
                "(NaN values in its computation, or its own safety checker replaced the image)",
                hint="retry with another seed; if it persists, run the model in float32 "
                "(ASSAY_DTYPE=float32) or check the model's weights",
            )
