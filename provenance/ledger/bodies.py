"""The bodies of the records the gateway appends: one typed shape each, for the writers and every reader.

Why it exists: a ledger body is canonical JSON, and a dict built in two places drifts into two
shapes (the generation's outputs once had an ``action``, the approved review's outputs had none).
Here is the one shape of a generation record (:class:`GenerationBody`, its outputs
:class:`GenerationOutput` and the marks' facts :class:`MarkFacts`) and of a review record
(:class:`ReviewBody`). The pipeline, the release stage and the review queue write them; the API,
the review queue, ``verify`` and the exports read them with ``model_validate(record.body)``.

Records written before these models read back unchanged: the field names are the ones the ledger
has always held, and parts only some records carry are optional: an optional part without a value
is left out of the body (:meth:`Body.to_body`) rather than written as ``null``.

Imports run down only: :mod:`safety.verdict` (verdicts, decisions) and :mod:`models.base`
(``ModelInfo``, ``GenerationMode``), so ``provenance`` reads records without importing ``gateway``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from models.base import GenerationMode, ModelInfo
from safety.verdict import Action, Decision, Verdict

__all__ = [
    "AppealAction",
    "AppealBody",
    "Body",
    "C2paFacts",
    "ComplaintAction",
    "ComplaintBody",
    "ComplaintReason",
    "ControlFacts",
    "ErrorFacts",
    "GenerationBody",
    "GenerationOutput",
    "GenerationStatus",
    "MarkFacts",
    "MetadataLabelFacts",
    "PeopleFacts",
    "PerceivedFace",
    "RequestFacts",
    "ReviewAction",
    "ReviewBody",
    "ReviewState",
    "VisibleLabelFacts",
    "WatermarkFacts",
]


class Body(BaseModel):
    """A part of a record body. The fields named in ``optional`` are left out while they are None."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    optional: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _leave_out_empty_optional_parts(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for name in self.optional:
                if getattr(self, name) is None:
                    field = type(self).model_fields[name]
                    data.pop(field.alias if (info.by_alias and field.alias) else name, None)
        return data

    def to_body(self) -> dict[str, Any]:
        """The JSON form the ledger stores (``LedgerRecord.body``)."""
        out: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        return out


# --- the marks' facts ------------------------------------------------------------------------------
class WatermarkFacts(Body):
    """What the watermark step reports (``facts["watermark"]``); ``payload`` is the index's lookup key."""

    scheme: str
    payload: str  # hex, as the watermark's payload_hex writes it
    bits: int
    psnr: float
    weakened: bool  # the PSNR floor weakened the mark
    masked: bool  # spread by texture (False: the even-spread retry that read back)


class C2paFacts(Body):
    """What the signing step reports (``facts["c2pa"]``)."""

    manifest_digest: str | None
    manifest_label: str | None
    signer: str | None
    alg: str
    development_certificate: bool
    file_sha256: str


class VisibleLabelFacts(Body):
    """What the visible label step drew (``facts["label.visible"]``)."""

    text: str
    position: str
    box: list[int]
    font_size: int
    glyph_height_px: int
    glyph_ratio: float
    measured_glyph: str
    plate: str
    plate_opacity: float
    contrast: float


class MetadataLabelFacts(Body):
    """What the metadata label step wrote (``facts["label.metadata"]``)."""

    aigc: str  # the TC260:AIGC value (GB 45438 Annex E): the JSON text written into the XMP
    digital_source_type: str
    produce_id: str


class MarkFacts(Body):
    """Every mark's facts about one released image, by mark name; a mark the policy did not list
    is absent. A mark registered by an operator reports under its own name (kept as given)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    optional: ClassVar[frozenset[str]] = frozenset({"label_visible", "label_metadata", "watermark", "c2pa"})

    label_visible: VisibleLabelFacts | None = Field(default=None, alias="label.visible")
    label_metadata: MetadataLabelFacts | None = Field(default=None, alias="label.metadata")
    watermark: WatermarkFacts | None = None
    c2pa: C2paFacts | None = None


# --- who the output shows (bias monitoring) -------------------------------------------------------
class PerceivedFace(Body):
    """A network's estimate of one face's *appearance* in an output: never identity, never a
    person's actual gender, age or ethnicity; no crop, landmark or embedding is kept."""

    gender: Literal["female", "male"]  # perceived, by the CC0 dlib gender network
    gender_p: float  # that network's probability for it
    age_bracket: Literal["<18", "18-29", "30-44", "45-64", "65+"]  # perceived, by the CC0 age network
    #: Individual Typology Angle of the face's skin-like pixels (CIELAB, degrees) and its class;
    #: None when too few skin-like pixels were found
    ita: float | None
    skin_tone: str | None


