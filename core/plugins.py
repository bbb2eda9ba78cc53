"""Named plug-ins (checks, marks) built lazily once per process, and optional modules.

One home for the pattern both registries share: an entry names a factory as ``"module:callable"``
(imported on first use, so ``assay policy check`` loads no model) and optionally a pydantic model
that validates the options a policy gives it. The first `get` of a name builds the instance
(thread-safe); later calls return the same object.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Generic, TypeVar

from core.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    name: str
    factory: str  # "package.module:callable(settings) -> instance"
    options: str | None = None  # "package.module:PydanticModel" validating this entry's policy options
    description: str = ""


def import_path(path: str) -> Any:
    """``"package.module:attr"`` -> the attribute; a packaging error becomes a ConfigError."""
    module, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import {path!r}: {exc}") from exc


def import_optional(name: str) -> ModuleType | None:
    """The module, or None when it does not exist (errors *inside* an existing module still raise)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


class Registry(Generic[T]):
    """Builds each named plug-in once per process and hands out the same instance afterwards."""

    kind = "plug-in"

    def __init__(self, settings: Any, entries: dict[str, Entry]) -> None:
        self._settings = settings
        self._entries = dict(entries)
        self._instances: dict[str, T] = {}
        self._lock = threading.Lock()

    def add(self, instance: T) -> None:
        """Install a ready-made instance under its ``name`` (tests, embedding applications)."""
        with self._lock:
            self._instances[instance.name] = instance  # type: ignore[attr-defined]

    def get(self, name: str) -> T:
        inst = self._instances.get(name)
        if inst is not None:
            return inst
        with self._lock:
            inst = self._instances.get(name)
            if inst is None:
                entry = self._entries.get(name)
                if entry is None:
                    raise ConfigError(
                        f"unknown {self.kind} {name!r}",
                        hint=f"known: {', '.join(sorted(self._entries)) or '(none)'}",
                    )
                factory: Callable[[Any], T] = import_path(entry.factory)
                inst = factory(self._settings)
                self._instances[name] = inst
        return inst

    def peek(self, name: str) -> T | None:
        """The instance if it was built already, else None (never builds)."""
        return self._instances.get(name)

    def preload(self, names: list[str]) -> None:
        for n in names:
            self.get(n)

    def loaded(self) -> list[str]:
        return sorted(self._instances)


def options_model(entries: dict[str, Entry], name: str) -> Any | None:
    entry = entries.get(name)
    return None if entry is None or entry.options is None else import_path(entry.options)
