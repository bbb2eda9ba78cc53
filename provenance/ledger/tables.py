"""The ledger's tables: one head row, the entries (leaves), stored inner nodes, signed checkpoints.

Why this shape:

* ``ledger_head`` is the single serialisation point: every append updates it in the same
  transaction as its entries, so indices are contiguous in commit order (an auto-increment would
  leave gaps on rollback). It holds the size and the compact frontier, so appends are O(log n).
* ``ledger_entry`` keeps each record's fields in plain columns (the audit API filters on them) and
  the leaf is *recomputed* from those columns by ``assay audit verify``: an edited column changes
  the leaf. Personal data (prompt text, requester) sits in erasable columns next to a per-record
  salt; the leaf commits only to salted digests, so erasing text + salt keeps the tree verifiable.
* ``ledger_node`` keeps inner nodes at every ``TILE_HEIGHT``-th level, so a proof among millions of
  records is a few range reads instead of a scan.

Hashes are lowercase hex. Times are naive UTC (the same on SQLite and PostgreSQL).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, SmallInteger, String, Text
from sqlmodel import Field, SQLModel


class LedgerHead(SQLModel, table=True):
    __tablename__ = "ledger_head"

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    #: hex hashes of the perfect subtrees, largest first, comma-separated
    frontier: str = Field(sa_column=Column(Text, nullable=False))
    root: str = Field(sa_column=Column(String(64), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime, nullable=False))


class LedgerEntryRow(SQLModel, table=True):
    __tablename__ = "ledger_entry"
    __table_args__ = (
        Index("ix_ledger_entry_tenant_idx", "tenant", "idx"),
        Index("ix_ledger_entry_created_at", "created_at"),
        Index("ix_ledger_entry_requester_digest", "requester_digest"),
        Index("ix_ledger_entry_subject_id", "subject_id"),
    )

    #: the log index: assigned under the head lock, never an auto-increment
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    record_id: str = Field(sa_column=Column(String(26), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    tenant: str = Field(sa_column=Column(String(128), nullable=False))
    decision: str | None = Field(default=None, sa_column=Column(String(32)))
    #: ",cat1,cat2," (order kept; the delimiters make LIKE '%,cat,%' exact on both databases)
    categories: str = Field(default=",", sa_column=Column(String(512), nullable=False))
    model_id: str | None = Field(default=None, sa_column=Column(String(256)))
    policy_id: str | None = Field(default=None, sa_column=Column(String(128)))
    policy_digest: str | None = Field(default=None, sa_column=Column(String(128)))
    subject_id: str | None = Field(default=None, sa_column=Column(String(26)))
    prompt_digest: str | None = Field(default=None, sa_column=Column(String(64)))
    created_at: datetime = Field(sa_column=Column(DateTime, nullable=False))
    appended_at: datetime = Field(sa_column=Column(DateTime, nullable=False))
    #: the record's body as RFC 8785 canonical JSON
    body: str = Field(sa_column=Column(Text, nullable=False))
    # --- personal data: erasable; the leaf commits to salted digests of it ---
    requester: str | None = Field(default=None, sa_column=Column(String(256)))
    #: unsalted lookup digest for the requester filter; erased with the requester
    requester_digest: str | None = Field(default=None, sa_column=Column(String(64)))
    prompt: str | None = Field(default=None, sa_column=Column(Text))
    salt: str | None = Field(default=None, sa_column=Column(String(32)))
    requester_commit: str | None = Field(default=None, sa_column=Column(String(64)))
    prompt_commit: str | None = Field(default=None, sa_column=Column(String(64)))
    erased_at: datetime | None = Field(default=None, sa_column=Column(DateTime))
    leaf_hash: str = Field(sa_column=Column(String(64), nullable=False))


class LedgerNode(SQLModel, table=True):
    """Inner node hash of the perfect subtree (level, idx); only levels that are multiples of TILE_HEIGHT."""

    __tablename__ = "ledger_node"

    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False))


class LedgerCheckpointRow(SQLModel, table=True):
    """A signed checkpoint (C2SP signed note) of the tree at some size."""

    __tablename__ = "ledger_checkpoint"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    size: int = Field(sa_column=Column(BigInteger, nullable=False, index=True, unique=True))  # 0002
    root: str = Field(sa_column=Column(String(64), nullable=False))
    key_name: str = Field(sa_column=Column(String(256), nullable=False))
    #: the whole signed note, as served and exported
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime, nullable=False))
