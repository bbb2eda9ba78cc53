"""The ledger: appends records to the Merkle log through one serialised head row, and reads them back.

How an append is serialised (the same code on SQLite and PostgreSQL): the transaction's first
statement is ``UPDATE ledger_head ... WHERE id = 1 AND size = <expected>``. That takes the head
row's write lock (PostgreSQL: the row lock, held to commit; SQLite: the database write lock), so
appenders queue there, and the condition proves nobody appended since this process last read the
head. If somebody did (another process or replica), the row is re-read under the lock
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite already holds its write lock) and the batch is
re-hashed. Entries, stored nodes and the new head commit together or not at all, so a rollback
leaves no gap and indices are contiguous in commit order.

Group commit: concurrent callers in one process hand their records to whichever of them currently
leads; the leader appends everyone's records in one transaction (one fsync) and wakes the others.
That is how the log keeps up with many request threads while every caller still returns only
after its own records are durable. A batch that fails is retried record by record so one bad
record fails alone.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from core.errors import IntegrityError, InvalidRequest, StoreError
from core.store import Database, TableRows, table_of
from provenance.ledger import merkle
from provenance.ledger.merkle import TILE_HEIGHT, Frontier, TiledSource, leaf_hash
from provenance.ledger.record import (
    LedgerEntry,
    LedgerRecord,
    StoredRecord,
    from_db_time,
    leaf_bytes,
    now_utc,
    prepare_row,
    stored_record,
    to_db_time,
)
from provenance.ledger.tables import LedgerEntryRow, LedgerHead, LedgerNode

T = TypeVar("T")
HEAD_ID = 1
#: most records one transaction carries (bounds lock hold time and statement size)
MAX_BATCH = 1000

_head_t = table_of(LedgerHead)
_entry_t = table_of(LedgerEntryRow)
_node_t = table_of(LedgerNode)

#: built once: compiling a statement per append costs more than executing it
_SWAP_HEAD = (
    update(_head_t)
    .where(and_(_head_t.c.id == HEAD_ID, _head_t.c.size == bindparam("expected")))
    .values(
        size=bindparam("size"),
        frontier=bindparam("frontier"),
        root=bindparam("root"),
        updated_at=bindparam("updated_at"),
    )
)
_INSERT_ENTRY = _entry_t.insert()


@functools.lru_cache(maxsize=64)
def _leaf_runs_stmt(k: int) -> Select:
    """Leaf hashes of ``k`` index runs [a_i, b_i): one range scan of the primary key each."""
    c = _entry_t.c
    return select(c.idx, c.leaf_hash).where(
        or_(*[and_(c.idx >= bindparam(f"a{i}"), c.idx < bindparam(f"b{i}")) for i in range(k)])
    )


@functools.lru_cache(maxsize=64)
def _node_runs_stmt(k: int) -> Select:
    """Stored node hashes of ``k`` (level, index run) pairs: one primary-key range scan each (a
    list of single (level, idx) pairs made PostgreSQL plan and probe dozens of index lookups)."""
    c = _node_t.c
    return select(c.level, c.idx, c.hash).where(
        or_(
            *[
                and_(c.level == bindparam(f"l{i}"), c.idx >= bindparam(f"a{i}"), c.idx < bindparam(f"b{i}"))
                for i in range(k)
            ]
        )
    )


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Sorted indices as half-open runs of consecutive values."""
    out: list[tuple[int, int]] = []
    for i in indices:
        if out and out[-1][1] == i:
            out[-1] = (out[-1][0], i + 1)
        else:
            out.append((i, i + 1))
    return out


_TILE_LEAVES = (
    select(_entry_t.c.idx, _entry_t.c.leaf_hash)
    .where(and_(_entry_t.c.idx >= bindparam("start"), _entry_t.c.idx < bindparam("end")))
    .order_by(_entry_t.c.idx)
)
_TILE_NODES = (
    select(_node_t.c.idx, _node_t.c.hash)
    .where(
        and_(
            _node_t.c.level == bindparam("level"),
            _node_t.c.idx >= bindparam("start"),
            _node_t.c.idx < bindparam("end"),
        )
    )
    .order_by(_node_t.c.idx)
)
_INSERT_NODE = _node_t.insert()


