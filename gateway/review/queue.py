"""The review queue: held generations, reviewers' claims, four-eyes decisions, release and discard.

State machine (see :class:`ReviewState`)::

    hold ─► pending ─claim─► claimed ─approve─► releasing ─► approved   (marks run, image released)
               ▲  ▲             │ │ └─approve (1st of 2)─► pending (waits for a second reviewer)
               │  └─unclaim─────┘ ├─reject─► rejected                  (held bytes discarded)
               │                  └─escalate─► escalated ─claim (admin)─► claimed ...
               └── a claim whose lease expired counts as pending (escalated) again

Every change is one conditional UPDATE on the row's ``version`` (plus the state it expects), so of
two reviewers acting at once exactly one wins, on SQLite and PostgreSQL alike; the loser gets a
409 and nothing changes. Every action then goes into the ledger as a ``review`` record whose
``subject_id`` is the generation record; if that append fails the change is undone (no action
without its record). Comments are kept in ``review_events`` and only their SHA-256 goes into the
ledger, because the ledger cannot forget and a comment may name a person.

Rules: a reviewer works only its tenants (:mod:`gateway.review.access`); nobody reviews a request
they made (the requesting key, or the ``user`` the tenant named); a decision needs a live claim;
four-eyes categories (the policy's ``review.four_eyes``) need two approvals by different reviewers
before the release; escalated items wait for an admin.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, case, func, update
from sqlmodel import col, delete, select
from ulid import ULID

from core.errors import Forbidden, InvalidRequest, NotFound
from core.images import DecodeLimits, decode_image
from core.settings import Settings
from core.store import Database, table_of
from gateway.auth import Principal, Role
from gateway.blobs import BlobStore
from gateway.policy import PolicySet
from gateway.release import Release, ReleaseJob, recorded, stored_prompt
from gateway.review.access import ReviewerAssignments
from gateway.review.errors import ReviewConflict
from gateway.review.models import (
    REASON_CODES,
    CaseView,
    DecisionIn,
    HeldImage,
    HeldPayload,
    ItemKind,
    QueueCounts,
    QueueFilter,
    QueuePage,
    ReviewAction,
    ReviewDetail,
    ReviewEventOut,
    ReviewState,
    ReviewStatus,
    ReviewSummary,
)
from gateway.review.tables import (
    ReviewBlob,
    ReviewCase,
    ReviewDelivery,
    ReviewEvent,
    ReviewItem,
    ReviewPayload,
    WithdrawnContent,
)
from gateway.review.webhooks import WebhookDispatcher, Webhooks
from models.base import GenerationMode, ModelInfo
from provenance.ledger import Ledger, LedgerRecord, prompt_sha256
from provenance.ledger.bodies import GenerationOutput, ReviewBody
from safety.verdict import Action, Decision

if TYPE_CHECKING:  # pragma: no cover
    from gateway.pipeline import PipelineRequest, PipelineResult

log = logging.getLogger("assay.review")

_t = table_of(ReviewItem)
OPEN_STATES = (ReviewState.PENDING, ReviewState.CLAIMED, ReviewState.RELEASING, ReviewState.ESCALATED)
#: added to an item's priority by the categories that held it (the worst one counts)
CATEGORY_WEIGHT = {
    "minors": 60,
    "sexual": 40,
    "likeness": 40,
    "violence": 30,
    "hate": 30,
    "extremism": 30,
    "self_harm": 30,
    "illegal": 30,
    "pii": 20,
    "real_person": 10,
    "copyright": 10,
}
ESCALATION_BOOST = 200


def effective_state(item: ReviewItem, now: datetime) -> ReviewState:
    """The state as a reviewer must see it: a claim whose lease ran out is free again."""
    st = ReviewState(item.state)
    if (
        st in (ReviewState.CLAIMED, ReviewState.RELEASING)
        and item.lease_until is not None
        and item.lease_until < now
    ):
        return ReviewState.ESCALATED if item.escalated else ReviewState.PENDING
    return st


def _effective_sql(now: datetime):  # noqa: ANN202 - a SQL expression
    expired = and_(
        _t.c.state.in_((ReviewState.CLAIMED.value, ReviewState.RELEASING.value)), _t.c.lease_until < now
    )
    return case(
        (and_(expired, _t.c.escalated.is_(True)), ReviewState.ESCALATED.value),
        (expired, ReviewState.PENDING.value),
        else_=_t.c.state,
    )


def split_list(text: str) -> list[str]:
    """The items of a comma-separated column (``,a,b,`` or ``a,b``), empty ones dropped."""
    return [c for c in text.split(",") if c]


def priority_of(reasons: list[Any]) -> int:
    """0..160: the strongest review reason's score (0..100) plus its category's weight."""
    best = 0
    for r in reasons:
        if r.action is Action.ALLOW:
            continue
        best = max(best, round(float(r.score) * 100) + CATEGORY_WEIGHT.get(r.category, 0))
    return best


def sha256_or_none(text: str | None) -> str | None:
    """The hex SHA-256 of a free text a record commits to without holding it (None for none)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None


