"""Typed shapes of the review queue: states, reason codes, what an item holds and what leaves it.

Why a separate module: the tables store JSON and ids; everything a caller sees (the API, the page,
the CLI) is one of these models, so a held image's blob key or a requester's key id never reaches
a response that was not meant to carry it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.base import GenerationMode, ModelInfo
from provenance.ledger.bodies import ComplaintReason, GenerationOutput, ReviewAction, ReviewState
from safety.verdict import Action, Reason, Verdict

__all__ = [
    "MAX_COMMENT",
    "REASON_CODES",
    "AppealIn",
    "AppealOutcome",
    "AppealStats",
    "CaseDecisionIn",
    "CaseOut",
    "CaseView",
    "ComplaintOutcome",
    "DecisionIn",
    "GenerationOutput",
    "HeldImage",
    "HeldPayload",
    "ItemKind",
    "QueueCounts",
    "QueueFilter",
    "QueuePage",
    "ReasonCode",
    "ReportIn",
    "ReportStatus",
    "ReviewAction",
    "ReviewDetail",
    "ReviewEventOut",
    "ReviewState",
    "ReviewStatus",
    "ReviewSummary",
]

# ReviewState and ReviewAction are what the ledger's review records say: their home is
# provenance.ledger.bodies, next to the record's shape (ReviewBody).


class ItemKind(StrEnum):
    """What a queue item is about."""

    GENERATION = "generation"  # a held generation: approve (release) or reject
    COMPLAINT = "complaint"  # a public complaint about a released image: uphold (withdraw) or reject
    APPEAL = "appeal"  # a requester contests a block or a rejection: overturn or uphold


class ReasonCode(StrEnum):
    # approve
    NO_VIOLATION = "no_violation"
    FALSE_POSITIVE = "false_positive"
    CONSENT_ON_FILE = "consent_on_file"
    LICENSED = "licensed"
    PUBLIC_INTEREST = "public_interest"
    # reject
    REAL_PERSON = "real_person"
    LIKENESS = "likeness"
    SEXUAL = "sexual"
    MINORS = "minors"
    VIOLENCE = "violence"
    HATE = "hate"
    COPYRIGHT = "copyright"
    PII = "pii"
    # escalate
    UNSURE = "unsure"
    LEGAL = "legal"
    POLICY_GAP = "policy_gap"
    # any
    OTHER = "other"


#: which reason codes each decision takes ("other" always needs a comment)
REASON_CODES: dict[str, tuple[ReasonCode, ...]] = {
    "approve": (
        ReasonCode.NO_VIOLATION,
        ReasonCode.FALSE_POSITIVE,
        ReasonCode.CONSENT_ON_FILE,
        ReasonCode.LICENSED,
        ReasonCode.PUBLIC_INTEREST,
        ReasonCode.OTHER,
    ),
    "reject": (
        ReasonCode.REAL_PERSON,
        ReasonCode.LIKENESS,
        ReasonCode.SEXUAL,
        ReasonCode.MINORS,
        ReasonCode.VIOLENCE,
        ReasonCode.HATE,
        ReasonCode.COPYRIGHT,
        ReasonCode.PII,
        ReasonCode.OTHER,
    ),
    "escalate": (ReasonCode.UNSURE, ReasonCode.LEGAL, ReasonCode.POLICY_GAP, ReasonCode.OTHER),
}

MAX_COMMENT = 2000


# --- what an item holds (the ``payload`` column) ------------------------------------------------
class HeldImage(BaseModel):
    index: int
    content_id: str
    blob: str | None  # the unmarked image; None once discarded
    decision_action: Action
    reasons: list[Reason] = Field(default_factory=list)


class HeldPayload(BaseModel):
    """Everything the release needs and the reviewer sees, captured when the generation is held."""

    model_config = ConfigDict(extra="forbid")

    mode: GenerationMode
    output_format: str
    created_at: datetime  # the generation's time (the C2PA manifest says when the image was made)
    prompt_digest: str | None = None
    images: list[HeldImage]
    #: blob keys of the input images: the edit's, then the control image (at ``control_index``)
    inputs: list[str | None] = Field(default_factory=list)
    control_index: int | None = None  # which of ``inputs`` is the control image
    control_type: str | None = None
    mask: str | None = None
    verdicts: list[Verdict] = Field(default_factory=list)
    reasons: list[Reason] = Field(default_factory=list)  # the generation's decision
    model: ModelInfo | None = None  # as recorded


# --- what leaves ---------------------------------------------------------------------------------
class ReviewSummary(BaseModel):
    """One row of the queue."""

    id: str
    tenant: str
    kind: ItemKind = ItemKind.GENERATION
    record_id: str
    subject_id: str | None = None  # a complaint's or an appeal's generation record
    policy_id: str
    state: ReviewState  # effective: an expired claim shows as pending (or escalated)
    priority: int
    categories: list[str]
    created_at: datetime
    due_at: datetime
    overdue: bool
    approvals: int
    approvals_needed: int
    escalated: bool
    claimed_by: str | None = None
    lease_until: datetime | None = None


class ReviewEventOut(BaseModel):
    id: str
    actor: str
    actor_role: str
    action: str
    state_from: str | None
    state_to: str | None
    reason_code: str | None
    comment: str | None
    ledger_record_id: str
    at: datetime


class CaseView(BaseModel):
    """What a complaint or an appeal adds to the reviewer's view of its item."""

    reason: str  # a ComplaintReason, or "appeal"
    text: str | None
    contact: str | None
    content_ids: list[str]
    contested: str | None  # appeal: blocked | rejected
    original_review_id: str | None
    first_deciders: list[str]  # appeal: none of them may decide it
    outcome: str | None
    outcomes: list[str]  # what the decision may be


