"""The `Verdict`: what one check found about one target, with the evidence a reviewer needs.

Why it exists: every check (lexicon, semantic, NSFW, faces, near-duplicate...) speaks the same
small language so that the policy engine can decide on any of them with one rule table, the ledger
can record them, and the review page can show *why* something was flagged. Categories come from one
shared list so that a policy threshold for ``sexual`` applies whether the prompt or the pixels said it.

What a policy makes of verdicts is said in the same language: an :class:`Action` and the
:class:`Reason` s behind it, together a :class:`Decision` (computed by :mod:`gateway.decision`,
recorded in the ledger by :mod:`provenance.ledger.bodies`). Imports: pydantic only.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import ConfigError


class Category(StrEnum):
    """The shared category list. Policies set thresholds and actions per category."""

    SEXUAL = "sexual"
    MINORS = "minors"
    VIOLENCE = "violence"
    SELF_HARM = "self_harm"
    HATE = "hate"
    EXTREMISM = "extremism"
    ILLEGAL = "illegal"  # drugs, weapons manufacture, fraud documents
    REAL_PERSON = "real_person"  # a (photorealistic) real person: named in the prompt or a face found
    LIKENESS = "likeness"  # a protected person's likeness matched in the likeness gallery
    PII = "pii"
    COPYRIGHT = "copyright"  # near-duplicate of an indexed (training / protected) work
    POLITICAL = "political"  # state symbols, leaders: regulated in some jurisdictions
    OTHER = "other"

    @classmethod
    def parse(cls, value: str, where: str, *, besides: str = "") -> Category:
        """``value`` as a category, or a :class:`ConfigError` naming ``where`` (file:line, key) and
        the categories to use (``besides``: what else the caller accepts, for the hint)."""
        try:
            return cls(value)
        except ValueError:
            listed = ", ".join(c.value for c in cls)
            raise ConfigError(
                f"{where}: unknown category {value!r}",
                hint=f"use {besides + ' or ' if besides else ''}one of {listed}",
            ) from None


class TargetKind(StrEnum):
    PROMPT = "prompt"
    INPUT_IMAGE = "input_image"
    OUTPUT_IMAGE = "output_image"


class Target(BaseModel):
    """What was looked at: the prompt, input image *i* or output image *i*."""

    model_config = ConfigDict(frozen=True)

    kind: TargetKind
    index: int | None = None

    @classmethod
    def prompt(cls) -> Target:
        return cls(kind=TargetKind.PROMPT)

    @classmethod
    def input_image(cls, i: int) -> Target:
        return cls(kind=TargetKind.INPUT_IMAGE, index=i)

    @classmethod
    def output_image(cls, i: int) -> Target:
        return cls(kind=TargetKind.OUTPUT_IMAGE, index=i)

    def __str__(self) -> str:
        return self.kind.value if self.index is None else f"{self.kind.value}[{self.index}]"


class Verdict(BaseModel):
    """One finding of one check on one target.

    ``score`` is 0..1 (1 = certainly in the category). ``evidence`` is JSON data a reviewer can
    read: the matched span (``start``/``end`` into the *original* prompt and ``text``), the rule or
    exemplar that fired, a box ``[x, y, w, h]``, a matched source and its distance. ``reason`` is
    one sentence for a compliance officer.
    """

    model_config = ConfigDict(frozen=True)

    check: str
    category: Category
    score: float = Field(ge=0.0, le=1.0)
    target: Target
    reason: str = ""
    evidence: dict[str, Any] = Field(default_factory=dict)

    @field_validator("score")
    @classmethod
    def _finite(cls, v: float) -> float:
        if v != v:  # NaN
            raise ValueError("score is NaN")
        return float(v)

    def summary(self) -> str:
        return f"{self.check}: {self.category.value} {self.score:.2f} on {self.target}" + (
            f" — {self.reason}" if self.reason else ""
        )


# --- what a policy makes of verdicts ---------------------------------------------------------------
class Action(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"

    @property
    def rank(self) -> int:
        return {"allow": 0, "review": 1, "block": 2}[self.value]


class Reason(BaseModel):
    """One verdict that pushed a decision up, in words a compliance officer reads."""

    model_config = ConfigDict(frozen=True)

    action: Action
    category: str
    check: str
    target: str
    score: float
    threshold: float
    text: str


class Decision(BaseModel):
    """The strongest action a policy's rules give a set of verdicts, and every reason for it."""

    model_config = ConfigDict(frozen=True)

    action: Action
    reasons: list[Reason] = Field(default_factory=list)

    @property
    def categories(self) -> list[str]:
        return sorted({r.category for r in self.reasons})

    def explain(self) -> str:
        if not self.reasons:
            return f"{self.action.value}: no check found anything the policy acts on"
        return f"{self.action.value}: " + "; ".join(r.text for r in self.reasons)
