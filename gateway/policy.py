"""The `Policy`: what a tenant's generations must pass, loaded from a YAML policy pack.

Why it exists: regulated operators differ (a Chinese media house must label "AI生成" and keep logs
six months; an EU bank blocks every real person). One gateway serves them all by assigning each
tenant a policy pack from ``policies/``: which checks run on which target, per-category thresholds
and actions, which marks apply, what of the prompt is stored and for how long, and request limits.

Loading is strict: bad YAML, an unknown key or a bad value is a :class:`PolicyError` naming the
file, the key path and the line; so is an unknown check or mark, or an option its model refuses.
Each step's options are parsed here, once, by the model its registry entry names
(:meth:`core.plugins.Entry.parse_options`), and handed typed to the check or mark
(:attr:`StepSpec.parsed`); nothing validates them again at call time. Every decision records
the policy's ``id`` and ``digest`` (sha256 over its canonical JSON), so an auditor can tell
exactly which rules applied.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from core.errors import PolicyError
from core.plugins import Catalogue
from safety.verdict import Action as Action  # re-exported: rules say what their action is
from safety.verdict import Category, TargetKind

if TYPE_CHECKING:  # pragma: no cover
    from provenance.ledger.retention import RetentionRules


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategoryRule(_Strict):
    """Score thresholds for one category: ``score >= block_at`` blocks, ``>= review_at`` holds."""

    review_at: float | None = Field(default=None, ge=0.0, le=1.0)
    block_at: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> CategoryRule:
        if self.review_at is not None and self.block_at is not None and self.review_at > self.block_at:
            raise ValueError("review_at must not exceed block_at")
        return self

    def action_for(self, score: float) -> Action:
        if self.block_at is not None and score >= self.block_at:
            return Action.BLOCK
        if self.review_at is not None and score >= self.review_at:
            return Action.REVIEW
        return Action.ALLOW


class OpenOptions(BaseModel):
    """The options of a step no registry entry describes: a plug-in installed in code
    (``Registry.add``: tests, embedding applications), named by a policy built in code. A policy
    *file* naming such a step is refused (:func:`parse_policy`)."""

    model_config = ConfigDict(extra="allow", frozen=True)


class StepSpec(_Strict):
    """A check or mark named in a policy, with its options. YAML may give just the name.

    ``options`` are the policy's text (what its digest covers); :attr:`parsed` is what the step
    receives, parsed once by the owning :class:`Policy`.
    """

    name: str
    options: dict[str, Any] = Field(default_factory=dict)

    _parsed: BaseModel | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, v: Any) -> Any:
        return {"name": v} if isinstance(v, str) else v

    @property
    def parsed(self) -> BaseModel:
        """The options as the step receives them (``CheckInput.options``, ``MarkContext.options``)."""
        if self._parsed is None:
            raise PolicyError(
                f"the options of {self.name} were never parsed",
                hint="a StepSpec gets its parsed options from the Policy that holds it",
            )
        return self._parsed


_SIZE_RE = re.compile(r"^(\d{2,5})x(\d{2,5})$")


class Limits(_Strict):
    max_prompt_chars: int = Field(default=2000, ge=1, le=100_000)
    max_n: int = Field(default=4, ge=1, le=16)
    sizes: list[str] = Field(default_factory=lambda: ["256x256", "512x512", "1024x1024"])
    default_size: str = "512x512"
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_input_pixels: int = Field(default=16_777_216, ge=1024)  # 4096 x 4096
    max_input_side: int = Field(default=8192, ge=16)
    animated: Literal["first_frame", "refuse"] = "first_frame"

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one size is required")
        for s in v:
            if not _SIZE_RE.match(s):
                raise ValueError(f"size {s!r} is not WIDTHxHEIGHT")
        return v

    @model_validator(mode="after")
    def _default_listed(self) -> Limits:
        if self.default_size not in self.sizes:
            raise ValueError(f"default_size {self.default_size!r} is not among sizes {self.sizes}")
        return self


class Checks(_Strict):
    prompt: list[StepSpec] = Field(default_factory=list)
    input_image: list[StepSpec] = Field(default_factory=list)
    output_image: list[StepSpec] = Field(default_factory=list)

    def for_target(self, kind: TargetKind) -> list[StepSpec]:
        return {
            TargetKind.PROMPT: self.prompt,
            TargetKind.INPUT_IMAGE: self.input_image,
            TargetKind.OUTPUT_IMAGE: self.output_image,
        }[kind]

    def names(self) -> list[str]:
        return sorted({s.name for s in (*self.prompt, *self.input_image, *self.output_image)})


class PromptStorage(_Strict):
    """What of the prompt the ledger stores: the text, a redacted text, or only its digest."""

    mode: Literal["plain", "redacted", "digest"] = "plain"
    #: after this many days the text is erased and only the digest stays (None: kept)
    retention_days: int | None = Field(default=180, ge=1)


class Retention(_Strict):
    #: personal data (prompt text, requester ids) is erased after this many days (None: kept)
    personal_data_days: int | None = Field(default=180, ge=1)
    #: the legal minimum a record must be kept whole: no retention rule of the policy may erase any
    #: of its fields sooner (checked at load; CAC Labeling Measures Art. 9 asks six months = 184 days)
    records_min_days: int = Field(default=180, ge=0)


class Review(_Strict):
    four_eyes: list[Category] = Field(default_factory=list)
    sla_hours: float = Field(default=24, gt=0)
    keep_rejected_images: bool = False


class BiasMonitoring(_Strict):
    """Bias monitoring of outputs (``assay report bias``): with ``record_perceived`` on, every output
    image in which ``image.faces`` found faces gets, in its record, each face's *perceived* gender,
    age bracket and skin tone (network and colorimetric estimates of appearance, never identity;
    no crop or embedding is kept), and the occupation or role its prompt names."""

    record_perceived: bool = True


class Complaints(_Strict):
    """Complaints from the public and appeals of requesters (:mod:`gateway.review.cases`)."""

    #: hours until a complaint or appeal is due; None: ``ASSAY_COMPLAINTS_RESPOND_WITHIN_HOURS``
    respond_within_hours: float | None = Field(default=None, gt=0, le=24 * 365)


class AdmissionRules(_Strict):
    """The tenant's share of the model (gateway.admission): how many of its generations may run
    at once, wait at once, how long one may wait, and its weight in fair service (2 = twice the
    model time of a tenant of weight 1 while both wait). None: the gateway's settings decide."""

    max_concurrent: int | None = Field(default=None, ge=1, le=10_000)
    max_queued: int | None = Field(default=None, ge=0, le=100_000)
    max_wait_s: float | None = Field(default=None, gt=0, le=3600)
    weight: float = Field(default=1.0, gt=0, le=1000)


