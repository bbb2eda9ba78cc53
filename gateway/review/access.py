"""Who may see and act on which tenants' review items.

* A reviewer works its own tenant's queue and the tenants an admin assigned it to (a moderation
  team in one tenant can serve several customer tenants).
* An admin sees every tenant (as in the audit API).
* Requesters see only the status of their own tenant's items; auditors do not use the queue.

An item outside the caller's tenants answers exactly like an item that does not exist (404), so
a reviewer cannot even learn which ids exist elsewhere. Assignments are admin actions and go into
the ledger (kind ``reviewer``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col, delete, select
from ulid import ULID

from core.errors import Forbidden, InvalidRequest, NotFound
from core.store import Database
from gateway.auth import Principal, Role
from gateway.auth.tables import ApiKey, Tenant
from gateway.review.tables import ReviewerTenant
from provenance.ledger import Ledger, LedgerRecord

REVIEW_ROLES = (Role.REVIEWER, Role.ADMIN)


class ReviewerAssignments:
    def __init__(self, db: Database, ledger: Ledger) -> None:
        self.db = db
        self.ledger = ledger

    def tenants_of(self, principal: Principal) -> frozenset[str] | None:
        """The tenants whose items ``principal`` may review; None means every tenant (admin)."""
        if principal.role is Role.ADMIN:
            return None
        if principal.role is not Role.REVIEWER:
            return frozenset()
        with self.db.session() as s:
            rows = s.exec(select(ReviewerTenant.tenant).where(ReviewerTenant.key_id == principal.key_id))
            return frozenset({principal.tenant, *rows})

    def list(self, key_id: str | None = None) -> list[ReviewerTenant]:
        with self.db.session() as s:
            q = select(ReviewerTenant).order_by(ReviewerTenant.key_id, ReviewerTenant.tenant)
            if key_id:
                q = q.where(ReviewerTenant.key_id == key_id)
            return list(s.exec(q))

    def assign(self, admin: Principal, key_id: str, tenant: str) -> ReviewerTenant:
        """Let reviewer key ``key_id`` work ``tenant``'s queue (idempotent)."""
        self._require_admin(admin)
        with self.db.session() as s:
            key = s.get(ApiKey, key_id)
            if key is None or key.revoked_at is not None:
                raise NotFound(f"no active API key {key_id!r}")
            if key.role != Role.REVIEWER.value:
                raise InvalidRequest(
                    f"key {key_id} has role {key.role}; only reviewer keys are assigned to tenants",
                    param="key_id",
                )
            if s.get(Tenant, tenant) is None:
                raise NotFound(f"unknown tenant {tenant!r}", hint="create it with `assay tenants set-policy`")
            row = s.exec(
                select(ReviewerTenant).where(ReviewerTenant.key_id == key_id, ReviewerTenant.tenant == tenant)
            ).first()
            if row is not None:
                return row
            row = ReviewerTenant(
                id=str(ULID()),
                key_id=key_id,
                tenant=tenant,
                assigned_by=admin.key_id,
                assigned_at=datetime.now(UTC),
            )
            s.add(row)
        try:
            self._record(admin, "assigned", key_id, tenant)
        except Exception:  # no assignment without its record
            with self.db.session() as s:
                s.exec(delete(ReviewerTenant).where(col(ReviewerTenant.id) == row.id))
            raise
        return row

    def unassign(self, admin: Principal, key_id: str, tenant: str) -> bool:
        self._require_admin(admin)
        with self.db.session() as s:
            row = s.exec(
                select(ReviewerTenant).where(ReviewerTenant.key_id == key_id, ReviewerTenant.tenant == tenant)
            ).first()
            if row is None:
                return False
            s.delete(row)
        try:
            self._record(admin, "unassigned", key_id, tenant)
        except Exception:  # no change without its record: put the assignment back
            with self.db.session() as s:
                s.add(ReviewerTenant.model_validate(row.model_dump()))
            raise
        return True

    @staticmethod
    def _require_admin(principal: Principal) -> None:
        if principal.role is not Role.ADMIN:
            raise Forbidden("only an admin assigns reviewers to tenants")

    def _record(self, admin: Principal, action: str, key_id: str, tenant: str) -> None:
        self.ledger.append(
            LedgerRecord(
                record_id=str(ULID()),
                kind="reviewer",
                tenant=tenant,
                decision=action,
                created_at=datetime.now(UTC),
                body={"reviewer_key_id": key_id, "tenant": tenant, "by": admin.key_id},
            )
        )