@dataclass(frozen=True)
class TreeHead:
    """The log's current size, root and frontier, as read from (or written to) the head row."""

    size: int
    root: bytes
    frontier: Frontier

    @classmethod
    def from_row(cls, size: int, frontier_text: str, root_hex: str) -> TreeHead:
        hashes = [bytes.fromhex(h) for h in frontier_text.split(",") if h]
        f = Frontier(size, hashes)
        if f.root().hex() != root_hex:
            raise IntegrityError(
                f"the ledger head's root {root_hex} does not match its frontier (size {size})",
                hint="the head row was edited; run `assay audit verify` to find the damage",
            )
        return cls(size, bytes.fromhex(root_hex), f)


def _insert_side_rows(conn: Connection, side: list[Any]) -> None:
    """Insert SQLModel table rows and :class:`~core.store.TableRows`, grouped by table, on the
    append's connection."""
    by_table: dict[Any, list[dict[str, Any]]] = {}
    for obj in side:
        if isinstance(obj, TableRows):
            by_table.setdefault(table_of(obj.model), []).extend(obj.values)
            continue
        table = table_of(type(obj))
        by_table.setdefault(table, []).append({c.key: getattr(obj, c.key) for c in table.columns})
    for table, values in by_table.items():
        if values:
            conn.execute(table.insert(), values)


@dataclass
class _Pending:
    rows: list[dict[str, Any]]
    side: list[Any] = field(default_factory=list)  # table rows committed with these records
    done: bool = False
    result: list[LedgerEntry] | None = None
    error: BaseException | None = None


class _Reconnect(Exception):
    """The kept writer connection was dead; nothing was written: retry on a new one."""


@dataclass
class _Plan:
    """A batch hashed against a head: the rows, stored nodes and new head to write together."""

    rows: list[dict[str, Any]]
    nodes: list[dict[str, Any]]
    head_values: dict[str, Any]
    new_head: TreeHead
    entries: list[LedgerEntry]


