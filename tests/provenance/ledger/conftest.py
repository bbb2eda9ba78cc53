"""Fixtures for the ledger tests: a fixed clock, a record factory, the RFC 6962 test vectors.

The ``database`` fixture (SQLite and PostgreSQL, migrated) comes from ``tests/conftest.py``.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest


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
            "body": {
                "verdicts": [{"check": "prompt.lexicon", "category": "sexual", "score": 0.01}],
                "outputs": [{"sha256": "cd" * 32, "watermark": "0x1a2b3c4d"}],
            },
        }
        fields.update(kw)
        return LedgerRecord(**fields)

    return make


# --- RFC 6962 test vectors (transparency-dev/merkle testdata, Apache-2.0), loaded by one helper --
# Shipped in tests/data/rfc6962 (a copy of ../shared/testdata/rfc6962), so a clean clone runs all
# 196 cases; ASSAY_RFC6962_VECTORS points elsewhere. Missing vectors are an error, not a skip.
VECTORS_DIR = Path(
    os.environ.get("ASSAY_RFC6962_VECTORS", Path(__file__).resolve().parents[2] / "data" / "rfc6962")
)


def _require_vectors() -> None:
    if not VECTORS_DIR.is_dir():
        raise FileNotFoundError(f"RFC 6962 vectors not found at {VECTORS_DIR} (set ASSAY_RFC6962_VECTORS)")


def load_vectors(kind: str) -> list[tuple[str, dict]]:
    """Every vector of one kind (``inclusion`` or ``consistency``) as (relative path, decoded case).

    Hashes are base64 in the files; they are decoded to bytes here (a ``null`` proof is empty).
    """
    folder = VECTORS_DIR / kind
    out = []
    for path in sorted(folder.rglob("*.json")):
        raw = json.loads(path.read_text())
        case = {k: raw[k] for k in raw if k not in ("proof", "desc", "wantErr")}
        for k in ("root", "root1", "root2", "leafHash"):
            if k in case:
                case[k] = base64.b64decode(case[k]) if case[k] is not None else b""
        case["proof"] = [base64.b64decode(p) for p in (raw.get("proof") or [])]
        case["want_err"] = bool(raw["wantErr"])
        case["desc"] = raw.get("desc", "")
        out.append((str(path.relative_to(VECTORS_DIR)), case))
    return out


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for kind in ("inclusion", "consistency"):
        name = f"{kind}_vector"
        if name in metafunc.fixturenames:
            _require_vectors()
            cases = load_vectors(kind)
            if not cases:
                raise FileNotFoundError(f"no {kind} vectors under {VECTORS_DIR}")
            metafunc.parametrize(name, [c for _, c in cases], ids=[p for p, _ in cases])


@pytest.fixture(scope="session")
def all_vectors() -> dict[str, list[dict]]:
    """All vectors by kind (for tests that look across them)."""
    _require_vectors()
    return {kind: [c for _, c in load_vectors(kind)] for kind in ("inclusion", "consistency")}


@pytest.fixture
def signer():
    from provenance.ledger.note import NoteSigner

    return NoteSigner.generate("test.example/assay-ledger/0001")


@pytest.fixture
def ledger(database, clock):  # noqa: ANN001
    from provenance.ledger import Ledger

    led = Ledger(database, clock=clock)
    yield led
    led.close()


@pytest.fixture
def checkpoints(ledger, signer, clock):  # noqa: ANN001
    from provenance.ledger.checkpoint import Checkpoints

    return Checkpoints(ledger, signer, clock=clock)


@pytest.fixture
def filled(ledger, checkpoints, make_record, clock):  # noqa: ANN001
    """A ledger of 300 records over two tenants (crossing a tile) with checkpoints at 150 and 300."""
    recs = []
    for i in range(300):
        clock.advance(seconds=1)
        recs.append(
            make_record(
                tenant="acme" if i % 3 else "globex",
                requester=f"user-{i % 7}",
                decision=["allow", "review", "block"][i % 3],
                categories=[["sexual"], [], ["real_person", "pii"]][i % 3],
                model_id=["assay-default", "sd-turbo"][i % 2],
            )
        )
        if i == 149:
            ledger.append_many(recs[:150])
            checkpoints.create()
    ledger.append_many(recs[150:])
    checkpoints.create()
    return recs


@pytest.fixture
def state(settings):  # noqa: ANN001
    """The gateway's state without a generation backend: the audit API never generates."""
    from gateway.state import AppState

    st = AppState(settings)
    yield st
    st.ledger.close()
    st.close()
