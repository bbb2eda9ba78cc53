"""Maps the check names used in policies to check implementations, built once per process.

Entries are ``"module:callable"`` strings imported on first use, so that ``assay policy check``
does not load torch and the gateway loads only the models its policies name. A factory is called
with the gateway ``Settings`` and returns a :class:`safety.check.Check`.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from typing import Any, Callable

from gateway.errors import ConfigError
from safety.check import Check


@dataclass(frozen=True)
class CheckEntry:
    name: str
    factory: str  # "package.module:callable(settings) -> Check"
    #: optional "package.module:PydanticModel" that validates this check's options in policies
    options: str | None = None
    description: str = ""


#: Built-in checks. Each capability adds its line here (one home for the names policies use).
BUILTIN_CHECKS: dict[str, CheckEntry] = {}


def register(entry: CheckEntry) -> None:
    BUILTIN_CHECKS[entry.name] = entry


def _import(path: str) -> Any:
    module, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:  # pragma: no cover - a packaging error
        raise ConfigError(f"cannot import {path!r}: {exc}") from exc


def known_checks() -> list[str]:
    return sorted(BUILTIN_CHECKS)


def options_model(name: str) -> Any | None:
    entry = BUILTIN_CHECKS.get(name)
    if entry is None or entry.options is None:
        return None
    return _import(entry.options)


class CheckRegistry:
    """Builds each named check once (thread-safe) and hands out the same instance afterwards."""

    def __init__(self, settings: Any, entries: dict[str, CheckEntry] | None = None) -> None:
        self._settings = settings
        self._entries = dict(BUILTIN_CHECKS if entries is None else entries)
        self._instances: dict[str, Check] = {}
        self._lock = threading.Lock()

    def add(self, check: Check) -> None:
        """Install a ready-made check instance (tests, plug-ins)."""
        with self._lock:
            self._instances[check.name] = check

    def get(self, name: str) -> Check:
        inst = self._instances.get(name)
        if inst is not None:
            return inst
        with self._lock:
            inst = self._instances.get(name)
            if inst is None:
                entry = self._entries.get(name)
                if entry is None:
                    raise ConfigError(
                        f"unknown check {name!r}",
                        hint=f"known checks: {', '.join(sorted(self._entries)) or '(none)'}",
                    )
                factory: Callable[[Any], Check] = _import(entry.factory)
                inst = factory(self._settings)
                self._instances[name] = inst
        return inst

    def preload(self, names: list[str]) -> None:
        for n in names:
            self.get(n)

    def loaded(self) -> list[str]:
        return sorted(self._instances)


# --- image checks (safety/image) ---------------------------------------------------------------
register(CheckEntry("image.nsfw", "safety.image.nsfw:build_nsfw_check", "safety.image.nsfw:NsfwOptions",
                    "NudeNet ONNX detector: exposed/covered intimate body parts -> sexual, with boxes"))
register(CheckEntry("image.faces", "safety.image.faces:build_faces_check", "safety.image.faces:FaceOptions",
                    "dlib face detector (HOG, or CNN): faces -> real_person, with boxes and count"))
register(CheckEntry("image.likeness", "safety.image.likeness:build_likeness_check",
                    "safety.image.likeness:LikenessOptions",
                    "dlib 128-d face descriptors matched against the tenant's protected-likeness gallery"))
register(CheckEntry("image.concepts", "safety.image.concepts:build_concepts_check",
                    "safety.image.concepts:ConceptOptions",
                    "diffusers' StableDiffusionSafetyChecker from an operator-supplied local folder"))

# --- near-duplicate checks (safety/neardup) ----------------------------------------------------
register(CheckEntry("neardup.hash", "safety.neardup.check:hash_check", "safety.neardup.options:HashCheckOptions",
                    "pHash + dHash exact Hamming radius search in training-data / protected-works indexes -> copyright"))
register(CheckEntry("neardup.clip", "safety.neardup.check:clip_check", "safety.neardup.options:ClipCheckOptions",
                    "open_clip image-embedding cosine threshold search in the same indexes -> copyright"))
