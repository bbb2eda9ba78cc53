"""The store on SQLite and PostgreSQL: migrations, keys, tenants; blob store atomicity."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from core.errors import AuthError, ConfigError, NotFound
from gateway.auth import KeyStore, Role
from gateway.blobs import FileBlobStore, blob_key
from gateway.store import migrate


def test_migrations_create_every_table(fresh_db_url: str) -> None:
    from core.store import Database
    from gateway.store.schema import metadata

    database = Database(fresh_db_url)
    try:
        assert inspect(database.engine).get_table_names() == []
        migrate(database)
        tables = set(inspect(database.engine).get_table_names())
        assert set(metadata.tables) <= tables
        migrate(database)  # idempotent
    finally:
        database.dispose()


def test_keys_are_hashed_bound_and_revocable(database) -> None:
    ks = KeyStore(database)
    key, row = ks.create("acme", Role.REQUESTER, name="ci")
    assert key.startswith("ask_") and row.tenant == "acme"
    p = ks.authenticate(key)
    assert (p.tenant, p.role) == ("acme", Role.REQUESTER)
    from gateway.auth.tables import ApiKey

    with database.session() as s:
        stored = s.get(ApiKey, row.id)
        assert key.split("_", 2)[2] not in stored.secret_hash  # only the hash is stored
    with pytest.raises(AuthError):
        ks.authenticate(key[:-2] + "xx")
    with pytest.raises(AuthError):
        ks.authenticate("sk-not-ours")
    ks.revoke(row.id)
    with pytest.raises(AuthError):
        ks.authenticate(key)
    with pytest.raises(NotFound):
        ks.revoke("01J0000000000000000000000Z")
    assert ks.tenant("acme").policy_id == "default"


def test_bad_database_url_is_a_config_error() -> None:
    from core.store import Database

    with pytest.raises(ConfigError):
        Database("mysql://x@y/z")
    with pytest.raises(ConfigError):
        Database("not a url at all")


def test_blob_store_is_content_addressed(tmp_path) -> None:
    bs = FileBlobStore(tmp_path / "b")
    k = bs.put(b"hello")
    assert k == blob_key(b"hello") and bs.get(k) == b"hello" and bs.put(b"hello") == k
    assert not list((tmp_path / "b").rglob(".tmp-*"))
    with pytest.raises(NotFound):
        bs.get("sha256/" + "0" * 64)
    with pytest.raises(NotFound):
        bs.get("../../etc/passwd")
