"""Backup and restore of the ledger as docs/deployment.md says: pg_dump, pg_restore, `assay audit verify`.

A ledger with records and checkpoints on PostgreSQL is dumped with ``pg_dump -Fc`` and restored
into a new database; the operator's commands then run against the restore: ``assay audit
verify`` passes, and ``assay audit proof --from N`` gives a consistency proof from the checkpoint
an auditor kept before the backup to the restored head, which verifies against the auditor's
root. A record changed after the restore is caught by ``assay audit verify`` (exit 1, naming it).
Skipped only where the PostgreSQL client tools are missing (the reason is printed).
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text
from typer.testing import CliRunner
from ulid import ULID

from core.store import Database
from gateway.cli.main import app as cli
from gateway.store import migrate

pytestmark = [pytest.mark.postgres]


def _record(i: int):  # noqa: ANN202
    from provenance.ledger import LedgerRecord, prompt_sha256

    prompt = f"a red circle number {i}"
    return LedgerRecord(
        record_id=str(ULID()),
        kind="generation",
        tenant="acme",
        requester=f"user-{i}",
        prompt=prompt,
        prompt_digest=prompt_sha256(prompt),
        decision="allow",
        model_id="assay-default",
        policy_id="default",
        policy_digest="sha256:" + "ab" * 32,
        created_at=datetime.now(UTC),
        body={"outputs": [{"sha256": f"{i:064x}"}]},
    )


def _cli(env: dict[str, str], *args: str) -> tuple[int, dict]:
    res = CliRunner().invoke(cli, [*args, "--json"], env=env)
    out = res.stdout
    return res.exit_code, (json.loads(out[out.index("{") :]) if "{" in out else {"output": res.output})


def test_a_restored_ledger_verifies_and_extends_the_published_checkpoint(pg_url: str, tmp_path: Path) -> None:
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        print("\nskipping the backup test: pg_dump / pg_restore are not installed")
        pytest.skip("pg_dump / pg_restore are not installed")
    from core.settings import Settings
    from provenance.ledger import Ledger
    from provenance.ledger.checkpoint import Checkpoints, load_signer
    from provenance.ledger.merkle import verify_consistency

    settings = Settings(data_dir=tmp_path / "data", database_url=pg_url)
    settings.ensure_dirs()
    db = Database(pg_url)
    migrate(db)
    ledger = Ledger(db)
    cps = Checkpoints(ledger, load_signer(settings))
    ledger.append_many([_record(i) for i in range(20)])
    published = cps.create()  # what an auditor fetched and kept
    ledger.append_many([_record(i) for i in range(20, 45)])
    cps.create()
    ledger.close()
    db.dispose()

    parts = urlsplit(pg_url)
    schema = parse_qs(parts.query)["options"][0].split("=", 1)[1]
    server = f"{parts.scheme}://{parts.netloc}"
    dump = tmp_path / "ledger.dump"
    subprocess.run(
        ["pg_dump", "-Fc", "-n", schema, "-f", str(dump), f"{server}{parts.path}"],
        check=True,
        capture_output=True,
        timeout=120,
    )

    restored_db = f"assay_restore_{secrets.token_hex(4)}"
    admin = Database(f"{server}{parts.path}")
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f'CREATE DATABASE "{restored_db}"'))
    try:
        subprocess.run(
            ["pg_restore", "-d", f"{server}/{restored_db}", str(dump)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        restored = f"{server}/{restored_db}?options=-csearch_path%3D{schema}"
        env = {"ASSAY_DATA_DIR": str(settings.data_dir), "ASSAY_DATABASE_URL": restored}
        code, report = _cli(env, "audit", "verify")
        assert code == 0 and report["ok"] is True and report["records"] == 45, report

        code, proof = _cli(env, "audit", "proof", "--from", str(published.size))
        assert code == 0 and proof["first"] == published.size and proof["second"] == 45, proof
        verify_consistency(
            published.size,
            45,
            [bytes.fromhex(h) for h in proof["proof"]],
            published.root,
            bytes.fromhex(proof["second_root"]),
        )

        rdb = Database(restored)
        try:
            with rdb.engine.begin() as c:
                c.execute(text("UPDATE ledger_entry SET decision = 'block' WHERE idx = 7"))
        finally:
            rdb.dispose()
        code, report = _cli(env, "audit", "verify")
        assert code == 1 and report["ok"] is False, report
        assert report["first_bad_index"] == 7, report
    finally:
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{restored_db}" WITH (FORCE)'))
        admin.dispose()
