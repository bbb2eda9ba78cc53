"""Witnesses (C2SP tlog-witness, tlog-cosignature): the witness refuses what it must, the log
collects cosignatures, and a checkpoint counts as published only with k of n of them."""

from __future__ import annotations

import base64
import json
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from core.errors import ConfigError, Forbidden, InvalidRequest, NotFound
from provenance.ledger import Ledger
from provenance.ledger.checkpoint import Checkpoints, checkpoint_text
from provenance.ledger.note import NoteSigner, split_note
from provenance.ledger.witness import (
    Cosigner,
    CosignerKey,
    Response,
    Witness,
    WitnessCollector,
    WitnessConflict,
    WitnessEndpoint,
    WitnessUnprocessable,
    load_cosigner,
    parse_witnesses,
)


def test_cosignature_v1_signs_the_spec_message_with_a_type_4_key_id():
    c = Cosigner.generate("witness.example/w1")
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    line = c.cosign(text, 1679315147)
    name, b64 = line[2:].rstrip("\n").split(" ")
    assert line.startswith("\u2014 ") and name == "witness.example/w1"
    raw = base64.b64decode(b64)
    assert len(raw) == 4 + 8 + 64
    # key id = SHA-256(name || "\n" || 0x04 || key)[:4], computed here without the module
    import hashlib

    assert raw[:4] == hashlib.sha256(b"witness.example/w1\n\x04" + c.public.public_key).digest()[:4]
    assert struct.unpack(">Q", raw[4:12])[0] == 1679315147
    msg = b"cosignature/v1\ntime 1679315147\n" + text.encode()
    Ed25519PublicKey.from_public_bytes(c.public.public_key).verify(raw[12:], msg)  # raises if wrong
    assert c.public.verify(text, raw) == 1679315147
    # vkey and skey round trips
    assert CosignerKey.from_vkey(c.public.vkey()) == c.public
    assert Cosigner.from_skey(c.skey()).public == c.public
    with pytest.raises(ConfigError):
        CosignerKey.from_vkey(NoteSigner.generate("x").verifier.vkey())  # a type-1 note key


@pytest.fixture
def log_signer() -> NoteSigner:
    return NoteSigner.generate("log.example/assay-ledger/w")


@pytest.fixture
def log(database, clock, log_signer):  # noqa: ANN001
    led = Ledger(database, clock=clock)
    yield Checkpoints(led, log_signer, clock=clock)
    led.close()


def _body(old: int, proof: list[bytes], note: str) -> str:
    return "\n".join([f"old {old}"] + [base64.b64encode(p).decode() for p in proof]) + "\n\n" + note


def test_witness_cosigns_consistent_checkpoints_and_refuses_the_rest(log, log_signer, make_record, tmp_path):  # noqa: ANN001
    w = Witness(Cosigner.generate("w.example/1"), [log_signer.verifier], tmp_path / "state.json")
    led = log.ledger
    led.append_many([make_record() for _ in range(5)])
    cp5 = log.create()
    line = w.add_checkpoint(_body(0, [], cp5.note))
    assert w.cosigner.public.cosigned_at(cp5.note + line) is not None
    assert w.state()[log_signer.name]["size"] == 5

    # a stale old size: 409 naming the size it holds
    led.append_many([make_record() for _ in range(6)])
    cp11 = log.create()
    with pytest.raises(WitnessConflict) as conflict:
        w.add_checkpoint(_body(0, [], cp11.note))
    assert conflict.value.size == 5
    # the right proof: cosigned, state moves
    w.add_checkpoint(_body(5, led.consistency_proof(5, 11), cp11.note))
    assert w.state()[log_signer.name]["size"] == 11
    # a proof that does not lead from 11 to the new root: 422, state kept
    led.append_many([make_record() for _ in range(3)])
    cp14 = log.create()
    with pytest.raises(WitnessUnprocessable):
        w.add_checkpoint(_body(11, led.consistency_proof(10, 14)[:-1], cp14.note))
    assert w.state()[log_signer.name]["size"] == 11
    # a fork: the same key signs a tree of 14 that does not extend the cosigned 11
    forged_root = bytes(32)
    fork = log_signer.sign(checkpoint_text(log_signer.name, 14, forged_root))
    with pytest.raises(WitnessUnprocessable):
        w.add_checkpoint(_body(11, led.consistency_proof(11, 14), fork))
    # same size, other root: 422
    same = log_signer.sign(checkpoint_text(log_signer.name, 11, forged_root))
    with pytest.raises(WitnessUnprocessable):
        w.add_checkpoint(_body(11, [], same))
    # another key's signature only: 403; an unknown log: 404; old > size: 400
    impostor = NoteSigner.generate(log_signer.name)
    with pytest.raises(Forbidden):
        w.add_checkpoint(_body(11, [], impostor.sign(checkpoint_text(log_signer.name, 14, cp14.root))))
    stranger = NoteSigner.generate("other.example/log")
    with pytest.raises(NotFound):
        w.add_checkpoint(_body(0, [], stranger.sign(checkpoint_text(stranger.name, 1, cp14.root))))
    with pytest.raises(InvalidRequest):
        w.add_checkpoint(_body(15, [], cp14.note))
    with pytest.raises(InvalidRequest):
        w.add_checkpoint("old 011\n\n" + cp14.note)
    with pytest.raises(InvalidRequest):
        w.add_checkpoint(cp14.note)
    # and the honest next one still goes through
    w.add_checkpoint(_body(11, led.consistency_proof(11, 14), cp14.note))
    assert w.state()[log_signer.name]["size"] == 14


