"""Secrets: API keys only as hashes and compared in constant time; keys and prompts never in logs;
private key files with loose permissions refused; every outbound call has a timeout."""

from __future__ import annotations

import ast
import logging
import os
from pathlib import Path

import pytest
from sqlalchemy import String, Text, inspect, select

from core.errors import BackendError, ConfigError

REPO = Path(__file__).resolve().parents[2]
PROMPT = "a quokka juggling seven teal lanterns on Mount Wellington"


def _secret(key: str) -> str:
    return key.split("_", 2)[2]


# --- API keys at rest ----------------------------------------------------------------------------
def test_no_table_and_no_file_holds_a_key_or_its_secret(client, lean_auth, requester_key, state) -> None:
    """After real traffic (a generation, a failure, a bad key), search every text column of every
    table and every file under the data dir for the key and its secret."""
    assert (
        client.post(
            "/v1/images/generations", headers=lean_auth, json={"prompt": "x", "size": "256x256"}
        ).status_code
        == 200
    )
    assert (
        client.post(
            "/v1/images/generations",
            headers={"Authorization": f"Bearer {requester_key}x"},
            json={"prompt": "x"},
        ).status_code
        == 401
    )
    needles = [requester_key, _secret(requester_key)]
    from gateway.store.schema import metadata

    with state.db.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        for table in metadata.sorted_tables:
            if table.name not in tables:
                continue
            cols = [c for c in table.columns if isinstance(c.type, (String, Text))]
            for row in conn.execute(select(*cols)) if cols else []:
                for value in row:
                    assert not any(n in str(value) for n in needles), f"{table.name} holds the API key"
    for path in state.settings.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(n.encode() in data for n in needles), f"{path} holds the API key"


def test_keys_are_compared_in_constant_time_even_for_unknown_ids(state, requester_key, monkeypatch) -> None:
    import gateway.auth as auth_mod
    from core.errors import AuthError

    calls: list[tuple[str, str]] = []
    real = auth_mod.hmac.compare_digest

    def spy(a, b):  # noqa: ANN001, ANN202
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth_mod.hmac, "compare_digest", spy)
    key_id = requester_key.split("_", 2)[1]
    assert state.keys.authenticate(requester_key).key_id == key_id
    wrong_secret = f"ask_{key_id}_{'A' * 43}"
    unknown_id = f"ask_{'0' * 26}_{_secret(requester_key)}"
    for bad in (wrong_secret, unknown_id):
        with pytest.raises(AuthError):
            state.keys.authenticate(bad)
    # every attempt, including the unknown id, went through one digest comparison of equal length
    assert len(calls) == 3 and all(len(a) == len(b) == 64 for a, b in calls)


# --- logs ---------------------------------------------------------------------------------------
class _Crashing:
    """A check that fails the way third-party code often does: echoing its input in the message."""

    name = "test.crashing"
    targets = frozenset({"prompt"})

    def run(self, item):  # noqa: ANN001, ANN201
        raise ValueError(f"cannot tokenize input {item.prompt!r}")


def _everything_logged(caplog) -> str:  # noqa: ANN001
    out = []
    for rec in caplog.records:
        out.append(rec.getMessage())
        if rec.exc_info:
            out.append(logging.Formatter().formatException(rec.exc_info))
        if rec.exc_text:
            out.append(rec.exc_text)
    return "\n".join(out)


