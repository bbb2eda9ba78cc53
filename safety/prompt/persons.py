"""The ``prompt.persons`` check: names of protected real persons in a prompt (deep-fake requests).

Why it exists: an image of a real, named person doing what they never did is the deep fake that the
Chinese deep-synthesis rules and the EU AI Act single out. Operators keep their own list of protected
persons (clients, executives, public figures of their market) in YAML — names and aliases in English
and Chinese — and the check finds them through the same normalisation and matcher as the lexicon
(``T.r.u.m.p``, ``特朗普`` in Traditional characters, ``D0nald``). Entries may be scoped to tenants.

List file (YAML)::

    persons:
      - id: jane-doe
        names: [Jane Doe, 简·多伊]
        aliases: [JD]
        category: real_person   # a shared category (real_person, political, likeness, ...)
        severity: medium        # low | medium | high | critical
        pinyin: false           # also match homophones / typed pinyin of the Chinese names
        tenants: [acme]         # only for these tenants; empty: all
        allow: [jane doe street] # phrases containing a name that are not the person

Lists: the built-in starter list of world public figures (``builtin: true``), the operator's
``<data dir>/protected_persons.yaml`` if present, and ``options.files``. Edited files are reloaded.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import ConfigError
from core.plugins import typed_options
from safety.check import CheckInput
from safety.prompt.inputs import prompt_text, resolve_path
from safety.prompt.matcher import Pattern, TermMatcher
from safety.prompt.normalize import get_normalizer
from safety.prompt.terms import Severity
from safety.verdict import Category, TargetKind, Verdict

__all__ = [
    "DATA_DIR_FILE",
    "PersonEntry",
    "PersonsCheck",
    "PersonsOptions",
    "build_persons_check",
    "load_persons_file",
]

#: the operator's list in the data directory, read when it exists
DATA_DIR_FILE = "protected_persons.yaml"


class PersonEntry(BaseModel):
    """One protected person."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=128)
    names: tuple[str, ...] = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    category: Category = Category.REAL_PERSON
    severity: Severity = Severity.MEDIUM
    pinyin: bool = False
    tenants: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()

    @field_validator("severity")
    @classmethod
    def _not_context(cls, v: Severity) -> Severity:
        if v is Severity.CONTEXT:
            raise ValueError("a person's severity cannot be 'context'")
        return v

    @field_validator("names", "aliases")
    @classmethod
    def _long_enough(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for name in v:
            if len(name.strip()) < 2:
                raise ValueError(f"name {name!r} is too short to match safely")
        return v

    def applies_to(self, tenant: str) -> bool:
        return not self.tenants or tenant in self.tenants


class _PersonsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    persons: list[PersonEntry] = Field(default_factory=list)


def builtin_persons_file() -> Path:
    return Path(str(resources.files("safety.prompt").joinpath("data/persons/public_figures.yaml")))


def load_persons_file(path: Path) -> list[PersonEntry]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(
            f"protected-persons file not found: {path}",
            hint="relative paths in options are resolved against the data directory",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read protected-persons file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return _PersonsFile.model_validate(data).persons
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid protected-persons list: {exc}") from exc


#: names reported per prompt
MAX_FINDINGS = 50


class PersonsOptions(BaseModel):
    """Options of ``prompt.persons`` in a policy (``checks.prompt[].options``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the built-in starter list of world public figures
    builtin: bool = True
    #: read <data dir>/protected_persons.yaml when it exists
    data_dir_list: bool = True
    #: more list files; relative to the data directory
    files: tuple[Path, ...] = ()
    max_chars: int = Field(default=100_000, ge=1, le=1_000_000)


@dataclass(frozen=True, slots=True)
class _Name:
    person: PersonEntry
    name: str


class PersonsCheck:
    """See the module docstring. Built once per process; thread-safe."""

    name: ClassVar[str] = "prompt.persons"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.PROMPT})

    def __init__(self, data_dir: Path | None = None) -> None:
        self._data_dir = Path(data_dir) if data_dir is not None else Path.cwd()
        self._compiled: dict[tuple[Any, ...], TermMatcher[_Name]] = {}
        self._lock = threading.Lock()
        self._normalizer = get_normalizer()
        self._matcher(PersonsOptions())

    def _files(self, opts: PersonsOptions) -> list[Path]:
        files = [builtin_persons_file()] if opts.builtin else []
        own = self._data_dir / DATA_DIR_FILE
        if opts.data_dir_list and own.is_file():
            files.append(own)
        files.extend(resolve_path(p, self._data_dir) for p in opts.files)
        return files

    def _matcher(self, opts: PersonsOptions) -> TermMatcher[_Name]:
        files = self._files(opts)
        key = tuple((str(f), f.stat().st_mtime_ns if f.exists() else -1) for f in files)
        found = self._compiled.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._compiled.get(key)
            if found is None:
                people = [p for f in files for p in load_persons_file(f)]
                patterns = [
                    Pattern(n, _Name(p, n), False, p.pinyin) for p in people for n in (*p.names, *p.aliases)
                ]
                allow = [Pattern(a, None) for p in people for a in p.allow]
                found = TermMatcher(patterns, allow, self._normalizer)
                if len(self._compiled) > 16:
                    self._compiled.clear()
                self._compiled[key] = found
            return found

    def run(self, item: CheckInput) -> list[Verdict]:
        opts = typed_options(item.options, PersonsOptions)
        text = prompt_text(item, self.name, opts.max_chars)
        if not text.strip():
            return []
        hits = [
            h
            for h in self._matcher(opts).find(self._normalizer.normalize(text))
            if h.payload.person.applies_to(item.tenant)
        ]
        # one verdict per name found: each carries its own span, so a redacting ledger removes them all;
        # an alias inside a longer name of the same person ("Trump" in "Donald Trump") is the same finding
        hits = [
            h
            for h in hits
            if not any(
                o is not h
                and o.payload.person.id == h.payload.person.id
                and o.start <= h.start
                and h.end <= o.end
                and (o.end - o.start) > (h.end - h.start)
                for o in hits
            )
        ]
        hits.sort(key=lambda h: (h.start, -h.end))
        verdicts = []
        for h in hits[:MAX_FINDINGS]:
            person = h.payload.person
            verdicts.append(
                Verdict(
                    check=self.name,
                    category=person.category,
                    score=person.severity.score,
                    target=item.target,
                    reason=f"names a protected person: {h.text!r} ({person.id})",
                    evidence={
                        "start": h.start,
                        "end": h.end,
                        "text": h.text,
                        "person": person.id,
                        "name": h.payload.name,
                        "severity": person.severity.value,
                        "view": h.view,
                    },
                )
            )
        return sorted(verdicts, key=lambda v: (-v.score, v.evidence["start"]))


def build_persons_check(settings: Any) -> PersonsCheck:
    """Registry factory: one persons check per process."""
    return PersonsCheck(getattr(settings, "data_dir", None))


def describe(v: Verdict) -> str:
    """What fired: the protected person's id (the registry's ``describe``)."""
    return f"protected person {v.evidence.get('person')}"
