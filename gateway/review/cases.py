"""Complaints from the public and appeals of requesters: queue items of their own kinds.

* A **complaint** (``POST /v1/reports``, no API key) names a released image by its record id or
  content id, or uploads it and lets ``verify`` find its record. It becomes a queue item of kind
  ``complaint`` due after ``complaints.respond_within_hours`` (the policy of the record's tenant,
  else ``ASSAY_COMPLAINTS_RESPOND_WITHIN_HOURS``). Upheld, its images are withdrawn: their content
  URL answers 410 from then on. Rejected, nothing changes. The reporter follows it by its id.
* An **appeal** (``POST /v1/appeals``, the requester's key, same tenant) contests a blocked
  generation or a held one a reviewer rejected. It becomes an item of kind ``appeal`` that no
  reviewer who took part in the first decision may claim or decide. Overturned, the overturn is
  recorded, and a rejected item whose images the policy kept (``review.keep_rejected_images``) is
  released through the queue's release stage; a prompt-stage block has no image, and discarded
  images cannot come back, so those overturns are recorded only. Upheld, the first decision stands.

Both are claimed like any item (:meth:`ReviewQueue.claim`) and decided with :meth:`CaseDesk.decide`.
Each step is a ledger record (``complaint`` or ``appeal``, :mod:`provenance.ledger.bodies`) whose
subject is the generation record; the queue rows go in with the record, in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, update
from sqlmodel import col, select
from ulid import ULID

from core.errors import Forbidden, Gone, InvalidRequest, NotFound
from gateway.auth import Principal, Role
from gateway.review.errors import ReviewConflict
from gateway.review.models import (
    AppealIn,
    AppealOutcome,
    AppealStats,
    CaseDecisionIn,
    CaseOut,
    ComplaintOutcome,
    HeldPayload,
    ItemKind,
    ReportIn,
    ReportStatus,
    ReviewAction,
    ReviewDetail,
    ReviewState,
)
from gateway.review.queue import ReviewQueue, effective_state, sha256_or_none, split_list
from gateway.review.tables import ReviewCase, ReviewEvent, ReviewItem, ReviewPayload, WithdrawnContent
from models.base import GenerationMode
from provenance.ledger import LedgerRecord
from provenance.ledger.bodies import (
    AppealAction,
    AppealBody,
    ComplaintAction,
    ComplaintBody,
    ComplaintReason,
    GenerationBody,
    GenerationOutput,
    GenerationStatus,
)
from provenance.ledger.record import StoredRecord
from safety.verdict import Action

if TYPE_CHECKING:  # pragma: no cover - verify loads image libraries; only its report's type is needed
    from provenance.verify import VerifyReport

__all__ = ["PUBLIC_ACTOR", "CaseDesk"]

#: the actor of a complaint's ``received`` record (the reporter has no key)
PUBLIC_ACTOR = "public"


class CaseDesk:
    """The complaint and appeal service, built from the queue it files items into and the verify
    lookup that finds an uploaded image's record (None: uploads are refused)."""

    def __init__(self, queue: ReviewQueue, verify: Callable[[bytes], VerifyReport] | None = None) -> None:
        self.queue = queue
        self.verify = verify

    @property
    def db(self):  # noqa: ANN201 - core.store.Database
        return self.queue.db

    def _due(self, policy_id: str, now: datetime) -> datetime:
        hours = float(self.queue.settings.complaints_respond_within_hours)
        try:
            policy = self.queue.policies.get(policy_id)
        except Exception:  # noqa: BLE001 - the policy is gone: the gateway's default applies
            policy = None
        if policy is not None and policy.complaints.respond_within_hours is not None:
            hours = float(policy.complaints.respond_within_hours)
        return now + timedelta(hours=hours)

    # --- complaints ---------------------------------------------------------------------------
    def _released_record(self, record_id: str, param: str) -> tuple[StoredRecord, list[str]]:
        """The generation record and the content ids it released: by the pipeline, or by a
        reviewer's approval of the held generation (the review's outputs)."""
        rec = self.queue.ledger.get(record_id)
        if rec is None or rec.kind != "generation":
            raise NotFound(f"no released image with record id {record_id!r}", param=param)
        body = GenerationBody.model_validate(rec.body)
        released = [o.content_id for o in body.outputs if o.blob and o.action is Action.ALLOW]
        if body.status is GenerationStatus.HELD:
            with self.db.session() as s:
                item = s.exec(select(ReviewItem).where(ReviewItem.record_id == rec.record_id)).first()
                row = s.get(ReviewPayload, item.id) if item is not None else None
            if item is not None and item.state == ReviewState.APPROVED.value and row and row.released:
                outs = [GenerationOutput.model_validate(o) for o in json.loads(row.released)]
                released = [o.content_id for o in outs if o.blob]
        if not released:
            raise NotFound(f"record {record_id!r} released no image", param=param)
        return rec, released

    def _find(self, report: ReportIn, image: bytes | None) -> tuple[StoredRecord, list[str], str]:
        """The generation record complained of, its content ids named, and how it was found."""
        if report.content_id:
            record_id = report.content_id.rpartition("-")[0]
            if report.record_id and report.record_id != record_id:
                raise InvalidRequest(
                    f"content id {report.content_id!r} is not an image of record {report.record_id!r}",
                    param="content_id",
                )
            rec, released = self._released_record(record_id, "content_id")
            if report.content_id not in released:
                raise NotFound(f"no released image {report.content_id!r}", param="content_id")
            return rec, [report.content_id], "content_id"
        if report.record_id:
            rec, released = self._released_record(report.record_id, "record_id")
            return rec, released, "record_id"
        if image is None:
            raise InvalidRequest(
                "name the image: a record_id, a content_id, or the image itself (multipart field 'image')",
                param="record_id",
            )
        if self.verify is None:
            raise InvalidRequest("this gateway does not look up uploaded images", param="image")
        found = self.verify(image)
        for hit in found.records:
            if hit.in_ledger is False:
                continue
            try:
                rec, released = self._released_record(hit.record_id, "image")
            except NotFound:
                continue
            cids = [hit.content_id] if hit.content_id in released else released
            return rec, cids, "verify:" + ",".join(sorted({str(m.method) for m in hit.methods}))
        raise NotFound(
            "no Assay provenance found in the uploaded image: it is not an image this gateway released",
            param="image",
        )

    def report(self, report: ReportIn, image: bytes | None = None) -> ReportStatus:
        """File a complaint; returns its status (``received``)."""
        rec, content_ids, found_by = self._find(report, image)
        item, ledger_id = self._new_item(
            rec, ItemKind.COMPLAINT, [report.reason.value], _complaint_priority(report.reason), PUBLIC_ACTOR
        )
        now, due = item.created_at, item.due_at
        body = ComplaintBody(
            review_id=item.id,
            action=ComplaintAction.RECEIVED,
            actor=PUBLIC_ACTOR,
            actor_role=PUBLIC_ACTOR,
            reason=report.reason,
            content_ids=content_ids,
            text_sha256=sha256_or_none(report.text),
            comment_sha256=None,
            due_at=due,
            found_by=found_by,
        )
        case_row = ReviewCase(
            review_id=item.id,
            kind=ItemKind.COMPLAINT.value,
            reason=report.reason.value,
            text=report.text,
            contact=report.contact,
            content_ids=",".join(content_ids),
        )
        self._append_new(item, rec, ledger_id, now, "complaint", body.action.value, body.to_body(), case_row)
        return self._report_status(item, case_row)

    def report_status(self, report_id: str) -> ReportStatus:
        with self.db.session() as s:
            item = s.get(ReviewItem, report_id)
            case_row = s.get(ReviewCase, report_id)
        if item is None or case_row is None or item.kind != ItemKind.COMPLAINT.value:
            raise NotFound(f"no report {report_id!r}")
        return self._report_status(item, case_row)

    def _report_status(self, item: ReviewItem, case_row: ReviewCase) -> ReportStatus:
        st = effective_state(item, self.queue.clock())
        if case_row.outcome:
            shown = case_row.outcome
        elif st is ReviewState.PENDING and item.claimed_by is None:
            shown = "received"
        else:
            shown = "in_review"
        return ReportStatus(
            id=item.id,
            status=shown,
            reason=ComplaintReason(case_row.reason),
            created_at=item.created_at,
            due_at=item.due_at,
            decided_at=item.decided_at,
            status_url=f"/v1/reports/{item.id}",
        )

    def withdrawn(self, content_id: str) -> None:
        """Raise :class:`Gone` when an upheld complaint withdrew this image."""
        with self.db.session() as s:
            row = s.get(WithdrawnContent, content_id)
        if row is not None:
            raise Gone(
                f"image {content_id} was withdrawn on {row.withdrawn_at:%Y-%m-%d} after an upheld complaint",
                details={"record_id": row.record_id, "decision_record_id": row.ledger_record_id},
            )

    # --- appeals ------------------------------------------------------------------------------
    def appeal(self, principal: Principal, appeal: AppealIn) -> CaseOut:
        if principal.role is not Role.REQUESTER:
            raise Forbidden("only the requester of a generation appeals its decision (a requester key)")
        rec = self.queue.ledger.get(appeal.record_id, tenant=principal.tenant)
        if rec is None or rec.kind != "generation":
            raise NotFound(f"no generation record {appeal.record_id!r} of your tenant", param="record_id")
        body = GenerationBody.model_validate(rec.body)
        with self.db.session() as s:
            original = s.exec(select(ReviewItem).where(ReviewItem.record_id == rec.record_id)).first()
            pending = s.exec(
                select(ReviewItem).where(
                    ReviewItem.subject_id == rec.record_id,
                    ReviewItem.kind == ItemKind.APPEAL.value,
                )
            ).first()
        if pending is not None:
            raise ReviewConflict(
                f"record {rec.record_id} was already appealed (appeal {pending.id}); one appeal per decision"
            )
        deciders: list[str] = []
        if body.status is GenerationStatus.BLOCKED:
            contested = "blocked"
        elif original is not None and original.state == ReviewState.REJECTED.value:
            contested = "rejected"
            with self.db.session() as s:
                actors = s.exec(
                    select(ReviewEvent.actor)
                    .where(ReviewEvent.review_id == original.id, ReviewEvent.actor_role != "requester")
                    .distinct()
                ).all()
            deciders = sorted(set(actors) - {original.requester_key_id})
        else:
            raise InvalidRequest(
                f"record {rec.record_id} is {body.status.value}"
                + (f" (review {original.state})" if original is not None else "")
                + "; only a blocked generation or a rejected review can be appealed",
                param="record_id",
            )
        cats = list(rec.categories or [])
        item, ledger_id = self._new_item(rec, ItemKind.APPEAL, cats, 0, principal.key_id)
        now, due = item.created_at, item.due_at
        abody = AppealBody(
            review_id=item.id,
            action=AppealAction.RECEIVED,
            actor=principal.key_id,
            actor_role=principal.role.value,
            contested=contested,
            categories=cats,
            first_deciders=deciders,
            reason_sha256=sha256_or_none(appeal.reason) or "",
            comment_sha256=None,
            due_at=due,
            original_review_id=original.id if original is not None else None,
        )
        case_row = ReviewCase(
            review_id=item.id,
            kind=ItemKind.APPEAL.value,
            reason="appeal",
            text=appeal.reason,
            content_ids=",".join(o.content_id for o in body.outputs),
            original_review_id=original.id if original is not None else None,
            first_deciders=",".join(deciders),
            contested=contested,
        )
        self._append_new(item, rec, ledger_id, now, "appeal", abody.action.value, abody.to_body(), case_row)
        return self._case_out(item, case_row)

    def appeal_status(self, principal: Principal, appeal_id: str) -> CaseOut:
        item = self.queue._load(principal, appeal_id)
        with self.db.session() as s:
            case_row = s.get(ReviewCase, appeal_id)
        if case_row is None or item.kind != ItemKind.APPEAL.value:
            raise NotFound(f"no appeal {appeal_id!r}")
        return self._case_out(item, case_row)

    def _case_out(self, item: ReviewItem, case_row: ReviewCase) -> CaseOut:
        st = effective_state(item, self.queue.clock())
        shown = case_row.outcome or ("received" if st is ReviewState.PENDING else "in_review")
        return CaseOut(
            id=item.id,
            record_id=item.subject_id or "",
            status=shown,
            contested=case_row.contested or "blocked",
            created_at=item.created_at,
            due_at=item.due_at,
            decided_at=item.decided_at,
            released=self._released(case_row),
            status_url=f"/v1/appeals/{item.id}",
        )

    def _released(self, case_row: ReviewCase) -> bool:
        if case_row.outcome != AppealOutcome.OVERTURNED.value or not case_row.decided_record_id:
            return False
        rec = self.queue.ledger.get(case_row.decided_record_id)
        return bool(rec is not None and rec.body.get("released"))

    def stats(self, tenant: str | None) -> AppealStats:
        """Appeals received, decided and overturned, overall and per category of the first decision."""
        stmt = (
            select(ReviewItem.categories, ReviewCase.outcome, func.count())
            .join(ReviewCase, col(ReviewCase.review_id) == col(ReviewItem.id))
            .where(ReviewItem.kind == ItemKind.APPEAL.value)
            .group_by(col(ReviewItem.categories), col(ReviewCase.outcome))
        )
        if tenant is not None:
            stmt = stmt.where(ReviewItem.tenant == tenant)
        received = decided = overturned = 0
        per: dict[str, dict[str, int]] = {}
        with self.db.session() as s:
            rows = s.exec(stmt).all()
        for cats, outcome, n in rows:
            n = int(n)
            received += n
            is_decided = outcome in (AppealOutcome.OVERTURNED.value, AppealOutcome.UPHELD.value)
            is_over = outcome == AppealOutcome.OVERTURNED.value
            decided += n if is_decided else 0
            overturned += n if is_over else 0
            for c in split_list(cats) or ["none"]:
                d = per.setdefault(c, {"decided": 0, "overturned": 0})
                d["decided"] += n if is_decided else 0
                d["overturned"] += n if is_over else 0
        by_category: dict[str, dict[str, float | int | None]] = {
            c: {**d, "overturn_rate": (d["overturned"] / d["decided"]) if d["decided"] else None}
            for c, d in sorted(per.items())
        }
        return AppealStats(
            tenant=tenant,
            received=received,
            decided=decided,
            overturned=overturned,
            overturn_rate=(overturned / decided) if decided else None,
            by_category=by_category,
        )

    # --- deciding -----------------------------------------------------------------------------
    def decide(self, principal: Principal, review_id: str, decision: CaseDecisionIn) -> ReviewDetail:
        """Decide a claimed complaint (upheld | rejected) or appeal (overturned | upheld)."""
        q = self.queue
        item = q._load_as_reviewer(principal, review_id)
        if item.kind == ItemKind.GENERATION.value:
            raise ReviewConflict(
                f"review {item.id} is a held generation; approve or reject it",
                hint=f"POST /v1/reviews/{item.id}/approve or /reject",
            )
        q._check_not_requester(principal, item)
        q.check_not_first_decider(principal, item)
        now = q.clock()
        q._check_claim(principal, item, now)
        with self.db.session() as s:
            case_row = s.get(ReviewCase, item.id)
        if case_row is None:  # pragma: no cover - written with the item
            raise NotFound(f"review {item.id} has no case")
        allowed = (
            [o.value for o in ComplaintOutcome]
            if item.kind == ItemKind.COMPLAINT.value
            else [o.value for o in AppealOutcome]
        )
        if decision.outcome not in allowed:
            raise InvalidRequest(
                f"outcome {decision.outcome!r} does not fit a {item.kind}",
                param="outcome",
                hint="one of: " + ", ".join(allowed),
            )
        # granted: the complaint is upheld, or the appeal overturns the first decision
        granted = decision.outcome == (
            ComplaintOutcome.UPHELD.value
            if item.kind == ItemKind.COMPLAINT.value
            else AppealOutcome.OVERTURNED.value
        )
        state_to = ReviewState.APPROVED if granted else ReviewState.REJECTED
        state_from = effective_state(item, now)
        ledger_id = str(ULID())
        rows: list[Any] = []
        if item.kind == ItemKind.COMPLAINT.value:
            withdrawn = split_list(case_row.content_ids) if granted else None
            body: dict[str, Any] = ComplaintBody(
                review_id=item.id,
                action=ComplaintAction(decision.outcome),
                actor=principal.key_id,
                actor_role=principal.role.value,
                reason=ComplaintReason(case_row.reason),
                content_ids=split_list(case_row.content_ids),
                text_sha256=sha256_or_none(case_row.text),
                comment_sha256=sha256_or_none(decision.comment),
                due_at=item.due_at,
                withdrawn=withdrawn,
            ).to_body()
            with self.db.session() as s:
                already = set(
                    s.exec(
                        select(WithdrawnContent.content_id).where(
                            col(WithdrawnContent.content_id).in_(withdrawn or [])
                        )
                    ).all()
                )
            rows += [
                WithdrawnContent(
                    content_id=c,
                    record_id=item.subject_id or "",
                    review_id=item.id,
                    ledger_record_id=ledger_id,
                    withdrawn_at=now,
                )
                for c in (withdrawn or [])
                if c not in already
            ]
        else:
            body = AppealBody(
                review_id=item.id,
                action=AppealAction(decision.outcome),
                actor=principal.key_id,
                actor_role=principal.role.value,
                contested=case_row.contested or "blocked",
                categories=split_list(item.categories),
                first_deciders=split_list(case_row.first_deciders),
                reason_sha256=sha256_or_none(case_row.text) or "",
                comment_sha256=sha256_or_none(decision.comment),
                due_at=item.due_at,
                original_review_id=case_row.original_review_id,
                released=False if granted else None,
            ).to_body()
        new_version = item.version + 1
        old = {
            "state": item.state,
            "claimed_by": item.claimed_by,
            "claimed_at": item.claimed_at,
            "lease_until": item.lease_until,
        }
        with self.db.session() as s:
            res = s.exec(
                update(ReviewItem)
                .where(col(ReviewItem.id) == item.id, col(ReviewItem.version) == item.version)
                .values(
                    state=state_to.value,
                    decided_by=principal.key_id,
                    decided_at=now,
                    comment=decision.comment,
                    claimed_by=None,
                    claimed_at=None,
                    lease_until=None,
                    version=new_version,
                )
            )
            if res.rowcount != 1:
                raise ReviewConflict(
                    f"review {item.id} changed while you were deciding it; nothing was changed",
                    hint="reload the item",
                )
        event = q._event(
            item,
            principal,
            ReviewAction.APPROVED if granted else ReviewAction.REJECTED,
            ledger_id,
            state_from,
            state_to,
            now,
            None,
            decision.comment,
        )
        event.action = f"{item.kind}.{decision.outcome}"
        record = LedgerRecord(
            record_id=ledger_id,
            kind=item.kind,
            tenant=item.tenant,
            decision=decision.outcome,
            categories=split_list(item.categories),
            policy_id=item.policy_id,
            policy_digest=item.policy_digest,
            subject_id=item.subject_id,
            created_at=now,
            body=body,
        )
        released = False
        try:
            if item.kind == ItemKind.APPEAL.value and granted and case_row.original_review_id:
                released = self._release_overturned(principal, case_row.original_review_id, decision, now)
            if released:
                record.body["released"] = True
            self.queue.ledger.append(record, with_rows=[*rows, event])
        except Exception:
            with self.db.session() as s:
                s.exec(
                    update(ReviewItem)
                    .where(col(ReviewItem.id) == item.id, col(ReviewItem.version) == new_version)
                    .values(**old, decided_by=None, decided_at=None, comment=None, version=new_version + 1)
                )
            raise
        with self.db.session() as s:
            row = s.get(ReviewCase, item.id)
            assert row is not None  # read above
            row.outcome = decision.outcome
            row.decided_record_id = ledger_id
            s.add(row)
        return q._detail(q._get(item.id))

    def _release_overturned(
        self, principal: Principal, original_id: str, decision: CaseDecisionIn, now: datetime
    ) -> bool:
        """Release the images of a rejected review an appeal overturned, when the policy kept them
        (``review.keep_rejected_images``); the same release stage an approval runs. False when
        there is nothing to release (the images were discarded with the rejection)."""
        q = self.queue
        original = q._get(original_id)
        if original.state != ReviewState.REJECTED.value:
            return False
        payload = q._held(original.id)
        if not payload.images or not all(h.blob for h in payload.images):
            return False
        release_id = str(ULID())
        record = q._record(
            original,
            principal,
            ReviewAction.APPROVED,
            release_id,
            now,
            ReviewState.REJECTED,
            ReviewState.APPROVED,
            reason_code="false_positive",
            comment=decision.comment,
            extra={"approvals": 1, "approvals_needed": 1},
        )
        with self.db.session() as s:
            res = s.exec(
                update(ReviewItem)
                .where(col(ReviewItem.id) == original.id, col(ReviewItem.version) == original.version)
                .values(
                    state=ReviewState.RELEASING.value,
                    release_record_id=release_id,
                    version=original.version + 1,
                )
            )
            if res.rowcount != 1:
                raise ReviewConflict(f"review {original.id} changed while the appeal was decided")
        try:
            outputs = q._run_release(original, payload, record)
        except Exception:
            with self.db.session() as s:
                s.exec(
                    update(ReviewItem)
                    .where(col(ReviewItem.id) == original.id, col(ReviewItem.version) == original.version + 1)
                    .values(state=ReviewState.REJECTED.value, version=original.version + 2)
                )
            raise
        with self.db.session() as s:
            s.exec(
                update(ReviewItem)
                .where(col(ReviewItem.id) == original.id)
                .values(
                    state=ReviewState.APPROVED.value,
                    decided_by=principal.key_id,
                    decided_at=now,
                    reason_code="false_positive",
                    version=original.version + 2,
                )
            )
            row = s.get(ReviewPayload, original.id)
            assert row is not None  # written with the item
            row.released = "[" + ",".join(o.model_dump_json() for o in outputs) + "]"
            s.add(row)
            s.add(
                q._event(
                    original,
                    principal,
                    ReviewAction.APPROVED,
                    release_id,
                    ReviewState.REJECTED,
                    ReviewState.APPROVED,
                    now,
                    "false_positive",
                    decision.comment,
                )
            )
        return True

    # --- internals ----------------------------------------------------------------------------
    def _new_item(
        self, rec: StoredRecord, kind: ItemKind, categories: list[str], priority: int, requester: str
    ) -> tuple[ReviewItem, str]:
        """A pending queue item for a new complaint or appeal about ``rec``, due by the policy's
        deadline, and the id of the ledger record that will open it."""
        now = self.queue.clock()
        ledger_id = str(ULID())
        item = ReviewItem(
            id=str(ULID()),
            tenant=rec.tenant,
            kind=kind.value,
            record_id=ledger_id,
            subject_id=rec.record_id,
            policy_id=rec.policy_id or "default",
            policy_digest=rec.policy_digest or "",
            state=ReviewState.PENDING.value,
            priority=priority,
            categories="," + "".join(c + "," for c in categories),
            created_at=now,
            due_at=self._due(rec.policy_id or "default", now),
            requester_key_id=requester,
            prompt=None,
        )
        return item, ledger_id

    def _append_new(
        self,
        item: ReviewItem,
        rec: StoredRecord,
        ledger_id: str,
        now: datetime,
        kind: str,
        action: str,
        body: dict[str, Any],
        case_row: ReviewCase,
    ) -> None:
        """The case's first record, with its queue rows in the same transaction."""
        gen = GenerationBody.model_validate(rec.body)
        payload = HeldPayload(
            mode=gen.request.mode if gen.request else GenerationMode.TXT2IMG,
            output_format="png",
            created_at=rec.created_at,
            images=[],
            verdicts=list(gen.verdicts),
            reasons=list(gen.decision.reasons),
            model=gen.model,
        )
        event = ReviewEvent(
            id=str(ULID()),
            review_id=item.id,
            tenant=item.tenant,
            actor=item.requester_key_id,
            actor_role=PUBLIC_ACTOR if kind == "complaint" else "requester",
            action=f"{kind}.{action}",
            state_from=None,
            state_to=ReviewState.PENDING.value,
            reason_code=None,
            comment=None,
            ledger_record_id=ledger_id,
            at=now,
        )
        record = LedgerRecord(
            record_id=ledger_id,
            kind=kind,
            tenant=item.tenant,
            decision=action,
            categories=split_list(item.categories),
            policy_id=item.policy_id,
            policy_digest=item.policy_digest,
            subject_id=rec.record_id,
            created_at=now,
            body=body,
        )
        self.queue.ledger.append(
            record,
            with_rows=[
                item,
                ReviewPayload(review_id=item.id, payload=payload.model_dump_json()),
                case_row,
                event,
            ],
        )


def _complaint_priority(reason: ComplaintReason) -> int:
    return {
        ComplaintReason.ILLEGAL: 100,
        ComplaintReason.PRIVACY: 80,
        ComplaintReason.UNLABELLED: 50,
        ComplaintReason.COPYRIGHT: 40,
        ComplaintReason.OTHER: 20,
    }[reason]
