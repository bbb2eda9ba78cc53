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
import shutil  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from sqlalchemy import text  # noqa: E402

from core.store import Database  # noqa: E402
from gateway.store import migrate  # noqa: E402
from gateway.store.migrate import head_revisions  # noqa: E402

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


_DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


class _MigratedSchemas:
    """PostgreSQL schemas migrated once and handed to one test at a time, emptied in between.

    A fresh schema costs ~1.3 s of DDL on PostgreSQL (every migration, every index): a few hundred
    tests paid that. A returned schema is emptied with one TRUNCATE (identities restarted) and goes
    back to the pool only if its tables are still exactly the migrated ones at head; otherwise (a
    test changed the schema, or a connection it leaked holds a lock) it is left out and dropped with
    the session's database.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = Database(url)
        self.free: list[str] = []
        self.tables: frozenset[str] = frozenset()

    def _url(self, schema: str) -> str:
        return f"{self.url}?options=-csearch_path%3D{schema}"

    def take(self) -> str:
        if self.free:
            return self._url(self.free.pop())
        schema = f"m_{secrets.token_hex(6)}"
        with self.admin.engine.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        db = Database(self._url(schema))
        try:
            migrate(db)
        finally:
            db.dispose()
        self.tables = self._tables(schema)
        return self._url(schema)

    def _tables(self, schema: str) -> frozenset[str]:
        with self.admin.engine.begin() as c:
            q = "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"
            rows = c.execute(text(q), {"s": schema})
            return frozenset(r[0] for r in rows)

    def give_back(self, url: str) -> None:
        schema = url.rsplit("%3D", 1)[1]
        try:
            if self._tables(schema) != self.tables:
                return
            names = ", ".join(f'"{schema}"."{t}"' for t in sorted(self.tables - {"alembic_version"}))
            with self.admin.engine.begin() as c:
                c.execute(text("SET LOCAL lock_timeout = '5s'"))
                heads = {r[0] for r in c.execute(text(f'SELECT version_num FROM "{schema}".alembic_version'))}
                if heads != head_revisions():
                    return
                c.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        except Exception:  # noqa: BLE001 - a schema that cannot be emptied is simply not reused
            return
        self.free.append(schema)


@pytest.fixture(scope="session")
def pg_migrated_schemas(pg_session_url: str | None) -> Iterator[_MigratedSchemas | None]:
    if pg_session_url is None:
        yield None
        return
    pool = _MigratedSchemas(pg_session_url)
    yield pool
    pool.admin.dispose()


@pytest.fixture(scope="session")
def sqlite_migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once per session; each test starts from a copy of the file."""
    path = tmp_path_factory.mktemp("sqlite-template") / "assay.db"
    db = Database(f"sqlite:///{path}")
    migrate(db)
    db.dispose()  # the last connection closing checkpoints the WAL into the file
    return path


@pytest.fixture(params=_DATABASES)
def fresh_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database (no tables) on SQLite and on PostgreSQL, for tests of migration itself."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'assay.db'}"
    return request.getfixturevalue("pg_url")


def _migrated_url(request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    """A migrated, empty database of the kind ``request.param`` names, for as long as the fixture."""
    if request.param == "sqlite":
        path = folder / "assay.db"
        shutil.copyfile(request.getfixturevalue("sqlite_migrated_template"), path)
        yield f"sqlite:///{path}"
        return
    pool = request.getfixturevalue("pg_migrated_schemas")
    if pool is None:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is unreachable (ASSAY_REQUIRE_POSTGRES=1 makes this fail)")
    url = pool.take()
    try:
        yield url
    finally:
        pool.give_back(url)


@pytest.fixture(params=_DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on SQLite and on PostgreSQL, each database already migrated to head (as a
    gateway finds it after its first start) and empty."""
    yield from _migrated_url(request, tmp_path)


@pytest.fixture(scope="module", params=_DATABASES)
def module_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``db_url`` shared by the tests of one module: for modules whose tests only read what a costly
    fixture (generations through the pipeline) wrote once."""
    yield from _migrated_url(request, tmp_path_factory.mktemp("module-db"))


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory, module_db_url: str):  # noqa: ANN201
    """``settings`` on ``module_db_url`` with a data folder of the module's own."""
    from core.settings import Settings

    return Settings(
        data_dir=tmp_path_factory.mktemp("module-data") / "data",
        database_url=module_db_url,
        policy_dir=REPO / "policies",
        default_steps=2,
        backend_timeout_s=900,
    )


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