def test_witness_http_statuses(log, log_signer, make_record, tmp_path):  # noqa: ANN001
    from fastapi.testclient import TestClient

    from gateway.api.witness import witness_app

    w = Witness(Cosigner.generate("w.example/1"), [log_signer.verifier], tmp_path / "state.json")
    log.ledger.append_many([make_record() for _ in range(3)])
    cp = log.create()
    with TestClient(witness_app(w)) as c:
        ok = c.post("/add-checkpoint", content=_body(0, [], cp.note))
        assert ok.status_code == 200 and ok.text.startswith("\u2014 w.example/1 ")
        again = c.post("/add-checkpoint", content=_body(0, [], cp.note))
        assert again.status_code == 409
        assert again.headers["content-type"] == "text/x.tlog.size" and again.text == "3\n"
        assert c.post("/add-checkpoint", content="old 0\n").status_code == 400
        assert c.post("/add-checkpoint", content=b"\xff\xfe").status_code == 400


def test_witness_key_is_created_once_and_kept(tmp_path):  # noqa: ANN001
    a = load_cosigner(tmp_path / "w", "w.example/1")
    assert (tmp_path / "w" / "witness.skey").stat().st_mode & 0o077 == 0
    assert load_cosigner(tmp_path / "w", None).public == a.public
    with pytest.raises(ConfigError):
        load_cosigner(tmp_path / "w", "another/name")
    with pytest.raises(ConfigError):
        load_cosigner(tmp_path / "empty", None)


def _direct(witnesses: dict[str, Witness], down: set[str] = frozenset()):  # noqa: ANN202
    """A transport that hands each request to the witness at that URL (in-process)."""

    def post(url: str, body: str) -> Response:
        name = url.removeprefix("http://").removesuffix("/add-checkpoint")
        if name in down:
            raise ConnectionError(f"{name} is down")
        try:
            return Response(200, witnesses[name].add_checkpoint(body))
        except WitnessConflict as exc:
            return Response(409, f"{exc.size}\n")
        except Exception as exc:  # noqa: BLE001
            return Response(getattr(exc, "status", 500), str(exc))

    return post


def test_k_of_n_cosignatures_make_a_checkpoint_published(log, log_signer, make_record, tmp_path):  # noqa: ANN001
    ws = {
        f"w{i}": Witness(Cosigner.generate(f"w{i}.example"), [log_signer.verifier], tmp_path / f"w{i}.json")
        for i in range(3)
    }
    eps = [WitnessEndpoint(w.cosigner.public, f"http://{n}") for n, w in ws.items()]
    down: set[str] = {"w1", "w2"}
    col = WitnessCollector(log, eps, 2, _direct(ws, down))
    led = log.ledger
    led.append_many([make_record() for _ in range(4)])
    res = col.collect()
    assert res.cosigned_by == ["w0.example"] and not res.published
    assert set(res.refused) == {"w1.example", "w2.example"}
    assert col.published() is None  # 1 of the needed 2

    down.discard("w1")
    res = col.collect()  # the same checkpoint: only w1 is asked
    assert res.size == 4 and res.published and set(res.cosigned_by) == {"w0.example", "w1.example"}
    published = col.published()
    assert published is not None and published.size == 4
    # the stored note is still this log's checkpoint, now carrying both cosignatures
    text, sigs = split_note(published.note)
    assert [n for n, _ in sigs] == [log_signer.name, "w0.example", "w1.example"]

    # the log grows; w0 cosigns, w1 is down again: the newest *published* stays at size 4
    down.add("w1")
    led.append_many([make_record() for _ in range(7)])
    res = col.collect()
    assert res.size == 11 and res.cosigned_by == ["w0.example"] and not res.published
    assert col.published().size == 4
    # w1 comes back: the collector sends it a proof from 4 (the size w1 last cosigned) to 11
    down.discard("w1")
    res = col.collect()
    assert res.published and col.published().size == 11
    assert ws["w1"].state()[log_signer.name]["size"] == 11