class ReviewDetail(ReviewSummary):
    """Everything a reviewer sees about one item (never the blob keys)."""

    prompt: str | None
    prompt_digest: str | None
    mode: str
    model_id: str | None
    images: list[int]  # indices of the held images (fetch each from .../images/{index})
    inputs: int  # how many input images there are (.../inputs/{n})
    verdicts: list[Verdict]
    reasons: list[Reason]
    first_approver: str | None
    decided_by: str | None
    decided_at: datetime | None
    reason_code: str | None
    comment: str | None
    requester_user: str | None
    events: list[ReviewEventOut]
    case: CaseView | None = None  # complaints and appeals


class ReviewStatus(BaseModel):
    """What the requester sees: the state of their held generation, and the images once approved."""

    id: str
    record_id: str
    status: Literal["pending", "approved", "rejected"]
    created_at: datetime
    decided_at: datetime | None = None
    reason_code: str | None = None


class QueueCounts(BaseModel):
    pending: int = 0
    claimed: int = 0
    releasing: int = 0
    escalated: int = 0
    approved: int = 0
    rejected: int = 0
    overdue: int = 0  # open items past their SLA due time


class QueueFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: ReviewState | Literal["open", "all"] = "open"
    tenant: str | None = None
    category: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,32}$")
    policy: str | None = Field(default=None, max_length=64)
    kind: ItemKind | None = None
    overdue: bool = False
    mine: bool = False  # only items claimed by the caller
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class QueuePage(BaseModel):
    object: Literal["list"] = "list"
    data: list[ReviewSummary]
    counts: QueueCounts
    total: int  # items matching the filter
    limit: int
    offset: int


class DecisionIn(BaseModel):
    """A reviewer's decision as sent to the API / page / CLI."""

    model_config = ConfigDict(extra="forbid")

    reason_code: ReasonCode
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)

    @model_validator(mode="after")
    def _other_needs_comment(self) -> DecisionIn:
        if self.reason_code is ReasonCode.OTHER and not (self.comment or "").strip():
            raise ValueError("reason code 'other' needs a comment saying why")
        return self


# --- complaints and appeals (gateway.review.cases) ----------------------------------------------
MAX_CASE_TEXT = 4000


class ComplaintOutcome(StrEnum):
    UPHELD = "upheld"  # the content is withdrawn
    REJECTED = "rejected"  # nothing changes


class AppealOutcome(StrEnum):
    OVERTURNED = "overturned"  # the first decision was wrong
    UPHELD = "upheld"  # the first decision stands


class ReportIn(BaseModel):
    """A complaint as the public sends it (JSON, or the form fields of a multipart upload)."""

    model_config = ConfigDict(extra="forbid")

    record_id: str | None = Field(default=None, pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")
    content_id: str | None = Field(default=None, pattern=r"^[0-9A-HJKMNP-TV-Z]{26}-[0-9]{1,3}$")
    reason: ComplaintReason
    text: str = Field(min_length=1, max_length=MAX_CASE_TEXT)
    contact: str | None = Field(default=None, max_length=320)


class ReportStatus(BaseModel):
    """What the reporter sees (``GET /v1/reports/{id}``): never who decided or why in detail."""

    object: Literal["report"] = "report"
    id: str
    status: Literal["received", "in_review", "upheld", "rejected"]
    reason: ComplaintReason
    created_at: datetime
    due_at: datetime
    decided_at: datetime | None = None
    status_url: str


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_id: str = Field(pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")
    reason: str = Field(min_length=1, max_length=MAX_CASE_TEXT)


class CaseOut(BaseModel):
    """An appeal as its requester sees it."""

    object: Literal["appeal"] = "appeal"
    id: str
    record_id: str
    status: Literal["received", "in_review", "overturned", "upheld"]
    contested: Literal["blocked", "rejected"]
    created_at: datetime
    due_at: datetime
    decided_at: datetime | None = None
    released: bool = False
    status_url: str


class CaseDecisionIn(BaseModel):
    """A reviewer's decision of a complaint (upheld | rejected) or an appeal (overturned | upheld)."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["upheld", "rejected", "overturned"]
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)


class AppealStats(BaseModel):
    """Appeals decided and overturned (the measured false-block rate), overall and per category."""

    object: Literal["appeal_stats"] = "appeal_stats"
    tenant: str | None
    received: int
    decided: int
    overturned: int
    overturn_rate: float | None  # overturned / decided; None before any decision
    by_category: dict[str, dict[str, float | int | None]]