class Ledger:
    """The tamper-evident audit log over one database."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self._clock = clock or now_utc
        self._leader = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._head: TreeHead | None = None  # cache, only ever replaced by a committed state
        self._head_ready = False
        self._conn: Connection | None = None

    # --- appending -------------------------------------------------------------------------------
    def append(self, record: LedgerRecord, *, with_rows: Sequence[Any] = ()) -> LedgerEntry:
        """Append one record; returns its index once it is durable. Raises StoreError on failure.

        ``with_rows``: SQLModel table rows (e.g. the released-image index rows of a generation)
        inserted in the same transaction, so they exist exactly when the record does.
        """
        return self.append_many([record], with_rows=with_rows)[0]

    def append_many(
        self, records: Sequence[LedgerRecord], *, with_rows: Sequence[Any] = ()
    ) -> list[LedgerEntry]:
        """Append records as one contiguous run of indices, atomically (with ``with_rows``)."""
        if not records:
            return []
        if len(records) > MAX_BATCH:
            raise InvalidRequest(f"at most {MAX_BATCH} records per append_many call, got {len(records)}")
        ids = [r.record_id for r in records]
        if len(set(ids)) != len(ids):
            raise InvalidRequest("append_many got the same record_id twice", param="record_id")
        appended_at = self._clock()
        pending = _Pending([prepare_row(r, appended_at) for r in records], list(with_rows))
        with self._queue_lock:
            self._queue.append(pending)
        while not pending.done:
            with self._leader:
                if pending.done:
                    break
                with self._queue_lock:
                    batch: list[_Pending] = []
                    count = 0
                    while self._queue and (not batch or count + len(self._queue[0].rows) <= MAX_BATCH):
                        p = self._queue.pop(0)
                        batch.append(p)
                        count += len(p.rows)
                self._run(batch)
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result

    def _run(self, batch: list[_Pending]) -> None:
        """Commit a batch of pendings in one transaction; on failure, each pending alone."""
        try:
            entries = self._commit([row for p in batch for row in p.rows], [x for p in batch for x in p.side])
        except BaseException as exc:  # noqa: BLE001 - delivered to the waiting callers
            if len(batch) == 1:
                batch[0].error = exc
                batch[0].done = True
                return
            for p in batch:
                try:
                    p.result = self._commit(p.rows, p.side)
                except BaseException as one:  # noqa: BLE001
                    p.error = one
                p.done = True
            return
        pos = 0
        for p in batch:
            p.result = entries[pos : pos + len(p.rows)]
            pos += len(p.rows)
            p.done = True

    def _commit(self, rows: list[dict[str, Any]], side: list[Any]) -> list[LedgerEntry]:
        """One transaction: take the head lock, write entries, nodes, side rows and head; retried
        once on a connection the server dropped (a restart): the kept writer connection has no
        pool ping."""
        try:
            return self._commit_once(rows, side)
        except _Reconnect:
            return self._commit_once(rows, side)

    def _commit_once(self, rows: list[dict[str, Any]], side: list[Any]) -> list[LedgerEntry]:
        self._ensure_head()
        head = self._head or self._read_head(lock=False)
        fresh = self._conn is None
        conn = self._writer_connection()
        try:
            with conn.begin():
                planned = self._plan(head, rows)
                if not self._swap_head(conn, head, planned):
                    # someone else appended: re-read under the lock and re-plan
                    head = self._read_head(lock=True, conn=conn)
                    planned = self._plan(head, rows)
                    if not self._swap_head(conn, head, planned):
                        raise StoreError(
                            "the ledger head changed while it was locked; no record was appended"
                        )
                conn.execute(_INSERT_ENTRY, planned.rows)
                if planned.nodes:
                    conn.execute(_INSERT_NODE, planned.nodes)
                _insert_side_rows(conn, side)
        except SQLAlchemyError as exc:
            self._drop_writer_connection()
            if not fresh and isinstance(exc, DBAPIError) and exc.connection_invalidated:
                raise _Reconnect from exc
            raise StoreError(
                f"ledger append failed: {exc.__class__.__name__}: {str(exc).splitlines()[0]}",
                hint="nothing of this batch was appended; retry, and check the database if it persists",
            ) from exc
        except BaseException:
            self._drop_writer_connection()
            raise
        self._head = planned.new_head
        return planned.entries

    @staticmethod
    def _swap_head(conn: Connection, head: TreeHead, planned: _Plan) -> bool:
        """Move the head from ``head`` to the planned one; False if it is no longer ``head``.

        This is the transaction's first statement, so it is also what takes the head lock.
        """
        res = conn.execute(_SWAP_HEAD, {"expected": head.size, **planned.head_values})
        return res.rowcount == 1

    def _writer_connection(self) -> Connection:
        """The connection appends go through: one per Ledger, used only by the current leader.

        Kept open across appends (no pool checkout, ping or reset per append: those round trips
        cost more than the append itself on PostgreSQL); dropped and reopened after any error.
        """
        if self._conn is None:
            try:
                self._conn = self.db.engine.connect()
            except SQLAlchemyError as exc:
                raise StoreError(f"database unreachable: {str(exc).splitlines()[0]}") from exc
        return self._conn

    def _drop_writer_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._head = None  # re-read next time: the cache may be stale
        if conn is not None:
            try:
                conn.close()
            except SQLAlchemyError:  # pragma: no cover - already broken
                conn.invalidate()

    def close(self) -> None:
        """Release the writer connection (the Database itself stays open)."""
        with self._leader:
            self._drop_writer_connection()

    def _plan(self, head: TreeHead, rows: list[dict[str, Any]]) -> _Plan:
        frontier = head.frontier.copy()
        out_rows: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        hashes: list[str] = []
        for r in rows:  # idx and leaf_hash are (re)written in place: a re-plan overwrites them
            r["idx"] = frontier.size
            h = leaf_hash(leaf_bytes(r))
            r["leaf_hash"] = h.hex()
            hashes.append(r["leaf_hash"])
            out_rows.append(r)
            for level, index, nh in frontier.append(h):
                nodes.append({"level": level, "idx": index, "hash": nh.hex()})
        root = frontier.root()
        new_head = TreeHead(frontier.size, root, frontier)
        values = {
            "size": frontier.size,
            "frontier": ",".join(x.hex() for x in frontier.hashes),
            "root": root.hex(),
            "updated_at": to_db_time(self._clock()),
        }
        entries = [
            LedgerEntry(
                index=r["idx"],
                record_id=r["record_id"],
                leaf_hash=h,
                appended_at=from_db_time(r["appended_at"]),
                tree_size=frontier.size,
            )
            for r, h in zip(out_rows, hashes, strict=True)
        ]
        return _Plan(out_rows, nodes, values, new_head, entries)

    # --- the head --------------------------------------------------------------------------------
    def _ensure_head(self, conn: Any = None) -> None:
        if self._head_ready:
            return
        ins = postgresql.insert(_head_t) if self.db.dialect == "postgresql" else sqlite.insert(_head_t)
        stmt = ins.values(
            id=HEAD_ID,
            size=0,
            frontier="",
            root=Frontier().root().hex(),
            updated_at=to_db_time(self._clock()),
        ).on_conflict_do_nothing(index_elements=["id"])
        if conn is not None:  # in the caller's transaction: ready once that commits (next call repeats it)
            conn.execute(stmt)
            return
        with self.db.session() as s:
            s.execute(stmt)
        self._head_ready = True

    def _read_head(self, *, lock: bool, conn: Any = None) -> TreeHead:
        stmt = select(_head_t.c.size, _head_t.c.frontier, _head_t.c.root).where(_head_t.c.id == HEAD_ID)
        if lock and self.db.dialect == "postgresql":
            stmt = stmt.with_for_update()
        if conn is not None:
            row = conn.execute(stmt).first()
        else:
            with self.db.session() as s:
                row = s.execute(stmt).first()
        if row is None:
            raise IntegrityError("the ledger head row is missing", hint="run `assay audit verify`")
        return TreeHead.from_row(row.size, row.frontier, row.root)

    def head(self, session: Any = None) -> TreeHead:
        """The current committed tree head, read from the database (through ``session`` if given:
        a caller inside a transaction reads it without taking a second connection)."""
        self._ensure_head(session)
        return self._read_head(lock=False, conn=session)

    # --- reading ---------------------------------------------------------------------------------
    def get(self, record_id: str, *, tenant: str | None = None) -> StoredRecord | None:
        """The record with this id, or None; with ``tenant`` set, records of other tenants are None."""
        stmt = select(_entry_t).where(_entry_t.c.record_id == record_id)
        if tenant is not None:
            stmt = stmt.where(_entry_t.c.tenant == tenant)
        with self.db.session() as s:
            row = s.execute(stmt).first()
        return stored_record(row) if row is not None else None

    def get_index(self, index: int) -> StoredRecord | None:
        with self.db.session() as s:
            row = s.execute(select(_entry_t).where(_entry_t.c.idx == index)).first()
        return stored_record(row) if row is not None else None

    def leaf_text(self, index: int) -> str:
        """The canonical JSON that the leaf at ``index`` hashes (what a proof's verifier recomputes)."""
        with self.db.session() as s:
            row = s.execute(select(_entry_t).where(_entry_t.c.idx == index)).first()
        if row is None:
            raise IntegrityError(
                f"the ledger has no record at index {index}", hint="run `assay audit verify`"
            )
        return leaf_bytes(dict(row._mapping)).decode("utf-8")

    # --- proofs ----------------------------------------------------------------------------------
    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``tree_size`` records."""
        self._check_size(tree_size)
        return self._compute(lambda src: merkle.inclusion_proof(src, index, tree_size))

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 consistency proof that the tree of ``size2`` records extends that of ``size1``."""
        self._check_size(size2)
        return self._compute(lambda src: merkle.consistency_proof(src, size1, size2))

    def root_at(self, tree_size: int) -> bytes:
        """The root of the tree of the first ``tree_size`` records (any past size)."""
        self._check_size(tree_size)
        return self._compute(lambda src: merkle.tree_root(src, tree_size))

    def _compute(self, fn: Callable[[merkle.NodeSource], T]) -> T:
        """Run a Merkle computation over stored hashes fetched in (at most) two queries."""
        needed = merkle.stored_hashes_needed(fn)
        hashes: dict[tuple[int, int], bytes] = {}
        with self._reader() as conn:
            if 0 in needed:
                runs = _runs(needed[0])
                params = {k: v for i, (a, b) in enumerate(runs) for k, v in ((f"a{i}", a), (f"b{i}", b))}
                for idx, h in conn.execute(_leaf_runs_stmt(len(runs)), params).all():
                    hashes[(0, idx)] = bytes.fromhex(h)
            node_runs = [(lv, a, b) for lv in sorted(needed) if lv for a, b in _runs(needed[lv])]
            if node_runs:
                params = {
                    k: v
                    for i, (lv, a, b) in enumerate(node_runs)
                    for k, v in ((f"l{i}", lv), (f"a{i}", a), (f"b{i}", b))
                }
                for level, idx, h in conn.execute(_node_runs_stmt(len(node_runs)), params).all():
                    hashes[(level, idx)] = bytes.fromhex(h)
        return fn(merkle.PrefetchedSource(hashes))

    @contextlib.contextmanager
    def _reader(self) -> Iterator[Connection]:
        """A plain connection for reads of tiles (lighter than an ORM session; errors -> StoreError)."""
        try:
            with self.db.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(
                f"ledger read failed: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
            ) from exc

    def _check_size(self, tree_size: int) -> None:
        # sizes only grow: a size within the last head this process committed or read needs no read
        cached = self._head
        if cached is not None and 0 <= tree_size <= cached.size:
            return
        head = self.head()
        if not 0 <= tree_size <= head.size:
            raise InvalidRequest(
                f"tree size {tree_size} is outside the log (0..{head.size})", param="tree_size"
            )

    def stored_hashes(self, level: int, start: int, end: int) -> list[bytes]:
        """The stored hashes of ``level`` (0: leaf hashes, else a multiple of TILE_HEIGHT) for the
        indices ``start..end-1``, up to the first one that is not stored (not complete yet)."""
        if level % TILE_HEIGHT:
            raise InvalidRequest(f"level {level} is not stored (only multiples of {TILE_HEIGHT})")
        with self._reader() as conn:
            if level == 0:
                rows = conn.execute(_TILE_LEAVES, {"start": start, "end": end}).all()
            else:
                rows = conn.execute(_TILE_NODES, {"level": level, "start": start, "end": end}).all()
        out: list[bytes] = []
        for i, (idx, h) in enumerate(rows):
            if idx != start + i:
                break
            out.append(bytes.fromhex(h))
        return out

    def leaves(self, start: int, end: int) -> list[bytes]:
        """The leaf bytes (what each leaf hash hashes) of the records ``start..end-1`` that exist."""
        with self._reader() as conn:
            rows = conn.execute(
                select(_entry_t)
                .where(and_(_entry_t.c.idx >= start, _entry_t.c.idx < end))
                .order_by(_entry_t.c.idx)
            ).all()
        out: list[bytes] = []
        for i, row in enumerate(rows):
            if row.idx != start + i:
                break
            out.append(leaf_bytes(dict(row._mapping)))
        return out

    def node_source(self, session: Any) -> TiledSource:
        """A Merkle node source reading stored leaf hashes and tile nodes through ``session``."""

        def fetch(level: int, start: int, end: int) -> list[bytes]:
            if level == 0:
                rows = session.execute(_TILE_LEAVES, {"start": start, "end": end}).all()
            else:
                assert level % TILE_HEIGHT == 0
                rows = session.execute(_TILE_NODES, {"level": level, "start": start, "end": end}).all()
            out: list[bytes] = []
            for i, (idx, h) in enumerate(rows):
                if idx != start + i:
                    break  # a gap: stop, the caller reports the first missing index
                out.append(bytes.fromhex(h))
            return out

        return TiledSource(fetch)
