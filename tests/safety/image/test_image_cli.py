"""``assay image check`` and ``assay likeness ...`` through the CLI's one exit path."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def assay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # noqa: ANN201
    """Run ``assay ARGS...`` in-process; returns (exit code, stdout, stderr)."""
    from gateway.cli.main import run_cli

    monkeypatch.setenv("ASSAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASSAY_POLICY_DIR", str(REPO / "policies"))

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["assay", *args])
        with pytest.raises(SystemExit) as done:
            run_cli()
            sys.exit(0)
        out = capsys.readouterr()
        return int(done.value.code or 0), out.out, out.err

    return run


def test_check_likeness_add_list_remove(assay, tmp_path: Path, photo) -> None:
    portrait, copy = tmp_path / "collins.png", tmp_path / "copy.jpg"
    photo("astronaut").save(portrait)
    photo("astronaut").resize((320, 320), Image.LANCZOS).save(copy, quality=65)

    code, out, err = assay("image", "check", str(copy))
    assert code == 0, err
    assert "image.faces: faces: 1 at (" in out and "image.sexual: nothing found" in out
    assert "decision: review" in out and "real_person" in out

    code, out, err = assay("likeness", "add", "--tenant", "local", "--name", "Eileen Collins", str(portrait))
    assert code == 0, err
    entry_id = out.split()[1]
    code, out, _ = assay("likeness", "list", "--tenant", "local")
    assert entry_id in out and "Eileen Collins" in out
    assert assay("likeness", "list", "--tenant", "other")[1].strip() == "(no entries)"

    code, out, _ = assay("image", "check", str(copy), "--as-input")
    assert code == 1  # likeness blocks
    assert "likeness: 'Eileen Collins' at distance" in out and "checked as input_image[0]" in out
    assert "decision: block" in out

    code, out, err = assay("likeness", "remove", "--tenant", "local", entry_id)
    assert code == 0 and "removed 1 entry" in out, err
    assert assay("image", "check", str(copy))[0] == 0
    code, _, err = assay("likeness", "remove", "--tenant", "local", "--name", "Eileen Collins")
    assert code == 2 and "no likeness" in err


def test_check_json_and_policy_file(assay, tmp_path: Path, photo) -> None:
    coffee, portrait = tmp_path / "coffee.webp", tmp_path / "hopper.jpg"
    photo("coffee").save(coffee)
    photo("hopper").save(portrait)
    code, out, err = assay("image", "check", str(coffee), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["decision"] == "allow" and report["verdicts"] == [] and report["policy"] == "default"
    assert report["checks"] == ["image.sexual", "image.minors", "image.faces", "image.likeness"]
    code, out, _ = assay(
        "image",
        "check",
        str(portrait),
        "--json",
        "--policy",
        str(REPO / "policies" / "strict-enterprise.yaml"),
    )
    assert code == 1 and json.loads(out)["decision"] == "block"


@pytest.mark.parametrize(
    "content,words",
    [
        (b"just some text pretending to be a picture\n" * 10, "not an image"),
        (None, "no such file"),
    ],
)
def test_bad_files_are_clear_errors(assay, tmp_path: Path, content: bytes | None, words: str) -> None:
    path = tmp_path / "fake.png"
    if content is not None:
        path.write_bytes(content)
    code, _, err = assay("image", "check", str(path))
    assert code == 2 and err.startswith("error: ") and words in err


def test_enrolment_refuses_a_photo_without_a_face(assay, tmp_path: Path, photo) -> None:
    cat = tmp_path / "chelsea.png"
    photo("chelsea").save(cat)
    code, _, err = assay("likeness", "add", "--tenant", "local", "--name", "Chelsea", str(cat))
    assert code == 2 and "no clear face" in err