def test_keys_and_prompts_never_reach_the_logs(
    client, lean_auth, requester_key, state, monkeypatch, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    # success
    r = client.post("/v1/images/generations", headers=lean_auth, json={"prompt": PROMPT, "size": "256x256"})
    assert r.status_code == 200
    # a wrong key, an unknown id
    client.post(
        "/v1/images/generations",
        headers={"Authorization": f"Bearer {requester_key[:-3]}abc"},
        json={"prompt": PROMPT},
    )
    # the backend fails (logged at warning as a 5xx)
    real = state.backend.generate

    def boom(_req):  # noqa: ANN001, ANN202
        raise BackendError("GPU fell over")

    monkeypatch.setattr(state.backend, "generate", boom)
    assert (
        client.post(
            "/v1/images/generations", headers=lean_auth, json={"prompt": PROMPT, "size": "256x256"}
        ).status_code
        == 502
    )
    monkeypatch.setattr(state.backend, "generate", real)
    # an unforeseen exception inside the pipeline (logged with its traceback)
    monkeypatch.setattr(state.release, "store", lambda *a, **k: 1 / 0)
    assert (
        client.post(
            "/v1/images/generations", headers=lean_auth, json={"prompt": PROMPT, "size": "256x256"}
        ).status_code
        == 503
    )
    logged = _everything_logged(caplog)
    assert logged, "nothing was logged: the capture is broken"
    for needle in (requester_key, _secret(requester_key), requester_key[:-3] + "abc", PROMPT, PROMPT[:24]):
        assert needle not in logged, f"{needle[:12]}... reached the logs"


def test_a_check_that_echoes_the_prompt_does_not_put_it_in_logs_or_a_digest_only_record(
    client, state, auth, caplog
) -> None:
    """Policy ``prompt_storage: digest``: the prompt may be neither logged nor kept in the record,
    even when a failing component quotes it in its error message (G2). The record still says what
    failed: the stage, the exception's class and its message with the prompt taken out."""
    from reliability_support import install_lean_policy, install_variant

    install_lean_policy(state, prompt_storage="digest")
    install_variant(
        state,
        "lean",
        "lean-crashing",
        checks={"prompt": [{"name": "test.crashing"}], "input_image": [], "output_image": []},
    )
    state.checks.add(_Crashing())
    caplog.set_level(logging.DEBUG)
    r = client.post("/v1/images/generations", headers=auth, json={"prompt": PROMPT, "size": "256x256"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "check_failed"
    rec = state.ledger.get(r.json()["assay"]["record_id"])
    assert rec.decision == "failed" and rec.prompt is None
    error = rec.body["error"]
    assert error["stage"] == "prompt_checks" and error["type"] == "ValueError"
    assert "test.crashing" in error["message"] and "cannot tokenize input '[prompt]'" in error["message"]
    logged = _everything_logged(caplog)
    assert "check_failed" in logged  # the failure is logged, just without the prompt
    for where, text in (
        ("logs", logged),
        ("the ledger record", rec.model_dump_json()),
        ("the response", r.text),
    ):
        for needle in (PROMPT, PROMPT[:24], PROMPT[-20:], PROMPT.upper()):
            assert needle not in text, f"the prompt reached {where}"


class _EchoingMark:
    """A mark that fails quoting a (case-changed, cut) part of the prompt it was given."""

    name = "test.echoing"

    def apply(self, artifact, ctx):  # noqa: ANN001, ANN201
        raise RuntimeError(f"glyph cache miss for {ctx.record_id}: {PROMPT.upper()[:30]}...")


def test_a_mark_or_an_unforeseen_error_that_echoes_the_prompt_is_logged_and_recorded_without_it(
    client, state, auth, caplog, monkeypatch
) -> None:
    from reliability_support import install_lean_policy, install_variant

    install_lean_policy(state, prompt_storage="digest")
    install_variant(state, "lean", "lean-echo", marks=[{"name": "test.echoing"}], unsafe_allow_unmarked=True)
    state.marks.add(_EchoingMark())
    caplog.set_level(logging.DEBUG)
    r = client.post("/v1/images/generations", headers=auth, json={"prompt": PROMPT, "size": "256x256"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "mark_failed"
    mark_rec = state.ledger.get(r.json()["assay"]["record_id"])
    assert (
        mark_rec.body["error"]["type"] == "RuntimeError" and "[prompt]" in mark_rec.body["error"]["message"]
    )

    def store(*_a, **_k):  # noqa: ANN202 - an unforeseen crash whose message quotes the prompt
        raise KeyError(f"no blob slot for {PROMPT}")

    state.keys.set_policy("acme", "lean")
    monkeypatch.setattr(state.release, "store", store)
    r = client.post("/v1/images/generations", headers=auth, json={"prompt": PROMPT, "size": "256x256"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "component_failure"
    crash_rec = state.ledger.get(r.json()["assay"]["record_id"])
    assert crash_rec.body["error"]["type"] == "KeyError"
    logged = _everything_logged(caplog)
    assert "KeyError" in logged and "in store" in logged  # type and the traceback's frames stay for operators
    for where, text in (
        ("logs", logged),
        ("the mark failure's record", mark_rec.model_dump_json()),
        ("the crash's record", crash_rec.model_dump_json()),
    ):
        for needle in (PROMPT, PROMPT[:24], PROMPT.upper()[:24]):
            assert needle not in text, f"the prompt reached {where}"


# --- private key files ----------------------------------------------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_signing_key_with_loose_permissions_is_refused_or_flagged(tmp_path, caplog) -> None:
    from core.settings import Settings
    from provenance.c2pa_sign.credentials import credentials_from_settings, load_credentials
    from provenance.testing import TestPki

    pair = TestPki(tmp_path / "pki").valid()
    assert os.stat(pair.key).st_mode & 0o777 == 0o600
    load_credentials(pair.chain, pair.key)
    for mode, what in ((0o644, "other users"), (0o604, "other users"), (0o660, "group")):
        os.chmod(pair.key, mode)
        with pytest.raises(ConfigError, match=what) as e:
            credentials_from_settings(
                Settings(data_dir=tmp_path / "d", signing_cert=pair.chain, signing_key=pair.key)
            )
        assert e.value.param == "ASSAY_SIGNING_KEY" and "chmod 600" in (e.value.hint or "")
    os.chmod(pair.key, 0o640)  # group-readable: allowed (fsGroup secrets) but flagged
    with caplog.at_level(logging.WARNING, logger="assay.signing"):
        load_credentials(pair.chain, pair.key)
    assert any("readable by its group" in r.getMessage() for r in caplog.records)
    os.chmod(pair.key, 0o400)
    link = tmp_path / "key-link.pem"  # a symlink (mode 0777 itself) to a private file is fine
    link.symlink_to(pair.key)
    load_credentials(pair.chain, link)


def test_generated_development_keys_are_private(state) -> None:
    from provenance.c2pa_sign.signer import process_signer

    process_signer(state.settings)
    keys = [p for p in state.settings.keys_dir.iterdir() if p.name.endswith((".key.pem", ".skey"))]
    assert keys
    for p in keys:
        assert os.stat(p).st_mode & 0o077 == 0, f"{p} is readable by others"
    assert os.stat(state.settings.keys_dir).st_mode & 0o077 == 0


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_every_secret_the_gateway_writes_is_private_even_under_an_open_umask(tmp_path, monkeypatch) -> None:
    """G4: checkpoint key, development CA and signer keys, signed-URL secret, watermark key: 0600 from
    creation on,
    whatever the umask. chmod is switched off: a file written first and chmod-ed after (readable
    by everyone in between under umask 0) shows up as 0666."""
    from core.settings import Settings
    from gateway.api.images import _url_secret
    from provenance.c2pa_sign.credentials import ensure_dev_credentials
    from provenance.ledger.checkpoint import load_signer
    from provenance.watermark.key import watermark_keys

    settings = Settings(data_dir=tmp_path / "d")

    class _State:  # what _url_secret reads of the app state
        def __init__(self) -> None:
            self.settings = settings

    monkeypatch.setattr(os, "chmod", lambda *a, **k: None)
    old = os.umask(0)
    try:
        load_signer(settings)
        ensure_dev_credentials(settings.keys_dir)
        _url_secret(_State())
        watermark_keys(settings)
    finally:
        os.umask(old)
    private = [
        p for p in settings.keys_dir.iterdir() if p.name.endswith((".key.pem", ".skey", "url-secret", ".key"))
    ]
    assert {p.name for p in private} >= {
        "ledger-checkpoint.skey",
        "dev-ca.key.pem",
        "dev-signer.key.pem",
        "url-secret",
        "watermark.key",
    }
    for p in private:
        assert os.stat(p).st_mode & 0o777 == 0o600, f"{p.name} is {os.stat(p).st_mode & 0o777:04o}"


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_a_checkpoint_key_with_loose_permissions_is_refused_or_flagged(tmp_path, caplog) -> None:
    from core.settings import Settings
    from provenance.ledger.checkpoint import SKEY_FILE, load_signer

    settings = Settings(data_dir=tmp_path / "d")
    signer = load_signer(settings)
    skey = settings.keys_dir / SKEY_FILE
    for mode in (0o644, 0o604, 0o620):
        os.chmod(skey, mode)
        with pytest.raises(ConfigError, match="ledger checkpoint key .* is accessible to") as e:
            load_signer(settings)
        assert "chmod 600" in (e.value.hint or "")
    os.chmod(skey, 0o640)
    with caplog.at_level(logging.WARNING, logger="assay.signing"):
        assert load_signer(settings).verifier == signer.verifier
    assert any(
        "ledger checkpoint key" in r.getMessage() and "readable by its group" in r.getMessage()
        for r in caplog.records
    )


# --- every outbound call has a timeout -------------------------------------------------------------
_OUTBOUND = {
    ("httpx", "Client"),
    ("httpx", "AsyncClient"),
    ("httpx", "get"),
    ("httpx", "post"),
    ("httpx", "put"),
    ("httpx", "delete"),
    ("httpx", "request"),
    ("httpx", "stream"),
    ("requests", "get"),
    ("requests", "post"),
    ("requests", "put"),
    ("requests", "request"),
    ("request", "urlopen"),
    ("urllib", "urlopen"),
    ("http.client", "HTTPConnection"),
    ("http.client", "HTTPSConnection"),
    ("socket", "create_connection"),
    ("smtplib", "SMTP"),
}


def _outbound_calls(tree: ast.AST):  # noqa: ANN202
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            base = node.func.value
            name = (
                base.id
                if isinstance(base, ast.Name)
                else base.attr
                if isinstance(base, ast.Attribute)
                else None
            )
            if name is not None and (name, node.func.attr) in _OUTBOUND:
                yield node, f"{name}.{node.func.attr}"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "urlopen":
            yield node, "urlopen"


def test_every_outbound_call_in_the_product_sets_a_timeout() -> None:
    """Remote backends, webhooks and anything added later: a call without a timeout can hang a
    worker forever on a peer that accepts the connection and never answers."""
    found, missing = [], []
    for pkg in ("gateway", "models", "provenance", "safety"):
        for path in sorted((REPO / pkg).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for call, what in _outbound_calls(tree):
                where = f"{path.relative_to(REPO)}:{call.lineno} {what}"
                found.append(where)
                kw = {k.arg: k.value for k in call.keywords}
                t = kw.get("timeout")
                if t is None or (isinstance(t, ast.Constant) and t.value is None):
                    missing.append(where)
    assert found, "the audit found no outbound call at all: its patterns are stale"
    assert missing == [], f"outbound calls without a timeout: {missing}"