def test_the_collector_recovers_the_witness_size_from_a_409(log, log_signer, make_record, tmp_path):  # noqa: ANN001
    w = Witness(Cosigner.generate("w.example"), [log_signer.verifier], tmp_path / "w.json")
    led = log.ledger
    led.append_many([make_record() for _ in range(3)])
    cp3 = log.create()
    w.add_checkpoint(_body(0, [], cp3.note))  # cosigned, but the log never stored the cosignature
    led.append_many([make_record() for _ in range(2)])
    col = WitnessCollector(log, [WitnessEndpoint(w.cosigner.public, "http://w")], 1, _direct({"w": w}))
    res = col.collect()
    assert res.published and res.size == 5


def test_witness_configuration_is_checked():
    c = Cosigner.generate("w.example")
    [ep] = parse_witnesses(f"{c.public.vkey()} https://w.example/")
    assert ep.url == "https://w.example" and ep.key == c.public
    for bad in ["nourl", f"{c.public.vkey()} ftp://x", "a+b+c http://x"]:
        with pytest.raises(ConfigError):
            parse_witnesses(bad)
    with pytest.raises(ConfigError):
        parse_witnesses(f"{c.public.vkey()} http://a,{c.public.vkey()} http://b")


def test_gateway_serves_only_published_checkpoints_with_a_live_witness(
    settings, tiny_backend, make_record, tmp_path
):  # noqa: ANN001
    """The whole path over HTTP: a witness server, the gateway asking it, /log/checkpoint."""
    from fastapi.testclient import TestClient

    from benchmarks.load import ThreadedServer
    from gateway.api.audit import checkpoints_for
    from gateway.api.tiles import collector_for
    from gateway.api.witness import witness_app
    from gateway.app import create_app
    from gateway.state import AppState

    first = AppState(settings, backend=tiny_backend)
    log_key = checkpoints_for(first).verifier
    first.close()
    wit = Witness(Cosigner.generate("w.example/live"), [log_key], tmp_path / "w.json")
    other = Cosigner.generate("w.example/absent")
    with ThreadedServer(witness_app(wit)) as srv:
        cfg = settings.model_copy(
            update={
                "ledger_witnesses": f"{wit.cosigner.public.vkey()} {srv.url}\n{other.public.vkey()} http://127.0.0.1:9",
                "ledger_witness_quorum": 1,
                "ledger_checkpoint_interval_s": 3600.0,
            }
        )
        state = AppState(cfg, backend=tiny_backend)
        try:
            with TestClient(create_app(state=state)) as client:
                col = collector_for(state)
                assert col.quorum == 1 and len(col.witnesses) == 2
                state.ledger.append_many([make_record() for _ in range(9)])
                assert client.get("/log/checkpoint").status_code == 404  # nothing cosigned yet
                res = col.collect()
                assert res.published and res.cosigned_by == ["w.example/live"]
                assert "w.example/absent" in res.refused
                r = client.get("/log/checkpoint")
                assert r.status_code == 200 and r.text.split("\n")[1] == "9"
                assert wit.cosigner.public.cosigned_at(r.text) is not None
        finally:
            state.close()


def test_assay_audit_witness_and_cosign_from_the_shell(tmp_path, db_url, monkeypatch):  # noqa: ANN001
    """`assay audit witness` (a real process) cosigns what `assay audit cosign` sends it."""
    import subprocess
    import sys
    import time

    import httpx
    from typer.testing import CliRunner

    from benchmarks.load import free_port
    from core.settings import Settings
    from gateway.cli.audit import app
    from gateway.state import AppState
    from provenance.ledger.checkpoint import load_verifier

    monkeypatch.setenv("ASSAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASSAY_DATABASE_URL", db_url)
    st = AppState(Settings())
    vkey = load_verifier(st.settings).vkey()
    st.close()
    port = free_port()
    code = "import sys; from gateway.cli.main import run_cli; sys.argv = ['assay'] + sys.argv[1:]; run_cli()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "audit", "witness", "--log-key", vkey, "--name", "w.example/cli"]
        + ["--state-dir", str(tmp_path / "w"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wkey = proc.stdout.readline().strip()
        assert CosignerKey.from_vkey(wkey).name == "w.example/cli"
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        monkeypatch.setenv("ASSAY_LEDGER_WITNESSES", f"{wkey} http://127.0.0.1:{port}")
        runner = CliRunner()
        res = runner.invoke(app, ["cosign", "--json"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.output)
        assert out["published"] and out["cosigned_by"] == ["w.example/cli"]
        # without witnesses configured, cosign says what to set
        monkeypatch.delenv("ASSAY_LEDGER_WITNESSES")
        assert runner.invoke(app, ["cosign"]).exit_code != 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