class PeopleFacts(Body):
    """The faces of one output image as bias monitoring records them (``outputs[i].people``):
    counts and perceived attributes only, written when ``image.faces`` found faces on the output
    and the policy's ``bias_monitoring.record_perceived`` is on."""

    #: the occupation or role the prompt names (:func:`safety.image.bias.prompt_group`), taken at
    #: generation time so the report needs no prompt text (it may be stored as a digest only)
    prompt_group: str
    faces: int
    perceived: list[PerceivedFace]
    method: str = "dlib CC0 age/gender networks; skin tone: ITA (Chardon 1991) on the face chip"


# --- a generation record ---------------------------------------------------------------------------
class GenerationStatus(StrEnum):
    """What became of a generation (the record body's ``status``)."""

    RELEASED = "released"  # at least one image left
    HELD = "held"  # none left yet: at least one waits for a reviewer
    BLOCKED = "blocked"  # the policy blocked the request or every image
    FAILED = "failed"  # a component failed (fail closed: nothing left)
    INVALID = "invalid"  # the request was refused as malformed
    REFUSED = "refused"  # admission turned it away before any work (the model was saturated)


class GenerationOutput(Body):
    """One output image of a generation, as recorded (also in an approved review's record)."""

    index: int
    content_id: str
    #: what the policy decided for this image; an approved review's outputs were released
    #: (records written before this field was there say nothing: they were released)
    action: Action = Action.ALLOW
    sha256: str | None = None  # of the released bytes
    blob: str | None = None  # blob key: the released bytes, or the unmarked image held for review
    media_type: str | None = None
    marks: MarkFacts = Field(default_factory=MarkFacts)
    people: PeopleFacts | None = None

    optional: ClassVar[frozenset[str]] = frozenset({"people"})


class ControlFacts(Body):
    """A request's control image as recorded: what it was and which input image it was checked as.

    The control image passes the policy's input-image checks like an edit's upload; their verdicts
    are the record's verdicts on ``input_image[input_index]`` (after the edit's own inputs)."""

    sha256: str  # of the uploaded bytes
    control_type: str  # canny, pose, depth, segmentation, ... (models/control.py)
    strength: float  # the control's conditioning strength
    input_index: int  # the verdicts' target index (kind input_image)
    checks: list[str]  # the policy's input-image checks it was sent through


class RequestFacts(Body):
    """The request as recorded (never the prompt: that is a field of the record, as the policy says)."""

    optional: ClassVar[frozenset[str]] = frozenset({"control"})

    mode: GenerationMode
    n: int
    size: str
    seed: int | None
    steps: int | None
    guidance: float | None
    inputs: list[str]  # SHA-256 of each uploaded input image
    prompt_storage: Literal["plain", "redacted", "digest"]
    control: ControlFacts | None = None  # requests with a control image only


class ErrorFacts(Body):
    """Why a generation failed: the stage, the error's code and class, its message without the prompt."""

    stage: str
    code: str
    type: str
    message: str


class GenerationBody(Body):
    """The body of a ``generation`` record."""

    optional: ClassVar[frozenset[str]] = frozenset({"error"})

    status: GenerationStatus
    request: RequestFacts
    decision: Decision
    verdicts: list[Verdict]
    model: ModelInfo | None
    outputs: list[GenerationOutput]
    unsafe_allow_unmarked: bool
    timings_ms: dict[str, float]
    key_id: str
    error: ErrorFacts | None = None  # failed, invalid and refused records only


# --- a review record -------------------------------------------------------------------------------
class ReviewState(StrEnum):
    PENDING = "pending"  # waiting for a reviewer (also: a first approval is in, waiting for the second)
    CLAIMED = "claimed"  # a reviewer holds a lease on it
    RELEASING = "releasing"  # approved; the marks and the record are being written
    ESCALATED = "escalated"  # waiting for an admin
    APPROVED = "approved"  # released (marked images stored, review record in the ledger)
    REJECTED = "rejected"  # not released; held bytes discarded unless the policy keeps them

    @property
    def terminal(self) -> bool:
        return self in (ReviewState.APPROVED, ReviewState.REJECTED)


