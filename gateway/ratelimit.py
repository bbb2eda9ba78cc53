"""Per-key rate limits and quotas: token buckets kept in the database, so replicas share them.

Why in the database: the gateway is stateless and runs as several replicas behind a load
balancer; a bucket in process memory would let a key make N times its limit against N replicas.
Each charge is one conditional ``UPDATE`` (refill by elapsed time, cap at capacity, take the cost
only if enough tokens are there), which both SQLite and PostgreSQL execute atomically: no read-
modify-write race between replicas, and no lock held across the request.

Two buckets per key, each off when its setting is 0:

* ``rpm`` — every authenticated API call (``ASSAY_RATE_LIMIT_PER_MINUTE``; burst = one minute's worth);
* ``quota`` — generation and edit requests per rolling day (``ASSAY_QUOTA_PER_DAY``).

The same buckets limit callers without a key, by client address (the public verify endpoint:
``ASSAY_PUBLIC_VERIFY_PER_MINUTE``). Such keys are unbounded in number, so creating a bucket
deletes the buckets of its scope that have refilled completely (a full bucket and no bucket are
the same state): the table holds only the clients of the last refill period.

A refused call raises :class:`RateLimited` with the seconds until enough tokens are back; the API
boundary answers ``429`` with ``Retry-After``. Refill uses each replica's wall clock; a clock that
runs behind another replica's never refills twice (``updated_at`` only moves forward).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Column, Float, String, and_, case, delete, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from core.errors import RateLimited, StoreError
from core.store import Database, table_of

RPM = "rpm"
QUOTA = "quota"
PUBLIC_VERIFY = "public_verify"


class RateBucket(SQLModel, table=True):
    """One key's token bucket for one limit. ``updated_at`` is Unix seconds of the last refill."""

    __tablename__ = "rate_buckets"

    key_id: str = Field(sa_column=Column(String(32), primary_key=True))
    scope: str = Field(sa_column=Column(String(16), primary_key=True))
    tokens: float = Field(sa_column=Column(Float, nullable=False))
    updated_at: float = Field(sa_column=Column(Float, nullable=False))


@dataclass(frozen=True)
class Limit:
    """A bucket shape: holds at most ``capacity`` tokens, refilled at ``per_second``."""

    scope: str
    capacity: float
    per_second: float
    what: str  # for the error message: "requests per minute", ...

    @classmethod
    def per_minute(cls, n: int, scope: str = RPM, what: str = "requests") -> Limit | None:
        return cls(scope, float(n), n / 60.0, f"{n} {what} per minute") if n > 0 else None

    @classmethod
    def per_day(cls, n: int) -> Limit | None:
        return cls(QUOTA, float(n), n / 86400.0, f"{n} generation requests per day") if n > 0 else None


_t = table_of(RateBucket)


class RateLimiter:
    """Charges keys against their buckets in ``db``. Thread-safe; holds no state but the clock."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    def charge(self, key_id: str, limit: Limit | None, cost: float = 1.0, *, who: str | None = None) -> None:
        """Take ``cost`` tokens from ``key_id``'s ``limit`` bucket, or raise :class:`RateLimited`.

        ``who`` names the caller in the error (default: "API key <key_id>")."""
        who = who or f"API key {key_id}"
        if limit is None:
            return
        if cost > limit.capacity:
            raise RateLimited(
                f"this request costs {cost:g} of a limit of {limit.what}; it can never pass",
                retry_after=86400.0,
            )
        now = self.clock()
        for _attempt in range(2):
            with self.db.session() as s:
                conn = s.connection()
                if conn.execute(_take(key_id, limit, cost, now)).rowcount == 1:
                    return
                row = conn.execute(
                    select(_t.c.tokens, _t.c.updated_at).where(
                        _t.c.key_id == key_id, _t.c.scope == limit.scope
                    )
                ).first()
            if row is not None:
                level = min(limit.capacity, row.tokens + max(0.0, now - row.updated_at) * limit.per_second)
                wait = (cost - level) / limit.per_second
                raise RateLimited(
                    f"{who} is over its limit of {limit.what}; retry in {wait:.0f} s",
                    retry_after=max(wait, 0.001),
                    hint="slow down, or ask the operator for a higher limit",
                )
            try:
                with self.db.session() as s:
                    conn = s.connection()
                    conn.execute(
                        delete(_t).where(
                            _t.c.scope == limit.scope,
                            _t.c.updated_at < now - limit.capacity / limit.per_second,
                        )
                    )
                    conn.execute(
                        insert(_t).values(
                            key_id=key_id, scope=limit.scope, tokens=limit.capacity - cost, updated_at=now
                        )
                    )
                return
            except StoreError as exc:  # another replica inserted it first: charge that row
                if not isinstance(exc.__cause__, IntegrityError):
                    raise
        raise RateLimited(f"{who} is over its limit of {limit.what}", retry_after=1.0)  # pragma: no cover


def _take(key_id: str, limit: Limit, cost: float, now: float):  # noqa: ANN202 - an UPDATE statement
    """The conditional update: refill, cap, and subtract ``cost`` only where that stays >= 0."""
    elapsed = case((_t.c.updated_at < now, literal(now) - _t.c.updated_at), else_=literal(0.0))
    refilled = _t.c.tokens + elapsed * limit.per_second
    level = case((refilled > limit.capacity, literal(limit.capacity)), else_=refilled)
    return (
        update(_t)
        .where(and_(_t.c.key_id == key_id, _t.c.scope == limit.scope, level >= cost))
        .values(
            tokens=level - cost, updated_at=case((_t.c.updated_at < now, literal(now)), else_=_t.c.updated_at)
        )
    )


def limits_from_settings(settings) -> tuple[Limit | None, Limit | None]:  # noqa: ANN001
    """(per-minute limit, daily generation quota) as configured; None where switched off."""
    return Limit.per_minute(settings.rate_limit_per_minute), Limit.per_day(settings.quota_per_day)
