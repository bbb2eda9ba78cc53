"""The ledger as C2SP tlog-tiles: paths, tile bytes against an independent tree, the HTTP face,
and an independent client (Go's golang.org/x/mod/sumdb/tlog) mirroring the log over HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from core.errors import NotFound
from provenance.ledger.merkle import leaf_hash, root_of
from provenance.ledger.tiles import LogTiles, TileRef, encode_index, parse_tile_path, split_bundle

GO_CLIENT = Path(__file__).parent / "tlogclient" / "main.go"
GOPATH = os.environ.get("ASSAY_GOPATH", "/usr/share/gocode")


# --- paths -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "000"), (7, "007"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067")],
)
def test_index_encoding_follows_the_spec(n, text):  # noqa: ANN001
    assert encode_index(n) == text
    assert parse_tile_path(f"0/{text}") == TileRef(0, n)


def test_tile_paths_round_trip():
    for ref in [TileRef(0, 5), TileRef(2, 1234067, 17), TileRef(None, 1000), TileRef(None, 3, 255)]:
        assert parse_tile_path(ref.path.removeprefix("tile/")) == ref
    assert TileRef(1, 1, 2).path == "tile/1/001.p/2"
    assert TileRef(None, 0, 88).path == "tile/entries/000.p/88"


@pytest.mark.parametrize(
    "bad",
    [
        "01/000",  # leading zero in the level
        "64/000",  # level beyond 63
        "0/00",  # not 3 digits
        "0/1000",
        "0/x000/001",  # leading x000
        "0/001/002",  # an inner element without x
        "0/000.p/0",
        "0/000.p/256",
        "0/000.p/07",
        "0/x001",
        "foo/000",
        "0",
        "entries/000.p/",
    ],
)
def test_malformed_tile_paths_are_refused(bad):  # noqa: ANN001
    with pytest.raises(NotFound):
        parse_tile_path(bad)


# --- tile bytes against an independent computation -------------------------------------------------
def _fill(ledger, make_record, n):  # noqa: ANN001, ANN202
    recs = [make_record(body={"i": i}) for i in range(n)]
    for i in range(0, n, 500):
        ledger.append_many(recs[i : i + 500])
    return recs


def test_tiles_and_bundles_hold_the_trees_hashes_and_leaves(ledger, make_record):  # noqa: ANN001
    _fill(ledger, make_record, 600)
    tiles = LogTiles(ledger)
    leaves = [ledger.leaf_text(i).encode() for i in range(600)]
    hashes = [leaf_hash(x) for x in leaves]
    # level 0: the leaf hashes; two full tiles and a partial one of width 88
    assert tiles.tile(TileRef(0, 0)) == b"".join(hashes[:256])
    assert tiles.tile(TileRef(0, 1)) == b"".join(hashes[256:512])
    assert tiles.tile(TileRef(0, 2, 88)) == b"".join(hashes[512:600])
    assert tiles.tile(TileRef(0, 2, 10)) == b"".join(hashes[512:522])  # any width below is immutable
    # level 1: MTH of each full level-0 tile; partial of width 2
    assert tiles.tile(TileRef(1, 0, 2)) == root_of(hashes[:256]) + root_of(hashes[256:512])
    # what the log has not reached is not served
    for ref in [TileRef(0, 2), TileRef(0, 2, 89), TileRef(1, 0, 3), TileRef(1, 0), TileRef(2, 0, 1)]:
        with pytest.raises(NotFound):
            tiles.tile(ref)
    # entry bundles: uint16-length-prefixed leaves that hash to the level-0 tile
    bundle = tiles.bundle(TileRef(None, 2, 88))
    assert split_bundle(bundle) == leaves[512:600]
    assert split_bundle(tiles.bundle(TileRef(None, 0))) == leaves[:256]
    with pytest.raises(NotFound):
        tiles.bundle(TileRef(None, 2))
    assert root_of(hashes) == ledger.head().root


# --- over HTTP ---------------------------------------------------------------------------------------
def _key(state, tenant, role):  # noqa: ANN001, ANN202
    key, _ = state.keys.create(tenant, role, name=f"{tenant} {role}")
    return key


def test_http_tiles_checkpoint_and_entry_access(client, state, make_record):  # noqa: ANN001
    _fill(state.ledger, make_record, 300)
    r = client.get("/log/checkpoint")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert "max-age=5" in r.headers["cache-control"]
    origin, size, root = r.text.split("\n")[:3]
    assert int(size) == 300 and base64.b64decode(root) == state.ledger.head().root

    t = client.get("/log/tile/0/001.p/44")
    assert t.status_code == 200 and len(t.content) == 44 * 32
    assert t.headers["content-type"] == "application/octet-stream"
    assert "immutable" in t.headers["cache-control"] and "public" in t.headers["cache-control"]
    assert client.get("/log/tile/0/001").status_code == 404  # not full yet
    assert client.get("/log/tile/0/01").status_code == 404

    # entry bundles carry tenant data: an admin key, not an auditor's, not none
    assert client.get("/log/tile/entries/000").status_code == 401
    auditor = _key(state, "acme", "auditor")
    denied = client.get("/log/tile/entries/000", headers={"Authorization": f"Bearer {auditor}"})
    assert denied.status_code == 403
    admin = _key(state, "ops", "admin")
    b = client.get(
        "/log/tile/entries/000",
        headers={"Authorization": f"Bearer {admin}", "Accept-Encoding": "gzip"},
    )
    assert b.status_code == 200 and b.headers["content-encoding"] == "gzip"
    assert "private" in b.headers["cache-control"]
    entries = split_bundle(b.content)  # the client already un-gzipped it
    assert len(entries) == 256
    assert hashlib.sha256(b"\x00" + entries[5]).digest() == t_leaf(client, 5)


def t_leaf(client, index: int) -> bytes:  # noqa: ANN001
    tile = client.get("/log/tile/0/000").content
    return tile[index * 32 : (index + 1) * 32]


# --- an independent client: Go's sumdb/tlog --------------------------------------------------------
@pytest.fixture(scope="session")
def go_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("Go is not installed (Debian: apt-get install golang-go golang-golang-x-mod-dev)")
    if not (Path(GOPATH) / "src/golang.org/x/mod/sumdb/tlog").is_dir():
        pytest.skip(f"golang.org/x/mod is not under {GOPATH} (Debian: golang-golang-x-mod-dev)")
    out = tmp_path_factory.mktemp("go") / "tlogclient"
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": GOPATH,
        "GOCACHE": str(out.parent / "cache"),
        "GOFLAGS": "",
    }
    subprocess.run([go, "build", "-o", str(out), str(GO_CLIENT)], check=True, env=env, timeout=300)
    return out


def _run_go(go_client: Path, url: str, vkey: str, admin: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(go_client), "-url", url, "-vkey", vkey, "-auth", admin, *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_go_tlog_client_mirrors_the_log_and_checks_consistency(
    go_client, live_server, state, make_record, tmp_path
):  # noqa: ANN001
    from gateway.api.audit import checkpoints_for

    cps = checkpoints_for(state)
    vkey = cps.verifier.vkey()
    admin = _key(state, "ops", "admin")
    url = f"{live_server.url}/log"

    _fill(state.ledger, make_record, 300)
    cps.create()
    old = tmp_path / "old.checkpoint"
    first = _run_go(go_client, url, vkey, admin, "-save", str(old))
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["size"] == 300 and summary["entries_checked"] == 300

    _fill(state.ledger, make_record, 420)  # 720: crosses a level-0 tile and grows level 1
    cps.create()
    second = _run_go(go_client, url, vkey, admin, "-old", str(old))
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert summary["size"] == 720 and summary["consistent_from"] == 300
    assert summary["entries_checked"] == 720

    # a key that is not the log's: the checkpoint is refused
    from provenance.ledger.note import NoteSigner

    other = NoteSigner.generate(cps.signer.name).verifier.vkey()
    bad_key = _run_go(go_client, url, other, admin)
    assert bad_key.returncode == 1 and "signature" in bad_key.stderr

    # an edited record body: the entry no longer hashes to its leaf
    from sqlalchemy import text

    with state.db.session() as s:
        s.execute(text("UPDATE ledger_entry SET body = :b WHERE idx = 400"), {"b": '{"i":"forged"}'})
    tampered = _run_go(go_client, url, vkey, admin)
    assert tampered.returncode == 1 and "entry 400" in tampered.stderr

    # an edited leaf hash: the tiles no longer lead to the signed root
    with state.db.session() as s:
        s.execute(text("UPDATE ledger_entry SET leaf_hash = :h WHERE idx = 10"), {"h": "00" * 32})
    rewritten = _run_go(go_client, url, vkey, admin)
    assert rewritten.returncode == 1, rewritten.stdout
