"""Named plug-ins (checks, marks): one catalogue of entries per kind, each built lazily once per process.

One home for the pattern checks and marks share. An :class:`Entry` names a factory as
``"module:callable"`` (imported on first use, so ``assay policy check`` loads no model), the
pydantic model of the options a policy may give it (parsed once, when the policy loads: see
:meth:`Entry.parse_options`), a description, and a ``describe`` function that turns one finding
of the plug-in (a check's verdict, a mark's facts) into the line a person reads, so that no front
end branches on plug-in names. A :class:`Catalogue` holds the entries of one kind;
a :class:`Registry` builds each named plug-in on its first ``get`` (thread-safe) and hands out the
same instance afterwards. This module imports no project package.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from core.errors import ConfigError

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class NoOptions(BaseModel):
    """The options of a plug-in that takes none: any key is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def typed_options(options: BaseModel | None, model: type[M]) -> M:
    """A plug-in's options as its policy step parsed them, or ``model``'s defaults when none were given
    (a call from code, not from a policy). Anything else is a wiring error: options are parsed once,
    when the policy loads, never again at call time."""
    if options is None:
        return model()
    if not isinstance(options, model):
        raise ConfigError(
            f"options of type {type(options).__name__} given where {model.__name__} is expected",
            hint="hand the step's options as its policy parsed them (StepSpec.parsed)",
        )
    return options


@dataclass(frozen=True)
class Entry:
    """One plug-in a policy can name. Paths are ``"package.module:attribute"``, imported on use."""

    name: str
    #: ``factory(settings) -> instance``
    factory: str
    #: the pydantic model of this plug-in's policy options (None: it takes none, :class:`NoOptions`)
    options: str | None = None
    #: one line: what the plug-in does (``assay`` help texts, the review page)
    description: str = ""
    #: ``describe(finding) -> str``: one line a person reads about one finding (None: a generic line)
    describe: str | None = None

    def options_model(self) -> type[BaseModel]:
        if self.options is None:
            return NoOptions
        model = import_path(self.options)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ConfigError(f"{self.options!r} (options of {self.name}) is not a pydantic model")
        return model

    def parse_options(self, raw: Mapping[str, Any]) -> BaseModel:
        """The typed options of ``raw`` (a policy's ``options:``); raises pydantic's ``ValidationError``."""
        return self.options_model().model_validate(dict(raw))

    def describer(self) -> Callable[[Any], str] | None:
        if self.describe is None:
            return None
        fn: Callable[[Any], str] = import_path(self.describe)
        return fn


class Catalogue(Mapping[str, Entry]):
    """The entries of one kind of plug-in (``"check"``, ``"mark"``), by name, in registration order."""

    def __init__(self, kind: str, entries: Iterable[Entry] = ()) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        for e in entries:
            self.register(e)

    def register(self, entry: Entry) -> Entry:
        """Add ``entry``; a name registered twice is a packaging error."""
        if entry.name in self._entries:
            raise ConfigError(f"{self.kind} {entry.name!r} is registered twice")
        self._entries[entry.name] = entry
        return entry

    def entry(self, name: str) -> Entry:
        """The entry of ``name``; an unknown name is a :class:`ConfigError` listing the known ones."""
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(
                f"unknown {self.kind} {name!r}", hint=f"known: {', '.join(sorted(self._entries)) or '(none)'}"
            ) from None

    def describe(self, name: str, finding: Any) -> str | None:
        """The entry's own line for ``finding``; None when ``name`` is unknown or has no ``describe``."""
        entry = self._entries.get(name)
        fn = entry.describer() if entry is not None else None
        return fn(finding) if fn is not None else None

    def __getitem__(self, name: str) -> Entry:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


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
    """Builds each plug-in of ``catalogue`` once per process and hands out the same instance afterwards."""

    def __init__(self, settings: Any, catalogue: Catalogue) -> None:
        self._settings = settings
        self.catalogue = catalogue
        self._instances: dict[str, T] = {}
        self._lock = threading.Lock()

    def add(self, instance: T) -> None:
        """Install a ready-made instance under its ``name`` (tests, embedding applications)."""
        name: str = getattr(instance, "name")  # noqa: B009 - T is any plug-in with a name
        with self._lock:
            self._instances[name] = instance

    def get(self, name: str) -> T:
        inst = self._instances.get(name)
        if inst is not None:
            return inst
        with self._lock:
            inst = self._instances.get(name)
            if inst is None:
                factory: Callable[[Any], T] = import_path(self.catalogue.entry(name).factory)
                inst = factory(self._settings)
                self._instances[name] = inst
        return inst

    def peek(self, name: str) -> T | None:
        """The instance if it was built already, else None (never builds)."""
        return self._instances.get(name)

    def preload(self, names: Iterable[str]) -> None:
        for n in names:
            self.get(n)
