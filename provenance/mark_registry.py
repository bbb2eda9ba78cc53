"""Maps the mark names used in policies (``label.visible``, ``label.metadata``, ``watermark``, ``c2pa``)
to implementations, built once per process. Same shape as :mod:`safety.registry`."""

from __future__ import annotations

from typing import Any

from core.plugins import Entry, Registry
from core.plugins import options_model as _options_model
from provenance.marks import Mark

#: a registry entry for a mark (``factory(settings) -> Mark``)
MarkEntry = Entry

#: Built-in marks, in the order the pipeline applies them when a policy lists them.
BUILTIN_MARKS: dict[str, MarkEntry] = {
    "label.visible": MarkEntry(
        "label.visible",
        "provenance.label.visible:build",
        "provenance.label.visible:VisibleLabelOptions",
        "visible 'AI生成'/'AI-generated' label, glyphs >= 5% of the shorter side",
    ),
    "label.metadata": MarkEntry(
        "label.metadata",
        "provenance.label.metadata:build",
        "provenance.label.metadata:MetadataLabelOptions",
        "XMP TC260:AIGC (GB 45438 Annex E) + IPTC DigitalSourceType",
    ),
    "watermark": MarkEntry(
        "watermark",
        "provenance.watermark.mark:build",
        "provenance.watermark.mark:WatermarkOptions",
        "invisible 64-bit watermark (assay-wm2; assay-wm1 still read) that leads back to the ledger record",
    ),
    "c2pa": MarkEntry(
        "c2pa",
        "provenance.c2pa_sign.mark:build",
        "provenance.c2pa_sign.mark:C2paOptions",
        "C2PA manifest signed with the operator's certificate (last step)",
    ),
}
MARK_ORDER = ["label.visible", "label.metadata", "watermark", "c2pa"]


def register(entry: MarkEntry) -> None:
    BUILTIN_MARKS[entry.name] = entry


def mark_options_model(name: str) -> Any | None:
    return _options_model(BUILTIN_MARKS, name)


class MarkRegistry(Registry[Mark]):
    """The process's marks, by the names policies use."""

    kind = "mark"

    def __init__(self, settings: Any, entries: dict[str, MarkEntry] | None = None) -> None:
        super().__init__(settings, BUILTIN_MARKS if entries is None else entries)
