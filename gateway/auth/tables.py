"""Tenants and API keys (table/schema families: the hash never leaves the table model)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class TenantBase(SQLModel):
    id: str = Field(primary_key=True, max_length=64)
    policy_id: str = Field(max_length=64)


class Tenant(TenantBase, table=True):
    __tablename__ = "tenants"
    created_at: datetime


class ApiKeyBase(SQLModel):
    id: str = Field(primary_key=True, max_length=32)  # ULID; also the key's visible prefix
    tenant: str = Field(index=True, max_length=64)
    role: str = Field(max_length=16)
    name: str | None = Field(default=None, max_length=200)


class ApiKey(ApiKeyBase, table=True):
    __tablename__ = "api_keys"
    #: sha256 of the secret part; the secret itself is shown once and never stored
    secret_hash: str = Field(max_length=64)
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class ApiKeyPublic(ApiKeyBase):
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
