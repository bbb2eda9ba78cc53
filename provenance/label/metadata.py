"""The metadata label (`label.metadata`): XMP with ``TC260:AIGC`` and the IPTC digital source type.

Why both: China's Labeling Measures (Art. 5) and GB 45438 Annex E ask for an implicit label in
the file metadata — the ``TC260:AIGC`` JSON naming the content attribute, the provider and a
content number — and the EU Code of Practice and C2PA readers look for the IPTC
``DigitalSourceType`` URI. ``ProduceID`` is the image's content id, which ``verify`` maps back to
the ledger record. The properties go into ``artifact.xmp``; the file is encoded once, at the end,
by the C2PA step (which signs the XMP with the pixels) or by
:meth:`provenance.marks.Artifact.encode` — encoding here would be wasted work, since the
watermark step changes the pixels afterwards.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import ConfigError, MarkError
from core.plugins import typed_options
from provenance.label.xmp import (
    DIGITAL_SOURCE_TYPE,
    TC260_AIGC,
    Tc260Aigc,
    XmpError,
    build_packet,
    check_aigc_value,
)
from provenance.ledger.bodies import MetadataLabelFacts
from provenance.marks import Artifact, MarkContext
from provenance.source_type import source_type_for


class MetadataLabelOptions(BaseModel):
    """Options of ``label.metadata`` in a policy's ``marks:`` list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Annex E ``Label``: "1" AI-generated (what a generation gateway always writes), "2" possibly, "3"
    #: suspected
    label: Literal["1", "2", "3"] = "1"
    #: ``ContentProducer``; default: ``ASSAY_PROVIDER_CODE`` (the TC260 provider code) or
    #: ``ASSAY_PROVIDER_NAME``
    producer: str | None = Field(default=None, min_length=1, max_length=128)
    #: ``ContentPropagator``/``PropagateID``: empty (the gateway produces, a platform propagates)
    #: or the same as the production fields, for an operator that also publishes the image
    propagation: Literal["empty", "same"] = "empty"

    @field_validator("producer")
    @classmethod
    def _chars(cls, v: str | None) -> str | None:
        if v is not None:
            check_aigc_value("producer", v)
        return v


class MetadataLabel:
    """The ``label.metadata`` mark (stateless after construction, so thread-safe)."""

    name: ClassVar[str] = "label.metadata"

    def __init__(self, producer: str) -> None:
        self.producer = producer

    def apply(self, artifact: Artifact, ctx: MarkContext) -> Artifact:
        opts = typed_options(ctx.options, MetadataLabelOptions)
        producer = opts.producer or self.producer
        same = opts.propagation == "same"
        try:
            aigc = Tc260Aigc(
                Label=opts.label,
                ContentProducer=producer,
                ProduceID=ctx.content_id,
                ContentPropagator=producer if same else "",
                PropagateID=ctx.content_id if same else "",
            ).validate()
        except ValueError as exc:
            raise MarkError(f"label.metadata: {exc}") from exc
        source_type = source_type_for(ctx.edit)
        artifact.xmp[TC260_AIGC] = aigc.to_json()
        artifact.xmp[DIGITAL_SOURCE_TYPE] = source_type
        try:
            build_packet(artifact.xmp)  # fail here, naming this step, if a property cannot be written
        except XmpError as exc:
            raise MarkError(f"label.metadata: {exc.message}", hint=exc.hint) from exc
        artifact.invalidate()  # an earlier encoding lacks the label
        artifact.facts[self.name] = MetadataLabelFacts(
            aigc=aigc.to_json(), digital_source_type=source_type, produce_id=ctx.content_id
        ).to_body()
        return artifact


def build(settings: Any) -> MetadataLabel:
    """Factory for the mark registry: the producer comes from settings and is checked at start-up."""
    producer = getattr(settings, "provider_code", None) or getattr(settings, "provider_name", None) or ""
    which = "ASSAY_PROVIDER_CODE" if getattr(settings, "provider_code", None) else "ASSAY_PROVIDER_NAME"
    try:
        if not producer:
            raise ValueError("it is empty")
        check_aigc_value(which, producer)
    except ValueError as exc:
        raise ConfigError(
            f"{which} cannot be the TC260:AIGC ContentProducer: {exc}",
            hint="set ASSAY_PROVIDER_CODE to your TC260 provider code (e.g. 001191110102MACQD9K64010000), "
            "or a provider name without spaces, quotes or backslashes",
        ) from exc
    return MetadataLabel(producer)
