"""Fixtures for the ledger tests: a ``database`` on SQLite and on PostgreSQL, and a fixed clock.

PostgreSQL runs in a throwaway database created for this test session at 127.0.0.1:5432 (user
postgres, trust auth); when the server is unreachable those cases are skipped, unless
``ASSAY_REQUIRE_POSTGRES=1`` makes that a failure. The lead's ``tests/conftest.py`` will provide
the shared fixture; this one keeps the ledger testable until then.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

import provenance.ledger.tables  # noqa: F401 - registers the tables
from gateway.store import Database

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PG_ADMIN_URL = os.environ.get("ASSAY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
LEDGER_TABLES = ("ledger_entry", "ledger_node", "ledger_checkpoint", "ledger_head")


@pytest.fixture(scope="session")
def _pg_database_url() -> Iterator[str | None]:
    admin = Database(PG_ADMIN_URL)
    try:
        admin.ping()
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        if os.environ.get("ASSAY_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but unreachable: {exc}")
        yield None
        return
    name = f"assay_ledger_test_{secrets.token_hex(4)}"
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def _pg_db(_pg_database_url: str | None) -> Iterator[Database | None]:
    if _pg_database_url is None:
        yield None
        return
    db = Database(_pg_database_url)
    SQLModel.metadata.create_all(db.engine)
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:  # noqa: ANN001
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
        SQLModel.metadata.create_all(db.engine)
        yield db
        db.dispose()
        return
    db = request.getfixturevalue("_pg_db")
    if db is None:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is unreachable (set ASSAY_REQUIRE_POSTGRES=1 to fail)")
    with db.engine.begin() as c:
        c.execute(text("TRUNCATE " + ", ".join(LEDGER_TABLES) + " RESTART IDENTITY"))
    yield db


class FixedClock:
    """A clock that moves only when told to (retention and checkpoint tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def make_record(clock: FixedClock):
    """Factory of valid generation records (new ULID each call); keyword arguments override fields."""
    from ulid import ULID

    from provenance.ledger import LedgerRecord, prompt_sha256

    def make(**kw) -> LedgerRecord:  # noqa: ANN003
        prompt = kw.pop("prompt", "a watercolour lighthouse at dusk")
        fields = {
            "record_id": str(ULID()),
            "kind": "generation",
            "tenant": "acme",
            "requester": "user-17",
            "prompt": prompt,
            "prompt_digest": prompt_sha256(prompt) if prompt is not None else None,
            "decision": "allow",
            "categories": [],
            "model_id": "assay-default",
            "policy_id": "default",
            "policy_digest": "sha256:" + "ab" * 32,
            "created_at": clock(),
            "body": {"verdicts": [{"check": "prompt.lexicon", "category": "sexual", "score": 0.01}],
                     "outputs": [{"sha256": "cd" * 32, "watermark": "0x1a2b3c4d"}]},
        }
        fields.update(kw)
        return LedgerRecord(**fields)

    return make
