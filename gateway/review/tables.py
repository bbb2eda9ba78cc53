"""Review tables (model families: what a table holds is never returned by accident).

* ``review_items``: one held generation waiting for (or past) a moderator's decision (a narrow row:
  the evidence is in ``review_payloads``, the blobs it holds in ``review_blobs``). Its state
  changes only through conditional UPDATEs (:mod:`gateway.review.queue`), so two reviewers racing
  for the same item can never both win, on SQLite or PostgreSQL. ``version`` grows with every
  change and lets a failed ledger append undo exactly the change it was about.
* ``review_events``: the item's history (claims, decisions, comments) as the page shows it; each
  row names the ledger record that carries the same action.
* ``review_cases``: what a complaint or an appeal item adds to its ``review_items`` row (the
  reporter's text and contact, the content complained of, who decided the first time).
* ``withdrawn_content``: images an upheld complaint withdrew (their content URL answers 410).
* ``reviewer_tenants``: which tenants' queues a reviewer key may work, besides its own tenant.
* ``review_webhooks`` / ``review_deliveries``: a tenant's decision webhook and its outbox.
* ``review_sessions``: logins to the ``/review`` page (only the token's hash is stored).

The JSON columns of ``review_payloads`` hold pydantic models from :mod:`gateway.review.models`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Column, Field, SQLModel, col


class ReviewItem(SQLModel, table=True):
    __tablename__ = "review_items"
    __table_args__ = (
        # counts per state and overdue, read from the index alone (benchmarks/review.py)
        Index("ix_review_items_counts", "tenant", "state", "escalated", "lease_until", "due_at"),
    )

    id: str = Field(primary_key=True, max_length=26)  # ULID
    tenant: str = Field(max_length=64)
    #: generation (a held generation), complaint or appeal (:class:`gateway.review.models.ItemKind`)
    kind: str = Field(default="generation", max_length=16)
    #: the generation's ledger record (every review record points to it); of a complaint or an
    #: appeal: its own ``received`` record, whose subject is ``subject_id``
    record_id: str = Field(max_length=26, unique=True)
    #: a complaint's or an appeal's generation record (None for a held generation: ``record_id``)
    subject_id: str | None = Field(default=None, max_length=26, index=True)
    policy_id: str = Field(max_length=64)
    policy_digest: str = Field(max_length=80)
    state: str = Field(max_length=16)
    priority: int = 0
    #: ",cat1,cat2," (a LIKE '%,cat,%' filter needs no join)
    categories: str = Field(default=",", max_length=400)
    created_at: datetime
    due_at: datetime
    #: who asked: the API key id, and the OpenAI ``user`` the tenant named (neither may review it)
    requester_key_id: str = Field(max_length=32)
    requester_user: str | None = Field(default=None, max_length=256)
    #: the prompt as the reviewer must see it, while the item is open; after the decision only what
    #: the policy stores (plain, redacted or nothing)
    prompt: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    approvals_needed: int = 1
    first_approver: str | None = Field(default=None, max_length=32)
    first_approved_at: datetime | None = None
    escalated: bool = False
    claimed_by: str | None = Field(default=None, max_length=32)
    claimed_at: datetime | None = None
    lease_until: datetime | None = None
    decided_by: str | None = Field(default=None, max_length=32)
    decided_at: datetime | None = None
    reason_code: str | None = Field(default=None, max_length=40)
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    #: the review ledger record id reserved for the release (a retried release finds it)
    release_record_id: str | None = Field(default=None, max_length=26)
    version: int = 0


# the queue's order (priority, then due time): the first page is read in index order and stops at 50 rows
Index("ix_review_items_order", col(ReviewItem.priority).desc(), col(ReviewItem.due_at), col(ReviewItem.id))
Index(
    "ix_review_items_tenant_order",
    col(ReviewItem.tenant),
    col(ReviewItem.priority).desc(),
    col(ReviewItem.due_at),
    col(ReviewItem.id),
)


class ReviewPayload(SQLModel, table=True):
    """The evidence and release data of an item, apart from the narrow queue row: the queue page
    scans and counts ``review_items`` and must not read kilobytes of verdicts per row to do it."""

    __tablename__ = "review_payloads"

    review_id: str = Field(primary_key=True, max_length=26)
    #: :class:`gateway.review.models.HeldPayload` as JSON
    payload: str = Field(sa_column=Column(Text, nullable=False))
    #: the released images as a JSON list of :class:`provenance.ledger.bodies.GenerationOutput`, once approved
    released: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ReviewBlob(SQLModel, table=True):
    """Which items hold which blob (held images, inputs, masks). Blob keys are content hashes, so two
    items can share one; a rejection deletes a blob only when no other item still holds it."""

    __tablename__ = "review_blobs"

    review_id: str = Field(primary_key=True, max_length=26)
    blob: str = Field(primary_key=True, max_length=80, index=True)


class ReviewEvent(SQLModel, table=True):
    __tablename__ = "review_events"

    id: str = Field(primary_key=True, max_length=26)  # ULID (time-ordered: the history's order)
    review_id: str = Field(index=True, max_length=26)
    tenant: str = Field(max_length=64)
    actor: str = Field(max_length=32)  # API key id
    actor_role: str = Field(max_length=16)
    action: str = Field(max_length=24)
    state_from: str | None = Field(default=None, max_length=16)
    state_to: str | None = Field(default=None, max_length=16)
    reason_code: str | None = Field(default=None, max_length=40)
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    ledger_record_id: str = Field(max_length=26)
    at: datetime


class ReviewCase(SQLModel, table=True):
    """What a complaint or an appeal item holds besides its queue row."""

    __tablename__ = "review_cases"

    review_id: str = Field(primary_key=True, max_length=26)
    kind: str = Field(max_length=16)  # complaint | appeal
    reason: str = Field(max_length=24)  # a ComplaintReason, or "appeal"
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    contact: str | None = Field(default=None, max_length=320)
    #: the content ids the case is about, comma-separated
    content_ids: str = Field(default="", sa_column=Column(Text, nullable=False))
    #: appeal: the held generation's review item, and who took part in its decision (comma-separated)
    original_review_id: str | None = Field(default=None, max_length=26)
    first_deciders: str = Field(default="", max_length=400)
    contested: str | None = Field(default=None, max_length=16)  # appeal: blocked | rejected
    outcome: str | None = Field(default=None, max_length=16)  # upheld | rejected | overturned
    decided_record_id: str | None = Field(default=None, max_length=26)


class WithdrawnContent(SQLModel, table=True):
    """A released image an upheld complaint withdrew: its content URL answers 410 from then on."""

    __tablename__ = "withdrawn_content"

    content_id: str = Field(primary_key=True, max_length=64)
    record_id: str = Field(max_length=26, index=True)
    review_id: str = Field(max_length=26)
    ledger_record_id: str = Field(max_length=26)
    withdrawn_at: datetime


class ReviewerTenant(SQLModel, table=True):
    __tablename__ = "reviewer_tenants"
    __table_args__ = (UniqueConstraint("key_id", "tenant", name="uq_reviewer_tenant"),)

    id: str = Field(primary_key=True, max_length=26)
    key_id: str = Field(index=True, max_length=32)
    tenant: str = Field(max_length=64)
    assigned_by: str = Field(max_length=32)
    assigned_at: datetime


class ReviewWebhook(SQLModel, table=True):
    __tablename__ = "review_webhooks"

    tenant: str = Field(primary_key=True, max_length=64)
    url: str = Field(max_length=2000)
    #: the HMAC key the receiver checks signatures with (it must be readable to sign)
    secret: str = Field(max_length=200)
    updated_at: datetime


class ReviewDelivery(SQLModel, table=True):
    """One webhook call to make (an outbox row: survives restarts, retried with backoff)."""

    __tablename__ = "review_deliveries"
    __table_args__ = (Index("ix_review_deliveries_due", "status", "next_attempt_at"),)

    id: str = Field(primary_key=True, max_length=26)
    review_id: str = Field(index=True, max_length=26)
    tenant: str = Field(max_length=64)
    url: str = Field(max_length=2000)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=16)  # pending | sending | delivered | failed
    attempts: int = 0
    next_attempt_at: datetime
    lease_until: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = None
    created_at: datetime


class ReviewSession(SQLModel, table=True):
    __tablename__ = "review_sessions"

    #: SHA-256 of the cookie's token: a stolen database row cannot be replayed as a cookie
    token_hash: str = Field(primary_key=True, max_length=64)
    key_id: str = Field(index=True, max_length=32)
    csrf_token: str = Field(max_length=64)
    created_at: datetime
    expires_at: datetime
