"""API keys bound to a tenant and a role; stored as hashes only, compared in constant time.

A key looks like ``ask_<id>_<secret>``: the id (a ULID) finds the row, the secret is checked
against its SHA-256 with :func:`hmac.compare_digest`. The full key is shown once, at creation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlmodel import select
from ulid import ULID

from core.errors import AuthError, InvalidRequest, NotFound
from core.store import Database
from gateway.auth.tables import ApiKey, ApiKeyPublic, Tenant

KEY_PREFIX = "ask_"


class Role(StrEnum):
    REQUESTER = "requester"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """Who is calling: resolved from an API key (or a review-page session)."""

    key_id: str
    tenant: str
    role: Role
    name: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_key(key: str) -> tuple[str, str]:
    if not key.startswith(KEY_PREFIX):
        raise AuthError("invalid API key")
    body = key[len(KEY_PREFIX) :]
    key_id, sep, secret = body.partition("_")
    if not sep or len(key_id) != 26 or not secret:
        raise AuthError("invalid API key")
    return key_id, secret


_TENANT_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def validate_tenant_id(tenant: str) -> str:
    if not tenant or len(tenant) > 64 or not set(tenant) <= _TENANT_CHARS:
        raise InvalidRequest(
            f"tenant id {tenant!r} must be 1-64 characters of a-z, 0-9, '-', '_', '.'", param="tenant"
        )
    return tenant


class KeyStore:
    """Creates, lists, revokes and authenticates API keys; manages tenants' policy assignment."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # tenants ---------------------------------------------------------------------------------
    def ensure_tenant(self, tenant: str, policy_id: str) -> Tenant:
        validate_tenant_id(tenant)
        with self.db.session() as s:
            row = s.get(Tenant, tenant)
            if row is None:
                row = Tenant(id=tenant, policy_id=policy_id, created_at=_now())
                s.add(row)
            return row

    def set_policy(self, tenant: str, policy_id: str) -> Tenant:
        with self.db.session() as s:
            row = s.get(Tenant, tenant)
            if row is None:
                raise NotFound(f"unknown tenant {tenant!r}")
            row.policy_id = policy_id
            s.add(row)
            return row

    def tenant(self, tenant: str) -> Tenant | None:
        with self.db.session() as s:
            return s.get(Tenant, tenant)

    def tenants(self) -> list[Tenant]:
        with self.db.session() as s:
            return list(s.exec(select(Tenant).order_by(Tenant.id)))

    # keys ------------------------------------------------------------------------------------
    def create(
        self, tenant: str, role: Role | str, *, name: str | None = None, policy_id: str = "default"
    ) -> tuple[str, ApiKeyPublic]:
        """Create a key; returns (the full key — shown once, the public row)."""
        role = Role(role)
        self.ensure_tenant(tenant, policy_id)
        key_id = str(ULID())
        secret = secrets.token_urlsafe(32)
        row = ApiKey(
            id=key_id, tenant=tenant, role=role.value, name=name, secret_hash=_hash(secret), created_at=_now()
        )
        with self.db.session() as s:
            s.add(row)
        return f"{KEY_PREFIX}{key_id}_{secret}", ApiKeyPublic.model_validate(row, from_attributes=True)

    def list(self, tenant: str | None = None, *, include_revoked: bool = False) -> list[ApiKeyPublic]:
        with self.db.session() as s:
            q = select(ApiKey).order_by(ApiKey.id)
            if tenant:
                q = q.where(ApiKey.tenant == tenant)
            if not include_revoked:
                q = q.where(ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
            return [ApiKeyPublic.model_validate(r, from_attributes=True) for r in s.exec(q)]

    def revoke(self, key_id: str) -> ApiKeyPublic:
        with self.db.session() as s:
            row = s.get(ApiKey, key_id)
            if row is None:
                raise NotFound(f"no API key {key_id!r}")
            if row.revoked_at is None:
                row.revoked_at = _now()
                s.add(row)
            return ApiKeyPublic.model_validate(row, from_attributes=True)

    def count(self) -> int:
        from sqlalchemy import func

        with self.db.session() as s:
            return int(s.exec(select(func.count()).select_from(ApiKey)).one())

    def authenticate(self, key: str) -> Principal:
        key_id, secret = _parse_key(key.strip())
        with self.db.session() as s:
            row = s.get(ApiKey, key_id)
            expected = row.secret_hash if row is not None else _hash("x" * 43)
            ok = hmac.compare_digest(expected, _hash(secret))
            if row is None or not ok or row.revoked_at is not None:
                raise AuthError(
                    "invalid API key", hint="check the key, or create one with `assay keys create`"
                )
            return Principal(key_id=row.id, tenant=row.tenant, role=Role(row.role), name=row.name)
