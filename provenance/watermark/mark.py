"""The ``watermark`` pipeline step: embeds the record's payload and tells the ledger what it was.

Fail closed: a payload that does not read back from the marked pixels (checked by default) is a
:class:`~core.errors.MarkError`, and the pipeline releases nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.errors import MarkError
from core.plugins import typed_options
from provenance.ledger.bodies import WatermarkFacts
from provenance.marks import Artifact, MarkContext
from provenance.watermark.image import decode_watermark, embed_watermark
from provenance.watermark.layout import DEFAULT_SCHEME, SchemeParams
from provenance.watermark.payload import PAYLOAD_BITS, payload_for, payload_hex


class WatermarkOptions(BaseModel):
    """Policy options of the ``watermark`` mark (``marks: [{name: watermark, options: {...}}]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the scheme new images get. ``assay-wm1`` (the default) survives JPEG 50 and 0.3x-1.5x rescales
    #: at 100% but no crop beyond a few percent, rotation, flip or padding; ``assay-wm2`` survives
    #: those geometric edits (24 photos: crops 90/75/50% 100/100/88%, rotations, flips, padding and
    #: overlays 100%, perspective 5% 71%) and JPEG 50, but a 0.3x copy in 96% (wm1: 100%):
    #: benchmarks/marks_watermark_geometric.py. A policy picks wm2 where crops and screenshots
    #: matter; verify reads both.
    scheme: Literal["assay-wm1", "assay-wm2"] = "assay-wm1"
    #: scales the margin every coded bit must reach; 1.0 survives JPEG 50 and 0.5x + JPEG 75
    strength: float = Field(default=1.0, ge=0.5, le=3.0)
    #: no image is marked below this PSNR; a photo that would need more gets a weaker mark
    min_psnr: float = Field(default=38.5, ge=30.0, le=55.0)
    #: put more of the mark into texture, less into flat areas; unset: the scheme's default
    #: (wm1 on; wm2 off: an even spread reads back from crops ~2x better at the same PSNR)
    masking: bool | None = None
    #: decode the marked pixels before release and fail if the payload does not read back
    verify: bool = True


class WatermarkMark:
    """Embeds ``payload_for(ctx.record_id, ctx.image_index)`` into ``artifact.image``."""

    name: ClassVar[str] = "watermark"

    def __init__(self, params: SchemeParams = DEFAULT_SCHEME) -> None:
        self._params = params

    def apply(self, artifact: Artifact, ctx: MarkContext) -> Artifact:
        opts = typed_options(ctx.options, WatermarkOptions)
        payload = payload_for(ctx.record_id, ctx.image_index)
        marked, masked, scheme = self._mark(artifact, ctx, payload, opts)
        if marked is None and opts.scheme == "assay-wm2":
            # wm2's tile is a quarter of the shorter side: on a small or very flat image its finest
            # frequencies sit near the pixel grid and may not read back; wm1 (read by verify too)
            # carries the record then, and the facts say which scheme did.
            marked, masked, scheme = self._mark(
                artifact, ctx, payload, opts.model_copy(update={"scheme": "assay-wm1"})
            )
        if marked is None:
            raise MarkError(
                f"the watermark of image {ctx.image_index} of record {ctx.record_id} does not read back",
                hint="raise the watermark's strength or lower min_psnr in the policy",
            )
        artifact.image = marked.image
        artifact.invalidate()
        artifact.facts["watermark"] = WatermarkFacts(
            scheme=scheme,
            payload=payload_hex(payload),
            bits=PAYLOAD_BITS,
            psnr=round(marked.psnr, 2),
            weakened=marked.capped,
            masked=masked,
        ).to_body()
        return artifact

    def _mark(
        self, artifact: Artifact, ctx: MarkContext, payload: int, opts: WatermarkOptions
    ) -> tuple[Any, bool, str]:
        """Embed under ``opts.scheme`` and read back: (marked, masked, scheme), marked None if it
        does not read back. Masking moves the mark into texture; where the PSNR floor caps it (a
        flat label plate beside busy texture: ~3% of 256 px photo crops), an even spread at the
        same floor reads back: one retry."""
        masking = opts.masking if opts.masking is not None else opts.scheme == "assay-wm1"
        marked = self._embed(artifact, ctx, payload, opts, masking=masking)
        if not opts.verify or self._reads_back(marked.image, payload, opts.scheme):
            return marked, masking, opts.scheme
        if masking:
            retried = self._embed(artifact, ctx, payload, opts, masking=False)
            if self._reads_back(retried.image, payload, opts.scheme):
                return retried, False, opts.scheme
        return None, False, opts.scheme

    def _embed(
        self, artifact: Artifact, ctx: MarkContext, payload: int, opts: WatermarkOptions, *, masking: bool
    ) -> Any:
        try:
            return embed_watermark(
                artifact.image,
                payload,
                strength=opts.strength,
                min_psnr=opts.min_psnr,
                masking=masking,
                params=self._params,
                scheme=opts.scheme,
            )
        except ValueError as exc:
            raise MarkError(
                f"cannot watermark image {ctx.image_index} of record {ctx.record_id}: {exc}",
                hint="generate at least 128x128 pixels, or take 'watermark' out of the policy's marks",
            ) from exc

    def _reads_back(self, image: Any, payload: int, scheme: Any) -> bool:
        reading = decode_watermark(image, search=False, params=self._params, scheme=scheme)
        return reading is not None and reading.payload == payload


def build(settings: Any = None) -> WatermarkMark:
    """Registry factory (``provenance.mark_registry``): one instance per process, stateless.

    Marks under the operator's key (:mod:`provenance.watermark.key`); without settings (library
    use, benchmarks) under the built-in key."""
    if settings is None:
        return WatermarkMark()
    from provenance.watermark.key import scheme_params

    return WatermarkMark(scheme_params(settings)[0])
