"""`assay review list|show|approve|reject|assign|webhook` against the same database the gateway uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gateway.cli.main import app as cli
from gateway.pipeline import PipelineRequest
from tests.gateway.review.support import ledger_ok, review_records

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def settings(tmp_path: Path, db_url: str):  # noqa: ANN201 - a policy folder the CLI process can read too
    from core.settings import Settings

    folder = tmp_path / "policies"
    folder.mkdir()
    default = (REPO / "policies/default.yaml").read_text(encoding="utf-8")
    (folder / "default.yaml").write_text(default, encoding="utf-8")
    pack = yaml.safe_load(default)
    pack.update(
        id="held",
        checks={"prompt": [], "input_image": [], "output_image": ["image.faces"]},
        review={"four_eyes": ["real_person"], "sla_hours": 8},
    )
    (folder / "held.yaml").write_text(yaml.safe_dump(pack, allow_unicode=True), encoding="utf-8")
    return Settings(data_dir=tmp_path / "data", database_url=db_url, policy_dir=folder)


@pytest.fixture
def env(settings) -> dict[str, str]:  # noqa: ANN001
    return {
        "ASSAY_DATA_DIR": str(settings.data_dir),
        "ASSAY_DATABASE_URL": settings.db_url,
        "ASSAY_POLICY_DIR": str(settings.policy_dir),
    }


def run(env: dict[str, str], *args: str):  # noqa: ANN201
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_operators_review_from_the_shell(state, env) -> None:  # noqa: ANN001
    state.keys.ensure_tenant("acme", "held")
    requester = state.keys.authenticate(state.keys.create("acme", "requester")[0])
    k1, p1 = state.keys.create("acme", "reviewer", name="r1")
    k2, _ = state.keys.create("acme", "reviewer", name="r2")
    kx, px = state.keys.create("globex", "reviewer", name="rx")
    admin, _ = state.keys.create("ops", "admin")
    res = state.generate(PipelineRequest(prompt="a portrait", principal=requester, size="256x256", seed=1))
    rid = res.review_id
    assert res.status == "held" and rid

    r = run(env, "review", "list", "--key", k1, "--json")
    assert r.exit_code == 0, r.output
    page = json.loads(r.stdout)
    assert [d["id"] for d in page["data"]] == [rid] and page["counts"]["pending"] == 1
    r = run(env, "review", "show", rid, "--key", k1)
    assert r.exit_code == 0 and "image.faces: real_person" in r.stdout and "approvals 0/2" in r.stdout
    # another tenant's reviewer sees nothing and cannot act
    assert json.loads(run(env, "review", "list", "--key", kx, "--json").stdout)["total"] == 0
    r = run(env, "review", "approve", rid, "--key", kx, "--reason", "no_violation")
    assert r.exit_code == 2 and "no review" in r.output
    # bad reason codes are refused before anything happens
    assert run(env, "review", "reject", rid, "--key", k1, "--reason", "no_violation").exit_code == 2
    assert run(env, "review", "approve", rid, "--key", k1, "--reason", "bogus").exit_code == 2
    # four-eyes from the shell: r1, then r1 again (refused), then r2
    r = run(env, "review", "approve", rid, "--key", k1, "--reason", "no_violation")
    assert r.exit_code == 0 and "another reviewer must approve" in r.stdout, r.output
    assert run(env, "review", "approve", rid, "--key", k1, "--reason", "no_violation").exit_code == 2
    r = run(env, "review", "approve", rid, "--key", k2, "--reason", "false_positive", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["state"] == "approved", r.output
    [(out, data)] = state.review_queue.released_images(requester, rid)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert [x.decision for x in review_records(state, rid)] == [
        "queued",
        "claimed",
        "approved_first",
        "claimed",
        "approved",
    ]
    # admin: assign the globex reviewer to acme, set a webhook
    assert run(env, "review", "assign", px.id, "acme", "--key", k1).exit_code == 2  # not an admin
    assert run(env, "review", "assign", px.id, "acme", "--key", admin).exit_code == 0
    assert (
        json.loads(run(env, "review", "list", "--key", kx, "--state", "all", "--json").stdout)["total"] == 1
    )
    assert (
        run(
            env,
            "review",
            "webhook",
            "acme",
            "https://hooks.example.test/a",
            "--secret",
            "x" * 20,
            "--key",
            admin,
        ).exit_code
        == 0
    )
    assert (
        run(
            env, "review", "webhook", "nope", "https://h.test/", "--secret", "x" * 20, "--key", admin
        ).exit_code
        == 2
    )
    # the key and the webhook secret from the environment (Settings.reviewer_key, .webhook_secret)
    from_env = {**env, "ASSAY_REVIEWER_KEY": admin, "ASSAY_WEBHOOK_SECRET": "y" * 20}
    r = run(from_env, "review", "webhook", "acme", "https://hooks.example.test/b")
    assert r.exit_code == 0, r.output
    target = state.review_queue.webhooks.target("acme")
    assert target is not None and target.url.endswith("/b") and target.secret == "y" * 20
    r = run(env, "review", "list")
    assert r.exit_code == 2 and "pass --key or set ASSAY_REVIEWER_KEY" in r.output
    assert "reject: " in run(env, "review", "codes").stdout
    ledger_ok(state)
    r = run(env, "audit", "verify")
    assert r.exit_code == 0 and "ledger OK" in r.stdout, r.output
