"""Term lists, allow-phrases and co-occurrence rules: the operator-editable data of the lexicon check.

Why it exists: what counts as a risky word differs per operator and per market, so the words are
data, not code. The built-in lists live in ``safety/prompt/data/`` and an operator adds files of the
same format per policy (``options.extra_terms`` / ``extra_allow`` of ``prompt.lexicon``).

Term file (UTF-8, tab-separated; ``#`` starts a comment)::

    # category   severity   term            flags
    sexual       high       porn*
    sexual       medium     裸体             py
    ctx.minor    context    child

* ``category`` is a shared :class:`~safety.verdict.Category` value, or ``ctx.<name>``: a *context*
  term that never fires alone and only feeds co-occurrence rules (``child`` is harmless alone).
* ``severity`` is ``low`` (review under the default policy), ``medium``, ``high``, ``critical``
  (block), or ``context``.
* ``term``: English terms match whole words; a trailing ``*`` lets the word go on (``porn*`` matches
  ``porno``, ``pornographic``). Chinese terms match anywhere, except where an allow-phrase shows the
  characters belong to another word. Terms are normalised like prompts, so ``Ｐｏｒｎ`` in a file is ``porn``.
* ``flags``: ``py`` also matches the term's Chinese homophones and typed pinyin (``落体``, ``luoti``
  for ``裸体``).

Allow file: one phrase per line (``*`` suffix as above). A term hit that overlaps an allowed phrase is
cancelled unless the allowed phrase lies wholly inside a longer hit: ``breast cancer`` cancels
``breast``; ``巴黎`` cancels ``鸡巴`` in ``吃鸡巴黎``.

Rules file (YAML): ``rules: [{id, all: [category or ctx.name, ...], category, severity}]`` — when
every listed category has a hit, the rule fires as ``category`` (``sexual`` + ``ctx.minor`` → ``minors``).
``mitigations: [{id, when: [ctx.name, ...], category, cap, max_term}]`` — when every ``when`` context
has a hit, a verdict of ``category`` that rests only on terms of severity ``max_term`` or lower (and on
no rule) is capped at severity ``cap``: ``nude`` next to ``museum`` or ``sculpture`` is held for
review instead of blocked, while ``porn`` next to ``museum`` still blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import ConfigError
from safety.verdict import Category

__all__ = [
    "AllowPhrase",
    "Mitigation",
    "Rule",
    "Severity",
    "Term",
    "builtin_allow_files",
    "builtin_rules_file",
    "builtin_term_files",
    "load_allow_file",
    "load_mitigations_file",
    "load_rules_file",
    "load_term_file",
    "parse_term_lines",
]

CONTEXT_PREFIX = "ctx."


class Severity(StrEnum):
    """How bad a term is. The score is what the policy's category thresholds compare."""

    CONTEXT = "context"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def score(self) -> float:
        return _SEVERITY_SCORE[self]


#: default policy: review_at 0.5, block_at 0.7 — low reviews, medium and above block
_SEVERITY_SCORE = {
    Severity.CONTEXT: 0.0,
    Severity.LOW: 0.55,
    Severity.MEDIUM: 0.75,
    Severity.HIGH: 0.9,
    Severity.CRITICAL: 1.0,
}


def _check_category(value: str, where: str) -> str:
    if value.startswith(CONTEXT_PREFIX) and len(value) > len(CONTEXT_PREFIX):
        return value
    return Category.parse(value, where, besides=f"{CONTEXT_PREFIX}<name> for a context term").value


@dataclass(frozen=True, slots=True)
class Term:
    """One risky word or phrase, as written in its file, with where it came from."""

    text: str
    category: str  # a Category value or "ctx.<name>"
    severity: Severity
    prefix: bool = False  # the word may go on after the term (written ``term*``)
    pinyin: bool = False  # also match Chinese homophones / typed pinyin
    source: str = ""  # file:line
    #: a sound-alike copy of a term not flagged ``py``: it matches the term's homophones and typed
    #: pinyin only, and a verdict resting on it is held for review, never blocked (heard, not written)
    sound: bool = False

    @property
    def is_context(self) -> bool:
        return self.category.startswith(CONTEXT_PREFIX)