class Policy(_Strict):
    """A validated policy pack. See the module docstring."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    version: str = "1"
    description: str = ""
    jurisdictions: list[str] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    checks: Checks = Field(default_factory=Checks)
    categories: dict[Category, CategoryRule] = Field(default_factory=dict)
    #: applies to categories the policy does not list
    default_rule: CategoryRule = Field(default_factory=lambda: CategoryRule(review_at=0.5, block_at=0.8))
    marks: list[StepSpec] = Field(default_factory=list)
    #: a policy without the full set of marks must say so: this flag is recorded with every decision
    unsafe_allow_unmarked: bool = False
    prompt_storage: PromptStorage = Field(default_factory=PromptStorage)
    retention: Retention = Field(default_factory=Retention)
    review: Review = Field(default_factory=Review)
    complaints: Complaints = Field(default_factory=Complaints)
    admission: AdmissionRules = Field(default_factory=AdmissionRules)
    bias_monitoring: BiasMonitoring = Field(default_factory=BiasMonitoring)
    #: prompt text may go into the C2PA manifest (off by default: prompts are personal data)
    prompt_in_manifest: bool = False

    _digest: str = PrivateAttr(default="")
    _source: str = PrivateAttr(default="")

    @model_validator(mode="after")
    def _marks_required(self) -> Policy:
        names = {m.name for m in self.marks}
        if not self.unsafe_allow_unmarked and not {"c2pa", "watermark", "label.metadata"} <= names:
            missing = sorted({"c2pa", "watermark", "label.metadata"} - names)
            raise ValueError(
                f"marks {missing} are missing; list them, or set unsafe_allow_unmarked: true to say so"
            )
        return self

    @model_validator(mode="after")
    def _records_kept_long_enough(self) -> Policy:
        """No retention rule may erase part of a record before ``retention.records_min_days``.

        The ledger leaves are never deleted; what retention erases is the personal data a record
        holds (the requester after ``personal_data_days``; the prompt text after
        ``prompt_storage.retention_days``). A log the law says to keep N days with its recipient
        (and, where stored, the prompt) erased sooner is not kept. A digest-only prompt has no
        text to erase, so its ``retention_days`` does not count.
        """
        minimum = self.retention.records_min_days
        rules = [(("retention", "personal_data_days"), self.retention.personal_data_days, "the requester")]
        if self.prompt_storage.mode != "digest":
            rules.append(
                (("prompt_storage", "retention_days"), self.prompt_storage.retention_days, "the prompt text")
            )
        problems = [
            [
                list(loc),
                f"{days} days is shorter than retention.records_min_days ({minimum}): {what} would be "
                f"erased from records that must be kept whole for {minimum} days",
            ]
            for loc, days, what in rules
            if days is not None and days < minimum
        ]
        if problems:
            raise PydanticCustomError(
                _CROSS_KEY,
                "; ".join(f"{'.'.join(loc)}: {msg}" for loc, msg in problems),
                {"problems": problems},
            )
        return self

    @model_validator(mode="after")
    def _parse_step_options(self, info: ValidationInfo) -> Policy:
        """Parse each step's options with its entry's model, once (see the module docstring).

        A name no entry knows is refused when the context says ``known_steps_only`` (a policy file);
        a policy built in code may name a plug-in installed with ``Registry.add`` (:class:`OpenOptions`).
        """
        from provenance.mark_registry import BUILTIN_MARKS
        from safety.registry import BUILTIN_CHECKS

        known_only = bool((info.context or {}).get("known_steps_only"))
        steps: list[tuple[tuple[str | int, ...], StepSpec, Catalogue]] = [
            (("checks", kind.value, i), spec, BUILTIN_CHECKS)
            for kind in TargetKind
            for i, spec in enumerate(self.checks.for_target(kind))
        ]
        steps += [(("marks", i), spec, BUILTIN_MARKS) for i, spec in enumerate(self.marks)]
        problems: list[list[Any]] = []
        for loc, spec, catalogue in steps:
            entry = catalogue.get(spec.name)
            if entry is None:
                if known_only:
                    known = ", ".join(sorted(catalogue))
                    problems.append([list(loc), f"unknown {catalogue.kind} {spec.name!r} (known: {known})"])
                else:
                    spec._parsed = OpenOptions.model_validate(spec.options)
                continue
            try:
                spec._parsed = entry.parse_options(spec.options)
            except ValidationError as exc:
                problems += [
                    [
                        [*loc, "options", *err["loc"]],
                        "unknown key" if err["type"] == "extra_forbidden" else err["msg"],
                    ]
                    for err in exc.errors()
                ]
        if problems:
            raise PydanticCustomError(
                _CROSS_KEY,
                "; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems),
                {"problems": problems},
            )
        return self

    @property
    def digest(self) -> str:
        if not self._digest:
            canon = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
            self._digest = "sha256:" + hashlib.sha256(canon.encode()).hexdigest()
        return self._digest

    @property
    def source(self) -> str:
        return self._source

    def rule_for(self, category: Category) -> CategoryRule:
        return self.categories.get(category, self.default_rule)

    def mark_names(self) -> list[str]:
        return [m.name for m in self.marks]


# --- loading -----------------------------------------------------------------------------------
#: error type of rules across keys; its ``ctx["problems"]`` lists ``[key path, message]`` pairs
_CROSS_KEY = "policy_cross_key"


def _error_lines(err: Any) -> list[tuple[tuple[Any, ...], str]]:
    """(key path, message) of one pydantic error; a cross-key rule names each key it concerns."""
    if err["type"] == _CROSS_KEY:
        return [(tuple(loc), msg) for loc, msg in err["ctx"]["problems"]]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    return [(loc, "unknown key" if err["type"] == "extra_forbidden" else err["msg"])]


# libyaml's safe loader where PyYAML was built with it (7x faster than the pure-Python one: a gateway
# and every test builds its PolicySet from the folder), else the pure-Python one; both are safe.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Follow a pydantic error location through the YAML node tree; return the 1-based line."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if str(k.value) == str(key):
                    nxt, line = v, k.start_mark.line + 1
                    break
            if nxt is None:
                return line
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def parse_policy(text: str, source: str = "<string>") -> Policy:
    """Parse and validate one policy pack; errors name ``source``, the key path and the line."""
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise PolicyError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: a policy must be a YAML mapping, got {type(data).__name__}")
    try:
        policy = Policy.model_validate(data, context={"known_steps_only": True})
    except ValidationError as exc:
        node = yaml.compose(text, Loader=_YAML_LOADER)  # the node tree (lines) only for the message
        lines = []
        for err in exc.errors():
            for loc, msg in _error_lines(err):
                key = ".".join(str(p) for p in loc) or "(top level)"
                lines.append(f"{source}:{_line_of(node, loc) or '?'}: {key}: {msg}")
        raise PolicyError(
            f"invalid policy {source}:\n  " + "\n  ".join(lines), details={"errors": lines}
        ) from exc
    policy._source = source
    return policy


def load_policy(path: str | Path) -> Policy:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PolicyError(f"policy file not found: {p}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy file {p}: {exc}") from exc
    policy = parse_policy(text, source=str(p))
    if policy.id != p.stem:
        raise PolicyError(f"{p}: policy id {policy.id!r} must match the file name {p.stem!r}", param="id")
    return policy


class PolicySet:
    """All policy packs of a policy folder, by id; loaded once and validated as a whole."""

    def __init__(self, policies: dict[str, Policy]) -> None:
        self._policies = policies
        self._lock = threading.Lock()

    @classmethod
    def from_dir(cls, folder: str | Path) -> PolicySet:
        folder = Path(folder)
        if not folder.is_dir():
            raise PolicyError(f"policy folder not found: {folder}")
        policies = {}
        for f in sorted(folder.glob("*.yaml")):
            pol = load_policy(f)
            policies[pol.id] = pol
        if not policies:
            raise PolicyError(f"no *.yaml policy packs in {folder}")
        return cls(policies)

    def add(self, policy: Policy) -> None:
        """Install a policy built in code (tests, embedding applications)."""
        with self._lock:
            self._policies[policy.id] = policy

    def get(self, policy_id: str) -> Policy:
        try:
            return self._policies[policy_id]
        except KeyError:
            raise PolicyError(
                f"unknown policy {policy_id!r}", hint=f"known: {', '.join(sorted(self._policies))}"
            ) from None

    def ids(self) -> list[str]:
        return sorted(self._policies)

    def all(self) -> list[Policy]:
        return [self._policies[k] for k in sorted(self._policies)]

    def retention_rules(self, default_policy: str) -> Callable[[str | None], RetentionRules]:
        """``rules_for`` for :func:`~provenance.ledger.retention.apply_retention`: the rules of the
        policy a record was decided under, or of the default policy for a retired one."""
        from provenance.ledger.retention import RetentionRules  # the ledger only when retention runs

        def rules_for(policy_id: str | None) -> RetentionRules:
            try:
                pol = self.get(policy_id or default_policy)
            except PolicyError:
                pol = self.get(default_policy)
            return RetentionRules(
                prompt_days=pol.prompt_storage.retention_days,
                personal_data_days=pol.retention.personal_data_days,
            )

        return rules_for
