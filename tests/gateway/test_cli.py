"""The `assay` CLI: generate, keys, tenants, policy check, db upgrade, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from gateway.cli.main import app

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, tiny_sd_folder: Path, db_url: str) -> dict[str, str]:
    return {
        "ASSAY_DATA_DIR": str(tmp_path / "data"),
        "ASSAY_DATABASE_URL": db_url,
        "ASSAY_MODEL": str(tiny_sd_folder),
        "ASSAY_DEFAULT_STEPS": "2",
    }


def run(env: dict[str, str], *args: str):  # noqa: ANN201
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False, standalone_mode=True)


def test_generate_writes_the_image_and_prints_the_record(env, tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    r = run(env, "generate", "a green square", "-o", str(out), "--size", "256x256", "--seed", "3", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert len(data["record_id"]) == 26 and data["files"] == [str(out)]
    assert Image.open(out).size == (256, 256)


def test_keys_create_list_revoke(env) -> None:
    r = run(env, "keys", "create", "--tenant", "bank", "--role", "auditor", "--json")
    assert r.exit_code == 0, r.output
    key = json.loads(r.stdout)
    assert key["key"].startswith("ask_") and key["role"] == "auditor"
    r = run(env, "keys", "list", "--json")
    assert [k["id"] for k in json.loads(r.stdout)] == [key["id"]]
    assert key["key"] not in r.stdout
    assert run(env, "keys", "revoke", key["id"]).exit_code == 0
    assert json.loads(run(env, "keys", "list", "--json").stdout) == []
    r = run(env, "keys", "create", "--tenant", "bank", "--role", "superuser")
    assert r.exit_code == 2


def test_tenant_policy_assignment(env) -> None:
    assert run(env, "tenants", "set-policy", "bank", "strict-enterprise").exit_code == 0
    r = run(env, "tenants", "list", "--json")
    assert {"id": "bank", "policy_id": "strict-enterprise"} in json.loads(r.stdout)
    assert run(env, "tenants", "set-policy", "bank", "no-such-policy").exit_code == 2


def test_policy_check(env, tmp_path: Path) -> None:
    shipped = [str(p) for p in sorted((REPO / "policies").glob("*.yaml"))]
    r = run(env, "policy", "check", *shipped)
    assert r.exit_code == 0 and r.stdout.count("ok ") == len(shipped)
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\nunsafe_allow_unmarked: true\nlimits:\n  colour: red\n")
    r = run(env, "policy", "check", str(bad))
    assert r.exit_code == 2 and "limits.colour" in r.output and str(bad) in r.output


def test_db_upgrade(env) -> None:
    r = run(env, "db", "upgrade")
    assert r.exit_code == 0 and "up to date" in r.stdout


def test_bad_output_suffix_is_usage_error(env, tmp_path: Path) -> None:
    r = run(env, "generate", "x", "-o", str(tmp_path / "x.gif"))
    assert r.exit_code == 2 and "must end in .png" in r.output