@dataclass(frozen=True, slots=True)
class AllowPhrase:
    text: str
    prefix: bool = False
    source: str = ""


class Rule(BaseModel):
    """A co-occurrence rule: every category in ``all`` has a hit → a verdict in ``category``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    all: tuple[str, ...] = Field(min_length=2)
    category: Category
    severity: Severity
    description: str = ""

    @field_validator("all")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for item in v:
            _check_category(item, "rule")
        return v


class Mitigation(BaseModel):
    """A context that lowers a category: every context in ``when`` has a hit → cap the verdict."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    when: tuple[str, ...] = Field(min_length=1)
    category: Category
    #: the severity the verdict is capped at
    cap: Severity
    #: only verdicts whose terms are all at most this severe are capped
    max_term: Severity
    description: str = ""

    @field_validator("when")
    @classmethod
    def _contexts(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for item in v:
            if not _check_category(item, "mitigation").startswith(CONTEXT_PREFIX):
                raise ValueError(f"mitigation contexts must be ctx.* names, got {item!r}")
        return v


class _RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[Rule] = Field(default_factory=list)
    mitigations: list[Mitigation] = Field(default_factory=list)


# --- parsing ---------------------------------------------------------------------------------------
def parse_term_lines(text: str, source: str) -> list[Term]:
    """Parse term-file text; errors name ``source`` and the line."""
    terms: list[Term] = []
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cols = [c.strip() for c in raw.split("\t") if c.strip()]  # several tabs may align columns
        where = f"{source}:{no}"
        if len(cols) < 3:
            raise ConfigError(f"{where}: expected 'category<TAB>severity<TAB>term[<TAB>flags]', got {raw!r}")
        category = _check_category(cols[0], where)
        try:
            severity = Severity(cols[1])
        except ValueError:
            raise ConfigError(
                f"{where}: unknown severity {cols[1]!r}",
                hint=f"use one of {', '.join(s.value for s in Severity)}",
            ) from None
        if category.startswith(CONTEXT_PREFIX) != (severity is Severity.CONTEXT):
            raise ConfigError(f"{where}: context terms (ctx.*) and only they take severity 'context'")
        word = cols[2]
        flags = {f.strip() for f in cols[3].split(",")} if len(cols) > 3 and cols[3] else set()
        unknown = flags - {"py"}
        if unknown:
            raise ConfigError(f"{where}: unknown flags {sorted(unknown)}", hint="known flags: py")
        prefix = word.endswith("*")
        word = word.rstrip("*").strip()
        if not word:
            raise ConfigError(f"{where}: empty term")
        terms.append(Term(word, category, severity, prefix, "py" in flags, where))
    return terms


def parse_allow_lines(text: str, source: str) -> list[AllowPhrase]:
    out: list[AllowPhrase] = []
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        prefix = line.endswith("*")
        phrase = line.rstrip("*").strip()
        if phrase:
            out.append(AllowPhrase(phrase, prefix, f"{source}:{no}"))
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"term file not found: {path}",
            hint="fix the path in the policy's check options (relative paths are "
            "resolved against the data directory, ASSAY_DATA_DIR)",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", hint="term files are UTF-8 text") from exc


def load_term_file(path: Path) -> list[Term]:
    return parse_term_lines(_read(path), str(path))


def load_allow_file(path: Path) -> list[AllowPhrase]:
    return parse_allow_lines(_read(path), str(path))


def load_rules_file(path: Path) -> list[Rule]:
    return _load_rules(path).rules


def load_mitigations_file(path: Path) -> list[Mitigation]:
    return _load_rules(path).mitigations


def _load_rules(path: Path) -> _RulesFile:
    text = _read(path)
    try:
        data = yaml.safe_load(text) or {}
        return _RulesFile.model_validate(data)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid rules: {exc}") from exc


# --- built-in data ---------------------------------------------------------------------------------
def _data_dir() -> Path:
    return Path(str(resources.files("safety.prompt").joinpath("data")))


def builtin_term_files() -> list[Path]:
    return sorted((_data_dir() / "terms").glob("*.tsv"))


def builtin_allow_files() -> list[Path]:
    return sorted((_data_dir() / "allow").glob("*.txt"))


def builtin_rules_file() -> Path:
    return _data_dir() / "rules.yaml"
