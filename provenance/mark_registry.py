"""Maps the mark names used in policies (``label.visible``, ``label.metadata``, ``watermark``, ``c2pa``)
to implementations, built once per process. Same shape as :mod:`safety.registry`."""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from typing import Any

from gateway.errors import ConfigError
from provenance.marks import Mark


@dataclass(frozen=True)
class MarkEntry:
    name: str
    factory: str  # "package.module:callable(settings) -> Mark"
    options: str | None = None  # "package.module:PydanticModel" for the policy's options
    description: str = ""


#: Built-in marks, in the order the pipeline applies them when a policy lists them.
BUILTIN_MARKS: dict[str, MarkEntry] = {
    "label.visible": MarkEntry("label.visible", "provenance.label.visible:build",
                               "provenance.label.visible:VisibleLabelOptions",
                               "visible 'AI生成'/'AI-generated' label, glyphs >= 5% of the shorter side"),
    "label.metadata": MarkEntry("label.metadata", "provenance.label.metadata:build",
                                "provenance.label.metadata:MetadataLabelOptions",
                                "XMP TC260:AIGC (GB 45438 Annex E) + IPTC DigitalSourceType"),
    "watermark": MarkEntry("watermark", "provenance.watermark.mark:build",
                           "provenance.watermark.mark:WatermarkOptions",
                           "invisible 64-bit watermark (assay-wm1) that leads back to the ledger record"),
    "c2pa": MarkEntry("c2pa", "provenance.c2pa_sign.mark:build", "provenance.c2pa_sign.mark:C2paOptions",
                      "C2PA manifest signed with the operator's certificate (last step)"),
}
MARK_ORDER = ["label.visible", "label.metadata", "watermark", "c2pa"]


def register(entry: MarkEntry) -> None:
    BUILTIN_MARKS[entry.name] = entry


def _import(path: str) -> Any:
    module, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:  # pragma: no cover
        raise ConfigError(f"cannot import {path!r}: {exc}") from exc


def mark_options_model(name: str) -> Any | None:
    entry = BUILTIN_MARKS.get(name)
    return None if entry is None or entry.options is None else _import(entry.options)


class MarkRegistry:
    def __init__(self, settings: Any, entries: dict[str, MarkEntry] | None = None) -> None:
        self._settings = settings
        self._entries = dict(BUILTIN_MARKS if entries is None else entries)
        self._instances: dict[str, Mark] = {}
        self._lock = threading.Lock()

    def add(self, mark: Mark) -> None:
        with self._lock:
            self._instances[mark.name] = mark

    def get(self, name: str) -> Mark:
        inst = self._instances.get(name)
        if inst is not None:
            return inst
        with self._lock:
            inst = self._instances.get(name)
            if inst is None:
                entry = self._entries.get(name)
                if entry is None:
                    raise ConfigError(f"unknown mark {name!r}", hint=f"known marks: {', '.join(sorted(self._entries))}")
                inst = _import(entry.factory)(self._settings)
                self._instances[name] = inst
        return inst

    def preload(self, names: list[str]) -> None:
        for n in names:
            self.get(n)
