"""The marks policies can name (``label.visible``, ``label.metadata``, ``watermark``, ``c2pa``): one
:class:`~core.plugins.Catalogue` entry each, built once per process. Same style as
:mod:`safety.registry`: the options model is parsed when a policy loads and the mark gets it typed
in ``MarkContext.options``.

A new mark adds one ``BUILTIN_MARKS.register(Entry(...))`` below **and** its place in
:data:`MARK_ORDER` (a test refuses a mark without one: a mark after ``c2pa`` would break the signature).
"""

from __future__ import annotations

from typing import Any

from core.plugins import Catalogue, Entry, Registry
from provenance.marks import Mark

#: The marks policies can name (one home for the names).
BUILTIN_MARKS = Catalogue("mark")

#: The order the pipeline applies a policy's marks in: pixels first, then metadata, the watermark,
#: and the signature over the final bytes last.
MARK_ORDER = ["label.visible", "label.metadata", "watermark", "c2pa"]


class MarkRegistry(Registry[Mark]):
    """The process's marks, by the names policies use."""

    def __init__(self, settings: Any, catalogue: Catalogue | None = None) -> None:
        super().__init__(settings, BUILTIN_MARKS if catalogue is None else catalogue)


BUILTIN_MARKS.register(
    Entry(
        "label.visible",
        factory="provenance.label.visible:build",
        options="provenance.label.visible:VisibleLabelOptions",
        description="visible 'AI生成'/'AI-generated' label, glyphs >= 5% of the shorter side",
    )
)


BUILTIN_MARKS.register(
    Entry(
        "label.metadata",
        factory="provenance.label.metadata:build",
        options="provenance.label.metadata:MetadataLabelOptions",
        description="XMP TC260:AIGC (GB 45438 Annex E) + IPTC DigitalSourceType",
    )
)


BUILTIN_MARKS.register(
    Entry(
        "watermark",
        factory="provenance.watermark.mark:build",
        options="provenance.watermark.mark:WatermarkOptions",
        description=(
            "invisible 64-bit watermark (assay-wm2; assay-wm1 still read) that leads back to the "
            "ledger record"
        ),
    )
)


BUILTIN_MARKS.register(
    Entry(
        "c2pa",
        factory="provenance.c2pa_sign.mark:build",
        options="provenance.c2pa_sign.mark:C2paOptions",
        description="C2PA manifest signed with the operator's certificate (last step)",
    )
)