class ReviewQueue:
    """The queue service; one per process (``AppState.review_queue``), built from its collaborators:
    the database its tables live in, the ledger its records go to, the blob store holding the held
    bytes, the policies, and the release stage an approval runs (:mod:`gateway.release`)."""

    def __init__(
        self,
        *,
        db: Database,
        ledger: Ledger,
        blobs: BlobStore,
        settings: Settings,
        policies: PolicySet,
        release: Release,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.blobs = blobs
        self.settings = settings
        self.policies = policies
        self.release = release
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.assignments = ReviewerAssignments(db, ledger)
        self.webhooks = Webhooks(db, settings, clock=lambda: self.clock())
        self.dispatcher = WebhookDispatcher(self.webhooks)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=float(self.settings.review_lease_s))

    # --- holding ------------------------------------------------------------------------------
    def hold(self, result: PipelineResult, req: PipelineRequest) -> str:
        """Queue the held images of ``result`` (its caller hands them over once the pipeline recorded
        the generation); returns the review id."""
        policy = result.policy
        now = self.clock()
        held = result.held
        reasons = [r for im in held for r in im.decision.reasons]
        cats = sorted({r.category for r in reasons if r.action is not Action.ALLOW})
        four_eyes = bool({c.value for c in policy.review.four_eyes} & set(cats))
        blobs = self.blobs
        payload = HeldPayload(
            mode=req.mode,
            output_format=req.output_format,
            created_at=result.created_at,
            prompt_digest=prompt_sha256(req.prompt),
            images=[
                HeldImage(
                    index=im.index,
                    content_id=im.content_id,
                    blob=im.blob_key,
                    decision_action=im.action,
                    reasons=list(im.decision.reasons),
                )
                for im in held
            ],
            inputs=[blobs.put(u.data) for u in [*req.images, *([req.control] if req.control else [])]],
            control_index=len(req.images) if req.control else None,
            control_type=req.control_type if req.control else None,
            mask=blobs.put(req.mask.data) if req.mask else None,
            verdicts=list(result.verdicts),
            reasons=list(result.decision.reasons),
            model=result.model,
        )
        item = ReviewItem(
            id=str(ULID()),
            tenant=req.principal.tenant,
            record_id=result.record_id,
            policy_id=policy.id,
            policy_digest=policy.digest,
            state=ReviewState.PENDING.value,
            priority=priority_of(reasons),
            categories="," + "".join(c + "," for c in cats),
            created_at=now,
            due_at=now + timedelta(hours=policy.review.sla_hours),
            requester_key_id=req.principal.key_id,
            requester_user=req.user,
            prompt=req.prompt,
            approvals_needed=2 if four_eyes else 1,
        )
        ledger_id = str(ULID())
        keys = _blob_keys(payload)
        with self.db.session() as s:
            s.add(item)
            s.add(ReviewPayload(review_id=item.id, payload=payload.model_dump_json()))
            for key in keys:
                s.add(ReviewBlob(review_id=item.id, blob=key))
            s.add(
                self._event(
                    item, req.principal, ReviewAction.QUEUED, ledger_id, None, ReviewState.PENDING, now
                )
            )
        try:
            self.ledger.append(
                self._record(
                    item,
                    req.principal,
                    ReviewAction.QUEUED,
                    ledger_id,
                    now,
                    None,
                    ReviewState.PENDING,
                    extra={
                        "priority": item.priority,
                        "due_at": item.due_at,
                        "approvals_needed": item.approvals_needed,
                        "images": [im.content_id for im in payload.images],
                    },
                )
            )
        except Exception:
            with self.db.session() as s:
                for model in (ReviewEvent, ReviewBlob, ReviewPayload):
                    table = table_of(model)
                    s.exec(delete(table).where(table.c.review_id == item.id))
                s.exec(delete(ReviewItem).where(col(ReviewItem.id) == item.id))
            raise
        return item.id

    # --- reading ------------------------------------------------------------------------------
    def _tenants(self, principal: Principal) -> frozenset[str] | None:
        if principal.role is Role.REQUESTER:
            return frozenset({principal.tenant})
        if principal.role is Role.AUDITOR:
            raise Forbidden("auditors read the ledger (/v1/audit), not the review queue")
        return self.assignments.tenants_of(principal)

    def _load(self, principal: Principal, review_id: str) -> ReviewItem:
        """The item, or 404 when it does not exist or belongs to a tenant the caller cannot see."""
        tenants = self._tenants(principal)
        with self.db.session() as s:
            item = s.get(ReviewItem, review_id)
        if item is None or (tenants is not None and item.tenant not in tenants):
            raise NotFound(f"no review {review_id!r}")
        return item

    def _load_as_reviewer(self, principal: Principal, review_id: str) -> ReviewItem:
        if principal.role not in (Role.REVIEWER, Role.ADMIN):
            raise Forbidden(f"role {principal.role.value} may not review; needs reviewer or admin")
        item = self._load(principal, review_id)
        return item

    def summary(self, item: ReviewItem, now: datetime | None = None) -> ReviewSummary:
        now = now or self.clock()
        st = effective_state(item, now)
        live_claim = st in (ReviewState.CLAIMED, ReviewState.RELEASING)
        return ReviewSummary(
            id=item.id,
            tenant=item.tenant,
            kind=ItemKind(item.kind),
            record_id=item.record_id,
            subject_id=item.subject_id,
            policy_id=item.policy_id,
            state=st,
            priority=item.priority,
            categories=split_list(item.categories),
            created_at=item.created_at,
            due_at=item.due_at,
            overdue=st in OPEN_STATES and item.due_at < now,
            approvals=(1 if item.first_approver else 0) + (1 if st is ReviewState.APPROVED else 0),
            approvals_needed=item.approvals_needed,
            escalated=item.escalated,
            claimed_by=item.claimed_by if live_claim else None,
            lease_until=item.lease_until if live_claim else None,
        )

    def detail(self, principal: Principal, review_id: str) -> ReviewDetail:
        item = self._load_as_reviewer(principal, review_id)
        return self._detail(item)

    def _payload_row(self, review_id: str) -> ReviewPayload:
        with self.db.session() as s:
            row = s.get(ReviewPayload, review_id)
        if row is None:  # pragma: no cover - written with the item, never deleted
            raise NotFound(f"review {review_id} has no payload")
        return row

    def _held(self, review_id: str) -> HeldPayload:
        return HeldPayload.model_validate_json(self._payload_row(review_id).payload)

    def _detail(self, item: ReviewItem) -> ReviewDetail:
        payload = self._held(item.id)
        with self.db.session() as s:
            events = list(
                s.exec(select(ReviewEvent).where(ReviewEvent.review_id == item.id).order_by(ReviewEvent.id))
            )
        return ReviewDetail(
            **self.summary(item).model_dump(),
            prompt=item.prompt,
            prompt_digest=payload.prompt_digest,
            mode=payload.mode,
            model_id=payload.model.model_id if payload.model else None,
            images=[h.index for h in payload.images],
            inputs=len(payload.inputs),
            verdicts=payload.verdicts,
            reasons=payload.reasons,
            first_approver=item.first_approver,
            decided_by=item.decided_by,
            decided_at=item.decided_at,
            reason_code=item.reason_code,
            comment=item.comment,
            requester_user=item.requester_user,
            events=[ReviewEventOut.model_validate(e, from_attributes=True) for e in events],
            case=self._case_view(item),
        )

    def _case_view(self, item: ReviewItem) -> CaseView | None:
        if item.kind == ItemKind.GENERATION.value:
            return None
        with self.db.session() as s:
            row = s.get(ReviewCase, item.id)
        if row is None:  # pragma: no cover - written with the item
            return None
        outcomes = (
            ["upheld", "rejected"] if item.kind == ItemKind.COMPLAINT.value else ["overturned", "upheld"]
        )
        return CaseView(
            reason=row.reason,
            text=row.text,
            contact=row.contact,
            content_ids=split_list(row.content_ids),
            contested=row.contested,
            original_review_id=row.original_review_id,
            first_deciders=split_list(row.first_deciders),
            outcome=row.outcome,
            outcomes=outcomes,
        )

    def payload(self, principal: Principal, review_id: str) -> tuple[ReviewItem, HeldPayload]:
        item = self._load_as_reviewer(principal, review_id)
        return item, self._held(item.id)

    def page(self, principal: Principal, flt: QueueFilter | None = None) -> QueuePage:
        """One page of the queue (priority, then due time), with counts per state for the same scope."""
        flt = flt or QueueFilter()
        if principal.role not in (Role.REVIEWER, Role.ADMIN):
            raise Forbidden(f"role {principal.role.value} may not list the review queue")
        tenants = self._tenants(principal)
        now = self.clock()
        eff = _effective_sql(now)
        scope: list[ColumnElement[bool]] = []
        if tenants is not None:
            scope.append(_t.c.tenant.in_(sorted(tenants)))
        if flt.tenant:
            scope.append(_t.c.tenant == flt.tenant)
        if flt.category:
            scope.append(_t.c.categories.like(f"%,{flt.category},%"))
        if flt.policy:
            scope.append(_t.c.policy_id == flt.policy)
        if flt.kind:
            scope.append(_t.c.kind == flt.kind.value)
        open_values = [s.value for s in OPEN_STATES]
        where = list(scope)
        if flt.state == "open":
            # an expired claim is still open, so the stored state decides (and an index serves it)
            where.append(_t.c.state.in_(open_values))
        elif flt.state != "all":
            where.append(eff == ReviewState(flt.state).value)
        if flt.overdue:
            where += [_t.c.due_at < now, _t.c.state.in_(open_values)]
        if flt.mine:
            where += [_t.c.claimed_by == principal.key_id, eff == ReviewState.CLAIMED.value]
        late = func.sum(case((_t.c.due_at < now, 1), else_=0))
        with self.db.session() as s:
            counts = QueueCounts()
            for st, n, n_late in s.execute(select(eff, func.count(), late).where(*scope).group_by(eff)):
                setattr(counts, st, int(n))
                if st in open_values:
                    counts.overdue += int(n_late or 0)
            if flt.overdue or flt.mine:
                total = int(s.execute(select(func.count()).select_from(_t).where(*where)).scalar_one())
            elif flt.state == "open":
                total = sum(getattr(counts, v) for v in open_values)
            elif flt.state == "all":
                total = sum(getattr(counts, v.value) for v in ReviewState)
            else:
                total = getattr(counts, ReviewState(flt.state).value)
            rows = s.exec(
                select(ReviewItem)
                .where(*where)
                .order_by(_t.c.priority.desc(), _t.c.due_at, _t.c.id)
                .offset(flt.offset)
                .limit(flt.limit)
            ).all()
        return QueuePage(
            data=[self.summary(r, now) for r in rows],
            counts=counts,
            total=total,
            limit=flt.limit,
            offset=flt.offset,
        )

    def next_item(self, principal: Principal, after: str | None = None) -> str | None:
        """The first item the caller could work on now (claimable, or claimed by them), not ``after``."""
        page = self.page(principal, QueueFilter(state="open", limit=50))
        for row in page.data:
            if row.id == after:
                continue
            if row.state is ReviewState.PENDING or (
                row.state is ReviewState.CLAIMED and row.claimed_by == principal.key_id
            ):
                return row.id
            if row.state is ReviewState.ESCALATED and principal.role is Role.ADMIN:
                return row.id
        return None

    def status(self, principal: Principal, review_id: str) -> ReviewStatus:
        """The requester's view (any key of the item's tenant, or a reviewer of it)."""
        item = self._load(principal, review_id)
        st = ReviewState(item.state)
        shown = st.value if st.terminal else "pending"
        return ReviewStatus(
            id=item.id,
            record_id=item.record_id,
            status=shown,
            created_at=item.created_at,
            decided_at=item.decided_at if st.terminal else None,
            reason_code=item.reason_code if st.terminal else None,
        )

    def released_images(self, principal: Principal, review_id: str) -> list[tuple[GenerationOutput, bytes]]:
        item = self._load(principal, review_id)
        if item.state != ReviewState.APPROVED.value:
            return []
        released = self._payload_row(item.id).released
        outs = [GenerationOutput.model_validate(o) for o in _json_list(released or "[]")]
        with self.db.session() as s:  # an upheld complaint withdrew these (gateway.review.cases)
            withdrawn = set(
                s.exec(
                    select(WithdrawnContent.content_id).where(
                        col(WithdrawnContent.content_id).in_([o.content_id for o in outs])
                    )
                ).all()
            )
        return [
            (o, self.blobs.get(o.blob)) for o in outs if o.blob is not None and o.content_id not in withdrawn
        ]

    def held_image(self, principal: Principal, review_id: str, index: int) -> bytes:
        """The unmarked held image ``index`` (reviewers only; gone once a rejection discarded it)."""
        _item, payload = self.payload(principal, review_id)
        for h in payload.images:
            if h.index == index:
                if h.blob is None:
                    raise NotFound(f"image {index} of review {review_id} was discarded after the rejection")
                return self.blobs.get(h.blob)
        raise NotFound(f"review {review_id} holds no image {index}")

    def input_image(self, principal: Principal, review_id: str, n: int) -> bytes:
        _item, payload = self.payload(principal, review_id)
        if not 0 <= n < len(payload.inputs):
            raise NotFound(f"review {review_id} has no input image {n}")
        key = payload.inputs[n]
        if key is None:
            raise NotFound(f"input image {n} of review {review_id} was discarded after the rejection")
        return self.blobs.get(key)

    # --- acting -------------------------------------------------------------------------------
    def _check_not_requester(self, principal: Principal, item: ReviewItem) -> None:
        if principal.key_id == item.requester_key_id or (
            item.requester_user and principal.key_id == item.requester_user
        ):
            raise Forbidden(
                "you requested this generation; a requester never reviews their own request",
                hint="another reviewer must take it",
            )

    def check_not_first_decider(self, principal: Principal, item: ReviewItem) -> None:
        """An appeal goes to a reviewer who took no part in the decision it contests."""
        if item.kind != ItemKind.APPEAL.value:
            return
        with self.db.session() as s:
            case_row = s.get(ReviewCase, item.id)
        deciders = set(split_list(case_row.first_deciders)) if case_row else set()
        if principal.key_id in deciders:
            raise Forbidden(
                "you took part in the decision this appeal contests; an appeal needs a second reviewer",
                hint="another reviewer must take it",
            )

    def _check_generation(self, item: ReviewItem, verb: str) -> None:
        if item.kind != ItemKind.GENERATION.value:
            raise ReviewConflict(
                f"review {item.id} is a {item.kind}, which is not {verb}d",
                hint=f"decide it with POST /v1/reviews/{item.id}/decide",
            )

    def _check_claim(self, principal: Principal, item: ReviewItem, now: datetime) -> None:
        st = effective_state(item, now)
        if st is ReviewState.CLAIMED and item.claimed_by == principal.key_id:
            return
        if st is ReviewState.CLAIMED:
            raise ReviewConflict(
                f"review {item.id} is claimed by another reviewer until {item.lease_until:%H:%M:%S} UTC"
            )
        if st.terminal:
            raise ReviewConflict(f"review {item.id} is already {st.value}")
        if item.claimed_by == principal.key_id and st in (ReviewState.PENDING, ReviewState.ESCALATED):
            raise ReviewConflict(
                f"your claim on review {item.id} expired; claim it again",
                hint=f"a claim holds an item for {self.lease.total_seconds():.0f} s",
            )
        raise ReviewConflict(f"review {item.id} is {st.value}; claim it before deciding")

    def claim(self, principal: Principal, review_id: str) -> ReviewDetail:
        """Take (or renew) the lease on an item; of concurrent claims exactly one wins."""
        item = self._load_as_reviewer(principal, review_id)
        self._check_not_requester(principal, item)
        self.check_not_first_decider(principal, item)
        now = self.clock()
        st = effective_state(item, now)
        if st.terminal:
            raise ReviewConflict(f"review {item.id} is already {st.value}")
        if st in (ReviewState.CLAIMED, ReviewState.RELEASING) and item.claimed_by != principal.key_id:
            raise ReviewConflict(
                f"review {item.id} is claimed by another reviewer until {item.lease_until:%H:%M:%S} UTC"
            )
        if st is ReviewState.RELEASING:
            raise ReviewConflict(f"review {item.id} is being released")
        if st is ReviewState.ESCALATED and principal.role is not Role.ADMIN:
            raise Forbidden(f"review {item.id} was escalated; only an admin may take it")
        if item.first_approver == principal.key_id:
            raise Forbidden("you gave the first approval; four-eyes needs a second, different reviewer")
        renew = st is ReviewState.CLAIMED
        self._transition(
            principal,
            item,
            ReviewAction.CLAIMED,
            now,
            ReviewState.CLAIMED,
            {
                "state": ReviewState.CLAIMED.value,
                "claimed_by": principal.key_id,
                "claimed_at": now,
                "lease_until": now + self.lease,
            },
            extra={
                "lease_until": (now + self.lease).isoformat(),
                "renewed": renew,
                "took_over_expired": item.claimed_by not in (None, principal.key_id),
            },
        )
        return self._detail(self._get(item.id))

    def unclaim(self, principal: Principal, review_id: str) -> ReviewDetail:
        item = self._load_as_reviewer(principal, review_id)
        now = self.clock()
        self._check_claim(principal, item, now)
        back = ReviewState.ESCALATED if item.escalated else ReviewState.PENDING
        self._transition(
            principal,
            item,
            ReviewAction.UNCLAIMED,
            now,
            back,
            {"state": back.value, "claimed_by": None, "claimed_at": None, "lease_until": None},
        )
        return self._detail(self._get(item.id))

    def approve(self, principal: Principal, review_id: str, decision: DecisionIn) -> ReviewDetail:
        item = self._load_as_reviewer(principal, review_id)
        self._check_generation(item, "approve")
        self._check_not_requester(principal, item)
        now = self.clock()
        self._check_claim(principal, item, now)
        self._check_code("approve", decision)
        if item.first_approver == principal.key_id:
            raise Forbidden("you gave the first approval; four-eyes needs a second, different reviewer")
        if item.approvals_needed > 1 and item.first_approver is None:
            back = ReviewState.ESCALATED if item.escalated else ReviewState.PENDING
            self._transition(
                principal,
                item,
                ReviewAction.APPROVED_FIRST,
                now,
                back,
                {
                    "state": back.value,
                    "first_approver": principal.key_id,
                    "first_approved_at": now,
                    "claimed_by": None,
                    "claimed_at": None,
                    "lease_until": None,
                },
                decision=decision,
                extra={"approvals": 1, "approvals_needed": item.approvals_needed},
            )
        else:
            self._release(principal, item, decision, now)
        return self._detail(self._get(item.id))

    def reject(self, principal: Principal, review_id: str, decision: DecisionIn) -> ReviewDetail:
        item = self._load_as_reviewer(principal, review_id)
        self._check_generation(item, "reject")
        self._check_not_requester(principal, item)
        now = self.clock()
        self._check_claim(principal, item, now)
        self._check_code("reject", decision)
        policy = self.policies.get(item.policy_id)
        keep = policy.review.keep_rejected_images
        payload = self._held(item.id)
        keys = _blob_keys(payload)
        if not keep:
            payload = payload.model_copy(
                update={
                    "images": [h.model_copy(update={"blob": None}) for h in payload.images],
                    "inputs": [None for _ in payload.inputs],
                    "mask": None,
                }
            )
        self._transition(
            principal,
            item,
            ReviewAction.REJECTED,
            now,
            ReviewState.REJECTED,
            {
                "state": ReviewState.REJECTED.value,
                "decided_by": principal.key_id,
                "decided_at": now,
                "reason_code": decision.reason_code.value,
                "comment": decision.comment,
                "claimed_by": None,
                "claimed_at": None,
                "lease_until": None,
                "prompt": self._stored_prompt(item, payload),
            },
            decision=decision,
            webhook=True,
            payload=None if keep else payload,
            extra={"images_kept": keep, "images": [h.content_id for h in payload.images]},
        )
        if not keep:
            self._discard(item.id, keys)
        return self._detail(self._get(item.id))

    def escalate(self, principal: Principal, review_id: str, decision: DecisionIn) -> ReviewDetail:
        item = self._load_as_reviewer(principal, review_id)
        self._check_not_requester(principal, item)
        now = self.clock()
        self._check_claim(principal, item, now)
        self._check_code("escalate", decision)
        if item.escalated:
            raise ReviewConflict(f"review {item.id} is already escalated; an admin decides it")
        self._transition(
            principal,
            item,
            ReviewAction.ESCALATED,
            now,
            ReviewState.ESCALATED,
            {
                "state": ReviewState.ESCALATED.value,
                "escalated": True,
                "priority": item.priority + ESCALATION_BOOST,
                "claimed_by": None,
                "claimed_at": None,
                "lease_until": None,
            },
            decision=decision,
        )
        return self._detail(self._get(item.id))

    def comment(self, principal: Principal, review_id: str, text: str) -> ReviewDetail:
        item = self._load_as_reviewer(principal, review_id)
        self._check_not_requester(principal, item)
        text = (text or "").strip()
        if not text or len(text) > 2000:
            raise InvalidRequest("a comment is 1 to 2000 characters", param="comment")
        now = self.clock()
        st = effective_state(item, now)
        self._transition(principal, item, ReviewAction.COMMENTED, now, st, {}, comment=text)
        return self._detail(self._get(item.id))

    # --- internals ------------------------------------------------------------------------------
    @staticmethod
    def _check_code(kind: str, decision: DecisionIn) -> None:
        allowed = REASON_CODES[kind]
        if decision.reason_code not in allowed:
            raise InvalidRequest(
                f"reason code {decision.reason_code.value!r} does not fit '{kind}'",
                param="reason_code",
                hint="one of: " + ", ".join(c.value for c in allowed),
            )

    def _get(self, review_id: str) -> ReviewItem:
        with self.db.session() as s:
            item = s.get(ReviewItem, review_id)
        if item is None:  # pragma: no cover - rows are never deleted while in use
            raise NotFound(f"no review {review_id!r}")
        return item

    def _event(
        self,
        item: ReviewItem,
        principal: Principal,
        action: ReviewAction,
        ledger_id: str,
        state_from: ReviewState | None,
        state_to: ReviewState | None,
        now: datetime,
        reason_code: str | None = None,
        comment: str | None = None,
    ) -> ReviewEvent:
        return ReviewEvent(
            id=str(ULID()),
            review_id=item.id,
            tenant=item.tenant,
            actor=principal.key_id,
            actor_role=principal.role.value,
            action=action.value,
            state_from=state_from.value if state_from else None,
            state_to=state_to.value if state_to else None,
            reason_code=reason_code,
            comment=comment,
            ledger_record_id=ledger_id,
            at=now,
        )

    def _record(
        self,
        item: ReviewItem,
        principal: Principal,
        action: ReviewAction,
        ledger_id: str,
        now: datetime,
        state_from: ReviewState | None,
        state_to: ReviewState | None,
        *,
        reason_code: str | None = None,
        comment: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> LedgerRecord:
        body = self._review_body(
            item,
            principal,
            action,
            state_from,
            state_to,
            reason_code=reason_code,
            comment=comment,
            extra=extra,
        )
        return self._review_record(item, ledger_id, now, body)

    @staticmethod
    def _review_body(
        item: ReviewItem,
        principal: Principal,
        action: ReviewAction,
        state_from: ReviewState | None,
        state_to: ReviewState | None,
        *,
        reason_code: str | None = None,
        comment: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> ReviewBody:
        """The body of a review record; ``extra`` holds the parts this action adds (see ReviewBody)."""
        return ReviewBody.model_validate(
            {
                "review_id": item.id,
                "action": action,
                "actor": principal.key_id,
                "actor_role": principal.role.value,
                "from": state_from,
                "to": state_to,
                "reason_code": reason_code,
                "comment_sha256": sha256_or_none(comment),
                **(extra or {}),
            }
        )

    @staticmethod
    def _review_record(item: ReviewItem, ledger_id: str, now: datetime, body: ReviewBody) -> LedgerRecord:
        return LedgerRecord(
            record_id=ledger_id,
            kind="review",
            tenant=item.tenant,
            decision=body.action.value,
            categories=split_list(item.categories),
            policy_id=item.policy_id,
            policy_digest=item.policy_digest,
            subject_id=item.record_id,
            created_at=now,
            body=body.to_body(),
        )

    def _transition(
        self,
        principal: Principal,
        item: ReviewItem,
        action: ReviewAction,
        now: datetime,
        state_to: ReviewState,
        values: dict[str, Any],
        *,
        decision: DecisionIn | None = None,
        comment: str | None = None,
        webhook: bool = False,
        payload: HeldPayload | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Apply ``values`` (and a new ``payload``) if the row is still at ``item.version``; record it;
        undo all of it if the record cannot be appended."""
        state_from = effective_state(item, now)
        reason_code = decision.reason_code.value if decision else None
        comment = decision.comment if decision else comment
        ledger_id = str(ULID())
        new_version = item.version + 1
        old = {k: getattr(item, k) for k in values}
        old_payload = None
        delivery_id = None
        with self.db.session() as s:
            res = s.exec(
                update(_t)
                .where(_t.c.id == item.id, _t.c.version == item.version)
                .values(**values, version=new_version)
            )
            if res.rowcount != 1:
                raise ReviewConflict(
                    f"review {item.id} changed while you were acting on it (someone else was "
                    "faster); nothing was changed",
                    hint="reload the item",
                )
            if payload is not None:
                row = s.get(ReviewPayload, item.id)
                assert row is not None  # written with the item, in its transaction
                old_payload, row.payload = row.payload, payload.model_dump_json()
                s.add(row)
            s.add(
                self._event(
                    item, principal, action, ledger_id, state_from, state_to, now, reason_code, comment
                )
            )
            if webhook:
                delivery_id = self.webhooks.enqueue(
                    s,
                    tenant=item.tenant,
                    review_id=item.id,
                    event=self._webhook_event(item, state_to, now, reason_code, ledger_id),
                )
        try:
            self.ledger.append(
                self._record(
                    item,
                    principal,
                    action,
                    ledger_id,
                    now,
                    state_from,
                    state_to,
                    reason_code=reason_code,
                    comment=comment,
                    extra=extra,
                )
            )
        except Exception:
            log.warning(
                "review %s: the ledger refused the %s record; undoing the change", item.id, action.value
            )
            with self.db.session() as s:
                s.execute(
                    update(_t)
                    .where(_t.c.id == item.id, _t.c.version == new_version)
                    .values(**old, version=new_version + 1)
                )
                s.exec(delete(ReviewEvent).where(col(ReviewEvent.ledger_record_id) == ledger_id))
                if delivery_id:
                    s.exec(delete(ReviewDelivery).where(col(ReviewDelivery.id) == delivery_id))
                if old_payload is not None:
                    row = s.get(ReviewPayload, item.id)
                    assert row is not None  # written with the item, in its transaction
                    row.payload = old_payload
                    s.add(row)
            raise
        if delivery_id:
            self.dispatcher.kick()

    @staticmethod
    def _webhook_event(
        item: ReviewItem, state: ReviewState, now: datetime, reason_code: str | None, ledger_id: str
    ) -> dict[str, Any]:
        return {
            "type": f"review.{state.value}",
            "review_id": item.id,
            "record_id": item.record_id,
            "review_record_id": ledger_id,
            "tenant": item.tenant,
            "status": state.value,
            "reason_code": reason_code,
            "decided_at": now.isoformat(),
        }

    def _stored_prompt(self, item: ReviewItem, payload: HeldPayload) -> str | None:
        """After the decision the queue keeps only what the policy lets the ledger keep."""
        if item.prompt is None:
            return None
        try:
            policy = self.policies.get(item.policy_id)
        except Exception:  # noqa: BLE001 - policy gone: keep nothing rather than too much
            return None
        return stored_prompt(item.prompt, policy, payload.verdicts)

    def _discard(self, review_id: str, keys: list[str]) -> None:
        """Delete a rejected item's bytes, except blobs another item still holds (keys are content hashes)."""
        with self.db.session() as s:
            s.exec(delete(ReviewBlob).where(col(ReviewBlob.review_id) == review_id))
        for key in dict.fromkeys(keys):
            with self.db.session() as s:
                shared = s.exec(
                    select(func.count()).select_from(ReviewBlob).where(ReviewBlob.blob == key)
                ).one()
            if shared:
                continue
            try:
                self.blobs.delete(key)
            except Exception:  # noqa: BLE001 - the decision stands; the orphan is logged for cleanup
                log.exception("review %s: could not delete held blob %s", review_id, key)

    def _release(self, principal: Principal, item: ReviewItem, decision: DecisionIn, now: datetime) -> None:
        """Final approval: claimed -> releasing (one winner) -> marks + store + record -> approved."""
        release_id = item.release_record_id or str(ULID())
        v1 = item.version + 1
        with self.db.session() as s:
            res = s.exec(
                update(_t)
                .where(_t.c.id == item.id, _t.c.version == item.version)
                .values(
                    state=ReviewState.RELEASING.value,
                    release_record_id=release_id,
                    lease_until=now + self.lease,
                    version=v1,
                )
            )
            if res.rowcount != 1:
                raise ReviewConflict(
                    f"review {item.id} changed while you were approving it; nothing was released",
                    hint="reload the item",
                )
        payload = self._held(item.id)
        state_from = effective_state(item, now)
        existing = self.ledger.get(release_id)
        try:
            if existing is not None:  # an earlier attempt appended the record and died before the update
                outputs = ReviewBody.model_validate(existing.body).outputs or []
            else:
                record = self._record(
                    item,
                    principal,
                    ReviewAction.APPROVED,
                    release_id,
                    now,
                    state_from,
                    ReviewState.APPROVED,
                    reason_code=decision.reason_code.value,
                    comment=decision.comment,
                    extra={
                        "approvals": item.approvals_needed,
                        "approvals_needed": item.approvals_needed,
                        "first_approver": item.first_approver,
                    },
                )
                outputs = self._run_release(item, payload, record)
        except Exception:
            with self.db.session() as s:
                s.execute(
                    update(_t)
                    .where(_t.c.id == item.id, _t.c.version == v1)
                    .values(state=ReviewState.CLAIMED.value, lease_until=item.lease_until, version=v1 + 1)
                )
            raise
        with self.db.session() as s:
            res = s.exec(
                update(_t)
                .where(
                    _t.c.id == item.id,
                    _t.c.state == ReviewState.RELEASING.value,
                    _t.c.release_record_id == release_id,
                )
                .values(
                    state=ReviewState.APPROVED.value,
                    decided_by=principal.key_id,
                    decided_at=now,
                    reason_code=decision.reason_code.value,
                    comment=decision.comment,
                    claimed_by=None,
                    lease_until=None,
                    prompt=self._stored_prompt(item, payload),
                    version=v1 + 1,
                )
            )
            if res.rowcount == 1:
                row = s.get(ReviewPayload, item.id)
                assert row is not None  # written with the item, in its transaction
                row.released = "[" + ",".join(o.model_dump_json() for o in outputs) + "]"
                s.add(row)
                s.add(
                    self._event(
                        item,
                        principal,
                        ReviewAction.APPROVED,
                        release_id,
                        state_from,
                        ReviewState.APPROVED,
                        now,
                        decision.reason_code.value,
                        decision.comment,
                    )
                )
                delivery = self.webhooks.enqueue(
                    s,
                    tenant=item.tenant,
                    review_id=item.id,
                    event=self._webhook_event(
                        item, ReviewState.APPROVED, now, decision.reason_code.value, release_id
                    ),
                )
            else:
                delivery = None  # another process finished the same release
        if delivery:
            self.dispatcher.kick()

    def _run_release(
        self, item: ReviewItem, payload: HeldPayload, record: LedgerRecord
    ) -> list[GenerationOutput]:
        """Decode what the item holds and run the release stage on it (the same one the pipeline runs)."""
        blobs = self.blobs
        policy = self.policies.get(item.policy_id)
        held = {
            h.index: decode_image(blobs.get(h.blob), name=f"held image {h.index}")
            for h in payload.images
            if h.blob
        }
        if len(held) != len(payload.images):
            raise NotFound(
                f"review {item.id}: a held image is missing from the blob store; nothing was released"
            )
        decisions = {h.index: Decision(action=h.decision_action, reasons=h.reasons) for h in payload.images}
        decoded = {
            i: decode_image(blobs.get(k), limits=DecodeLimits(), name=f"image[{i}]")
            for i, k in enumerate(payload.inputs)
            if k
        }
        control = decoded.pop(payload.control_index, None) if payload.control_index is not None else None
        inputs = list(decoded.values())
        model = payload.model or ModelInfo(backend="unknown", model_id="unknown")
        job = ReleaseJob(
            record_id=item.record_id,
            created=payload.created_at,
            tenant=item.tenant,
            policy=policy,
            model=model,
            output_format=payload.output_format,
            verdicts=list(payload.verdicts),
            prompt=item.prompt or "",
            edit=payload.mode is not GenerationMode.TXT2IMG,
            input_image=inputs[0] if inputs else None,
            control_image=control,
            control_type=payload.control_type,
        )
        outs = self.release.release_approved(job, held, decisions, record)
        return [recorded(o) for o in outs]

    def close(self) -> None:
        self.dispatcher.stop()


def _blob_keys(payload: HeldPayload) -> list[str]:
    keys = [h.blob for h in payload.images if h.blob] + [k for k in payload.inputs if k]
    keys += [payload.mask] if payload.mask else []
    return list(dict.fromkeys(keys))


def _json_list(text: str) -> list[Any]:
    import json

    data = json.loads(text)
    return data if isinstance(data, list) else []
