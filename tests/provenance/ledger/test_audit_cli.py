"""``assay audit ...``: verify exits 1 naming the index; offline verification of an export; proofs."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner
from ulid import ULID

from core.settings import Settings
from gateway.cli.audit import app
from gateway.state import AppState
from provenance.ledger import LedgerRecord


@pytest.fixture
def env(tmp_path, db_url, monkeypatch):  # noqa: ANN001
    monkeypatch.setenv("ASSAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASSAY_DATABASE_URL", db_url)
    st = AppState(Settings())
    recs = [
        LedgerRecord(
            record_id=str(ULID()),
            kind="generation",
            tenant="acme" if i % 2 else "globex",
            requester="u1",
            prompt=f"p{i}",
            decision="allow",
            created_at="2026-01-01T00:00:00Z",
            body={"i": i},
        )
        for i in range(30)
    ]
    st.ledger.append_many(recs)
    yield st, recs
    st.ledger.close()
    st.close()


runner = CliRunner()


def test_verify_ok_then_tampered_exits_1_naming_the_index(env):
    st, recs = env
    assert runner.invoke(app, ["checkpoint"]).exit_code == 0
    r = runner.invoke(app, ["verify", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["ok"] is True
    with st.db.engine.begin() as c:
        c.execute(text("UPDATE ledger_entry SET decision = 'block' WHERE idx = 17"))
    r = runner.invoke(app, ["verify"])
    assert r.exit_code == 1 and "first bad index: 17" in r.stdout


def test_export_verifies_offline_with_the_public_key_only(env, tmp_path):
    st, recs = env
    out = tmp_path / "acme.jsonl"
    assert runner.invoke(app, ["export", "--tenant", "acme", "-o", str(out)]).exit_code == 0
    vkey = (st.settings.keys_dir / "ledger-checkpoint.vkey").read_text().strip()
    r = runner.invoke(app, ["verify", "--offline", str(out), "--public-key", vkey])
    assert r.exit_code == 0, r.output
    lines = out.read_text().splitlines(keepends=True)
    e = json.loads(lines[3])
    lines[3] = json.dumps(e | {"prompt": "edited"}) + "\n"
    out.write_text("".join(lines))
    r = runner.invoke(app, ["verify", "--offline", str(out), "--public-key", vkey])
    assert r.exit_code == 1 and f"first bad index: {e['index']}" in r.stdout


def test_list_show_proof_and_bad_input(env):
    st, recs = env
    r = runner.invoke(app, ["list", "--tenant", "acme", "--limit", "5", "--json"])
    assert r.exit_code == 0 and len(json.loads(r.stdout)["data"]) == 5
    r = runner.invoke(app, ["show", recs[4].record_id, "--json"])
    assert json.loads(r.stdout)["prompt"] == "p4"
    r = runner.invoke(app, ["proof", recs[4].record_id, "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["index"] == 4
    r = runner.invoke(app, ["proof", "--from", "3", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["second"] == 30
    from core.errors import InvalidRequest, NotFound

    r = runner.invoke(app, ["list", "--decision", "NOT A TOKEN"])
    assert isinstance(r.exception, InvalidRequest)
    r = runner.invoke(app, ["show", "01ARZ3NDEKTSV4RRFFQ69G5FAV"])
    assert isinstance(r.exception, NotFound)


def test_retention_command_erases_by_policy_and_verify_stays_ok(env):
    st, recs = env  # created_at 2026-01-01: far past the default pack's 180 days by now
    r = runner.invoke(app, ["retention", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["erased_records"] == 30, r.output
    assert st.ledger.get(recs[0].record_id).prompt is None
    assert runner.invoke(app, ["verify"]).exit_code == 0
