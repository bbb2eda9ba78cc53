"""Shared fixtures: offline hub, a `database` on SQLite and PostgreSQL, a tiny diffusers model,
settings in a temporary data dir, and a gateway app with API keys.

PostgreSQL: 127.0.0.1:5432, user postgres, trust auth (override with ASSAY_TEST_PG_URL). Each test
gets its own schema in a database made for this test session. Where the server is unreachable
the PostgreSQL cases skip, unless ASSAY_REQUIRE_POSTGRES=1 (set by .ci/run) makes that a failure.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _k in [
    k
    for k in os.environ
    if k.startswith("ASSAY_") and k not in ("ASSAY_REQUIRE_POSTGRES", "ASSAY_TEST_PG_URL")
]:
    del os.environ[_k]  # tests never inherit a developer's gateway settings

import secrets  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from sqlalchemy import text  # noqa: E402

from core.store import Database  # noqa: E402
from gateway.store import migrate  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("ASSAY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_configure(config: pytest.Config) -> None:
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


# --- databases -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pg_session_url() -> Iterator[str | None]:
    """A throwaway PostgreSQL database for this test session (None when unreachable)."""
    admin = Database(PG_ADMIN_URL)
    try:
        admin.ping()
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        if os.environ.get("ASSAY_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"ASSAY_REQUIRE_POSTGRES=1 but PostgreSQL is unreachable at {PG_ADMIN_URL}: {exc}")
        yield None
        return
    name = f"assay_test_{secrets.token_hex(4)}"
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_session_url: str | None) -> Iterator[str]:
    """A URL whose connections see only a fresh schema of their own."""
    if pg_session_url is None:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is unreachable (ASSAY_REQUIRE_POSTGRES=1 makes this fail)")
    schema = f"t_{secrets.token_hex(6)}"
    admin = Database(pg_session_url)
    with admin.engine.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{pg_session_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.engine.begin() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'assay.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    """A migrated database (Alembic, as in production) on SQLite and on PostgreSQL."""
    db = Database(db_url)
    migrate(db)
    yield db
    db.dispose()


# --- models ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def tiny_sd_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Stable Diffusion pipeline built from config (random weights), saved once per session."""
    from models.testing import save_tiny_sd

    return save_tiny_sd(tmp_path_factory.mktemp("tiny-sd") / "tiny-sd")


@pytest.fixture(scope="session")
def tiny_backend(tiny_sd_folder: Path):  # noqa: ANN201
    from models.diffusers_backend import DiffusersBackend

    return DiffusersBackend(str(tiny_sd_folder), default_steps=2)


# --- gateway ---------------------------------------------------------------------------------
@pytest.fixture
def settings(tmp_path: Path, db_url: str):  # noqa: ANN201
    from core.settings import Settings

    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        policy_dir=REPO / "policies",
        default_steps=2,
        backend_timeout_s=900,
    )


@pytest.fixture
def state(settings, tiny_backend):  # noqa: ANN001, ANN201
    from gateway.state import AppState

    st = AppState(settings, backend=tiny_backend)
    yield st
    st.close()


@pytest.fixture
def app(state):  # noqa: ANN001, ANN201
    from gateway.app import create_app

    return create_app(state=state)


@pytest.fixture
def client(app):  # noqa: ANN001, ANN201
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def requester_key(state) -> str:  # noqa: ANN001
    key, _ = state.keys.create("acme", "requester", name="test requester")
    return key


@pytest.fixture
def auth(requester_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {requester_key}"}


# --- a real HTTP server on loopback ------------------------------------------------------------
@pytest.fixture
def live_server(app):  # noqa: ANN001, ANN201
    """The app under uvicorn in a thread on a free loopback port (``.url``); start-up must succeed."""
    from benchmarks.load import ThreadedServer

    with ThreadedServer(app, lifespan="on") as srv:
        yield srv
