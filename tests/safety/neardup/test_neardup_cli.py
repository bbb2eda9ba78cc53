"""``assay index ...``: build, query, list, add, remove, each change in the ledger; errors exit 2."""

import json
import sys

import pytest
from typer.testing import CliRunner

from gateway.cli.index import app
from safety.neardup.testing import crop, photo

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASSAY_DATABASE_URL", f"sqlite:///{tmp_path / 'assay.db'}")
    return tmp_path


def _ledger_records(tmp_path):
    from core.store import Database
    from provenance.ledger import Ledger

    db = Database(f"sqlite:///{tmp_path / 'assay.db'}")
    ledger = Ledger(db)
    try:
        out, i = [], 0
        while (rec := ledger.get_index(i)) is not None:
            out.append(rec)
            i += 1
        return out
    finally:
        ledger.close()
        db.dispose()


def _ok(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_build_query_list_add_remove_with_ledger(env, photo_dir, tmp_path):
    out = _ok(
        [
            "build",
            "--name",
            "train",
            str(photo_dir),
            "--licence",
            "CC-BY-4.0",
            "--owner",
            "skimage",
            "--workers",
            "1",
            "--json",
        ]
    )
    change = json.loads(out.stdout)["change"]
    assert change["count"] == 10 and json.loads(out.stdout)["skipped"][0]["id"] == "broken.png"

    query_img = tmp_path / "q.jpg"
    crop(photo("chelsea")).save(query_img, quality=60)
    res = json.loads(_ok(["query", "--name", "train", str(query_img), "--json"]).stdout)
    assert [m["source_id"] for m in res] == ["chelsea.png"] and res[0]["licence"] == "CC-BY-4.0"
    text = _ok(["query", "--name", "train", str(query_img)]).stdout
    assert text.startswith("chelsea.png\t") and "owner=skimage" in text

    listed = json.loads(_ok(["list", "--json"]).stdout)
    assert listed[0]["name"] == "train" and listed[0]["digest"] == change["digest"]

    extra = tmp_path / "extra"
    extra.mkdir()
    photo("moon").save(extra / "moon.png")
    assert (
        json.loads(_ok(["add", "--name", "train", str(extra), "--json", "--workers", "1"]).stdout)["change"][
            "count"
        ]
        == 11
    )
    _ok(["remove", "--name", "train", "chelsea.png", "--actor", "legal@studio"])
    assert "no near-duplicate" in _ok(["query", "--name", "train", str(query_img)]).stdout

    records = _ledger_records(env)
    assert [(r.kind, r.decision) for r in records] == [
        ("index", "build"),
        ("index", "add"),
        ("index", "remove"),
    ]
    assert records[0].body["digest"] == change["digest"] and records[0].body["source"] == str(photo_dir)
    assert records[2].body["removed_ids"] == ["chelsea.png"] and records[2].requester == "legal@studio"
    assert records[2].body["previous_digest"] == records[1].body["digest"]


def test_unsafe_skip_ledger_says_so(env, photo_dir):
    result = _ok(
        ["build", "--name", "x", str(photo_dir), "--workers", "1", "--unsafe-skip-ledger", "--quiet"]
    )
    assert "NOT recorded" in result.stderr
    assert not (env / "assay.db").exists()


def test_errors_name_the_problem(env, tmp_path):
    from safety.neardup.errors import IndexNotFound, SourceError

    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["build", "--name", "x", str(tmp_path / "empty")])
    assert isinstance(result.exception, SourceError) and "no images to index" in str(result.exception)
    result = runner.invoke(app, ["query", "--name", "nope", str(tmp_path / "q.png")])
    assert "q.png: cannot read" in str(result.exception)  # the image is read before the index is opened
    photo("coffee").save(tmp_path / "q.png")
    result = runner.invoke(app, ["query", "--name", "nope", str(tmp_path / "q.png")])
    assert isinstance(result.exception, IndexNotFound)
    result = runner.invoke(app, ["build", "--name", "x", str(tmp_path), "--codes", "ahash"])
    assert "unknown code type 'ahash'" in str(result.exception)


def test_the_cli_exit_path_prints_diagnostics_and_exits_2(env, tmp_path, monkeypatch, capsys):
    from gateway.cli.main import run_cli

    photo("coffee").save(tmp_path / "q.png")
    monkeypatch.setattr(
        sys, "argv", ["assay", "index", "query", "--name", "training", str(tmp_path / "q.png")]
    )
    with pytest.raises(SystemExit) as e:
        run_cli()
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "near-duplicate index 'training' not found" in err and "assay index build --name training" in err
