"""Logins to the ``/review`` page: a reviewer key is exchanged once for a session cookie.

Why server-side sessions: the gateway runs as several replicas, so a session must live in the shared
database; and a logout or a revoked key must end it at once. The cookie holds a random token, the
table only its SHA-256. Each session has its own CSRF token, which every state-changing form must
send back (compared in constant time); the cookie is HttpOnly and SameSite=Strict on top.
The key is re-checked on every request: a revoked key's sessions stop working immediately.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import col, delete

from core.errors import Forbidden
from core.store import Database
from gateway.auth import KeyStore, Principal, Role
from gateway.auth.tables import ApiKey
from gateway.review.tables import ReviewSession

SESSION_TTL = timedelta(hours=8)
COOKIE = "assay_review"
LOGIN_CSRF_COOKIE = "assay_review_login"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_ok(expected: str | None, sent: str | None) -> bool:
    return bool(expected) and bool(sent) and hmac.compare_digest(str(expected), str(sent))


@dataclass(frozen=True)
class PageSession:
    principal: Principal
    csrf: str
    expires_at: datetime


class PageSessions:
    def __init__(self, db: Database, keys: KeyStore, *, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.keys = keys
        self.clock = clock or (lambda: datetime.now(UTC))

    def login(self, api_key: str) -> tuple[str, PageSession]:
        """Check the key (reviewer or admin) and open a session; returns (cookie token, session)."""
        principal = self.keys.authenticate(api_key)
        if principal.role not in (Role.REVIEWER, Role.ADMIN):
            raise Forbidden(
                f"a {principal.role.value} key cannot sign in to the review page; use a reviewer key"
            )
        token = secrets.token_urlsafe(32)
        now = self.clock()
        row = ReviewSession(
            token_hash=_hash(token),
            key_id=principal.key_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + SESSION_TTL,
        )
        with self.db.session() as s:
            s.exec(delete(ReviewSession).where(col(ReviewSession.expires_at) < now))
            s.add(row)
        return token, PageSession(principal, row.csrf_token, row.expires_at)

    def resolve(self, token: str | None) -> PageSession | None:
        """The live session of a cookie token, or None (unknown, expired, or its key revoked)."""
        if not token or len(token) > 200:
            return None
        with self.db.session() as s:
            row = s.get(ReviewSession, _hash(token))
            if row is None or row.expires_at < self.clock():
                return None
            key = s.get(ApiKey, row.key_id)
            if (
                key is None
                or key.revoked_at is not None
                or key.role not in (Role.REVIEWER.value, Role.ADMIN.value)
            ):
                return None
            principal = Principal(key_id=key.id, tenant=key.tenant, role=Role(key.role), name=key.name)
            return PageSession(principal, row.csrf_token, row.expires_at)

    def logout(self, token: str | None) -> None:
        if not token:
            return
        with self.db.session() as s:
            s.exec(delete(ReviewSession).where(col(ReviewSession.token_hash) == _hash(token)))
