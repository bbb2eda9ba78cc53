"""The `Mark` step interface: what turns a decided image into a released, labelled file.

Why it exists: regulations ask for several independent marks (visible label, metadata label,
invisible watermark, signed C2PA manifest) in a fixed order, switched on per policy. Each is a
`Mark` that transforms an `Artifact`. Pixel steps (visible label, watermark) edit ``image``;
metadata steps add to ``xmp``; the signing step encodes the file into ``data`` last. Every step
reports what the ledger must remember (watermark payload, manifest digest) into ``facts``. A step
that cannot do its job raises :class:`core.errors.MarkError`; the pipeline then fails closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel

from provenance.label.embed import encode_image
from provenance.label.xmp import build_packet

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from models.base import ModelInfo


@dataclass(frozen=True)
class MarkContext:
    """Who and what the image belongs to; identical for every mark of one image."""

    record_id: str  # the generation's ledger record id (ULID)
    content_id: str  # this image's id (ProduceID / C2PA instance), unique per output image
    image_index: int
    tenant: str
    policy_id: str
    policy_digest: str
    model: ModelInfo
    created_at: datetime
    edit: bool = False  # img2img / inpaint: compositeWithTrainedAlgorithmicMedia, c2pa.opened
    input_image: Image.Image | None = None  # the edit's input (C2PA ingredient)
    control_image: Image.Image | None = None  # a control input (C2PA ingredient, ``inputTo``)
    control_type: str | None = None  # canny, pose, segmentation, ... (named in the ingredient)
    check_summary: dict[str, Any] = field(default_factory=dict)
    prompt: str | None = None  # only when the policy allows prompt text in manifests
    #: this mark's options as its policy step parsed them at load (None: the model's defaults),
    #: read with :func:`core.plugins.typed_options`
    options: BaseModel | None = None


@dataclass
class Artifact:
    """An image on its way out: pixels, pending metadata, and finally the encoded file."""

    image: Image.Image
    format: str = "png"  # png | jpeg | webp
    xmp: dict[str, str] = field(default_factory=dict)  # qualified property -> value, e.g. "TC260:AIGC"
    data: bytes | None = None  # the encoded file, once a step (or `encode`) produced it
    facts: dict[str, Any] = field(default_factory=dict)  # what the ledger records about the marks

    @property
    def media_type(self) -> str:
        return {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}[self.format]

    def encode(self) -> bytes:
        """The file bytes: ``data`` if a step encoded it, else pixels + ``xmp`` encoded now.

        The pipeline calls this (not a plain ``Image.save``) for the released bytes, so the
        metadata label survives in policies whose last mark is not ``c2pa``.
        """
        if self.data is None:
            packet = build_packet(self.xmp) if self.xmp else None
            self.data = encode_image(self.image, self.format, packet)
        return self.data

    def invalidate(self) -> None:
        """A pixel step changed ``image``: any earlier encoding is stale."""
        self.data = None


@runtime_checkable
class Mark(Protocol):
    """One marking step, built once per process, thread-safe."""

    @property
    def name(self) -> str:
        """The registry name used in policies, e.g. ``watermark``."""
        ...

    def apply(self, artifact: Artifact, ctx: MarkContext) -> Artifact: ...