class ReviewAction(StrEnum):
    """What a review ledger record says happened (its ``decision`` token)."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    UNCLAIMED = "unclaimed"
    APPROVED_FIRST = "approved_first"  # four-eyes: the first of two approvals
    APPROVED = "approved"
    REJECTED = "rejected"
    ESCALATED = "escalated"
    COMMENTED = "commented"


class ReviewBody(Body):
    """The body of a ``review`` record: who did what to which item, and what some actions add."""

    optional: ClassVar[frozenset[str]] = frozenset(
        {
            "priority",
            "due_at",
            "approvals",
            "approvals_needed",
            "first_approver",
            "images",
            "lease_until",
            "renewed",
            "took_over_expired",
            "images_kept",
            "outputs",
        }
    )

    review_id: str
    action: ReviewAction
    actor: str  # the key id that acted
    actor_role: str
    from_: ReviewState | None = Field(alias="from")
    to: ReviewState | None
    reason_code: str | None
    comment_sha256: str | None  # the comment itself stays in the queue's tables (it may name a person)
    # queued
    priority: int | None = None
    due_at: datetime | None = None
    # queued, approved_first, approved
    approvals_needed: int | None = None
    approvals: int | None = None
    first_approver: str | None = None
    # queued, rejected: the content ids of the held images
    images: list[str] | None = None
    # claimed
    lease_until: datetime | None = None
    renewed: bool | None = None
    took_over_expired: bool | None = None
    # rejected
    images_kept: bool | None = None
    # approved: the released images
    outputs: list[GenerationOutput] | None = None


# --- complaints and appeals ------------------------------------------------------------------------
class ComplaintReason(StrEnum):
    """Why the public reports a released image (``POST /v1/reports``)."""

    PRIVACY = "privacy"  # a real person's likeness or data, a deepfake of someone
    COPYRIGHT = "copyright"
    UNLABELLED = "unlabelled"  # the image circulates without its AI-generated label
    ILLEGAL = "illegal"
    OTHER = "other"


class ComplaintAction(StrEnum):
    """What a ``complaint`` record says happened (its ``decision`` token)."""

    RECEIVED = "received"
    UPHELD = "upheld"  # the content was withdrawn: its content URL answers 410
    REJECTED = "rejected"  # nothing withdrawn


class ComplaintBody(Body):
    """The body of a ``complaint`` record; its ``subject_id`` is the generation record complained of.

    The complaint's text and the reporter's contact stay in the queue's tables (they may name a
    person): the ledger holds their SHA-256 only."""

    optional: ClassVar[frozenset[str]] = frozenset({"withdrawn", "found_by"})

    review_id: str
    action: ComplaintAction
    actor: str  # "public" for the report itself, else the reviewer's key id
    actor_role: str
    reason: ComplaintReason
    content_ids: list[str]  # the images complained of
    text_sha256: str | None
    comment_sha256: str | None
    due_at: datetime
    # received: how the record was found (record_id, content_id, or a verify method)
    found_by: str | None = None
    # upheld: the content ids withdrawn
    withdrawn: list[str] | None = None


class AppealAction(StrEnum):
    """What an ``appeal`` record says happened (its ``decision`` token)."""

    RECEIVED = "received"
    OVERTURNED = "overturned"  # the first decision was wrong (the measured false-block rate)
    UPHELD = "upheld"  # the first decision stands


class AppealBody(Body):
    """The body of an ``appeal`` record; its ``subject_id`` is the generation record appealed."""

    optional: ClassVar[frozenset[str]] = frozenset({"original_review_id", "released"})

    review_id: str
    action: AppealAction
    actor: str
    actor_role: str
    #: what the appeal contests: the generation's ``blocked`` status, or a ``rejected`` review
    contested: Literal["blocked", "rejected"]
    categories: list[str]  # the categories of the first decision
    #: who took part in the first decision (none for an automatic block): none of them may decide
    first_deciders: list[str]
    reason_sha256: str
    comment_sha256: str | None
    due_at: datetime
    original_review_id: str | None = None
    #: overturned: whether images were released (False: a prompt-stage block has no image)
    released: bool | None = None
