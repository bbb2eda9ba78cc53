"""Querying the ledger for auditors: filters, tenant scope, keyset cursors, streaming.

Why keyset cursors: offsets get slower and shift as the log grows; the log index is unique and
immutable, so "after index N" is both fast (primary key) and stable. A cursor carries a digest of
the filters it was issued for, so a cursor pasted into another query is refused instead of
silently returning the wrong page. Tenant scope is enforced by the caller's principal, never by
the cursor.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Select, and_, select, true

from core.errors import InvalidRequest
from core.store import table_of
from provenance.ledger.log import Ledger
from provenance.ledger.record import StoredRecord, requester_lookup_digest, stored_record, to_db_time
from provenance.ledger.tables import LedgerEntryRow

_entry_t = table_of(LedgerEntryRow)
_TOKEN_RE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,31}$")
MAX_PAGE = 500


class AuditQuery(BaseModel):
    """The filters of an audit query. ``tenant`` None means every tenant (admins only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str | None = Field(default=None, min_length=1, max_length=128)
    since: datetime | None = None
    until: datetime | None = None
    requester: str | None = Field(default=None, min_length=1, max_length=256)
    decision: str | None = None
    category: str | None = None
    kind: str | None = None
    model: str | None = Field(default=None, min_length=1, max_length=256)
    policy: str | None = Field(default=None, min_length=1, max_length=128)
    subject_id: str | None = Field(default=None, max_length=26)
    order: Literal["asc", "desc"] = "desc"

    @field_validator("decision", "category", "kind")
    @classmethod
    def _token(cls, v: str | None) -> str | None:
        if v is not None and not _TOKEN_RE.match(v):
            raise ValueError("must be a lower-case token such as 'block' or 'self_harm'")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> AuditQuery:
        if self.since and self.until and self.since > self.until:
            raise ValueError("'since' is after 'until'")
        if self.requester is not None and self.tenant is None:
            raise ValueError("a requester filter needs a tenant (requester ids are per tenant)")
        return self

    @property
    def is_unfiltered(self) -> bool:
        return all(getattr(self, f) is None for f in self.model_fields if f != "order")

    def fingerprint(self) -> str:
        data = self.model_dump(mode="json")
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def where(self) -> Any:
        c = _entry_t.c
        conds = []
        if self.tenant is not None:
            conds.append(c.tenant == self.tenant)
        if self.since is not None:
            conds.append(c.created_at >= to_db_time(self.since))
        if self.until is not None:
            conds.append(c.created_at < to_db_time(self.until))
        if self.requester is not None:
            assert self.tenant is not None
            conds.append(c.requester_digest == requester_lookup_digest(self.tenant, self.requester))
        if self.decision is not None:
            conds.append(c.decision == self.decision)
        if self.category is not None:
            conds.append(c.categories.contains(f",{self.category},", autoescape=True))
        if self.kind is not None:
            conds.append(c.kind == self.kind)
        if self.model is not None:
            conds.append(c.model_id == self.model)
        if self.policy is not None:
            conds.append(c.policy_id == self.policy)
        if self.subject_id is not None:
            conds.append(c.subject_id == self.subject_id)
        return and_(true(), *conds)

    def select_after(self, after: int | None, limit: int, *, below: int | None = None) -> Select:
        """Rows past the keyset position ``after`` in this query's order (``below``: idx < below)."""
        c = _entry_t.c
        stmt = select(_entry_t).where(self.where())
        if after is not None:
            stmt = stmt.where(c.idx < after if self.order == "desc" else c.idx > after)
        if below is not None:
            stmt = stmt.where(c.idx < below)
        order = c.idx.desc() if self.order == "desc" else c.idx.asc()
        return stmt.order_by(order).limit(limit)


def encode_cursor(query: AuditQuery, after: int) -> str:
    raw = json.dumps({"v": 1, "a": after, "q": query.fingerprint()}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(query: AuditQuery, cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        after, fp, v = data["a"], data["q"], data["v"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidRequest(
            "the cursor is not one this server issued",
            param="cursor",
            hint="pass next_cursor from the previous page unchanged",
        ) from None
    if v != 1 or not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise InvalidRequest("the cursor is not one this server issued", param="cursor")
    if fp != query.fingerprint():
        raise InvalidRequest(
            "the cursor belongs to a query with other filters",
            param="cursor",
            hint="repeat the query's filters exactly, or start again without a cursor",
        )
    return after


class Page(BaseModel):
    records: list[StoredRecord]
    next_cursor: str | None = None


def page(ledger: Ledger, query: AuditQuery, *, limit: int = 100, cursor: str | None = None) -> Page:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}", param="limit")
    after = decode_cursor(query, cursor) if cursor else None
    with ledger.db.session() as s:
        rows = s.execute(query.select_after(after, limit + 1)).all()
    records = [stored_record(r) for r in rows[:limit]]
    nxt = encode_cursor(query, records[-1].index) if len(rows) > limit else None
    return Page(records=records, next_cursor=nxt)


def iter_rows(
    ledger: Ledger, query: AuditQuery, *, below: int | None = None, chunk: int = 1000
) -> Iterator[dict[str, Any]]:
    """Every matching row (column dicts), streamed in chunks: memory stays bounded on huge ranges."""
    after: int | None = None
    while True:
        with ledger.db.session() as s:
            rows = s.execute(query.select_after(after, chunk, below=below)).all()
        for r in rows:
            yield dict(r._mapping)
        if len(rows) < chunk:
            return
        after = rows[-1].idx
