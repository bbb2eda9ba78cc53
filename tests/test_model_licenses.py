"""Licence audit: every weights file shipped or installed has a recorded licence, none restricted."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.licenses import ModelLicence, audit, load_records

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def result():  # noqa: ANN201 - a LicenceAudit
    return audit(ROOT)


def test_every_weights_file_has_a_recorded_licence(result) -> None:  # noqa: ANN001
    assert result.found, "the audit found no weights file at all: its search is broken"
    assert any(f.startswith("repo:") for f in result.found) and any(
        not f.startswith("repo:") for f in result.found
    )
    assert result.unrecorded == [], (
        "record these in docs/model-licenses.yaml (licence, terms, use, source), then regenerate "
        "docs/licenses.md with `assay licenses --markdown`"
    )
    assert result.stale == []


def test_no_copyleft_or_non_commercial_model_is_used_by_default(result) -> None:  # noqa: ANN001
    assert result.restricted_default == []
    records = {r.file: r for r in load_records(ROOT / "docs" / "model-licenses.yaml")}
    assert records["nudenet:nudenet/320n.onnx"].use == "opt-in"  # AGPL-3.0 licence file
    for pack in (ROOT / "policies").glob("*.yaml"):
        assert "image.nsfw" not in pack.read_text(encoding="utf-8"), pack.name  # NudeNet stays opt-in


def test_the_readable_table_lists_every_record() -> None:
    table = (ROOT / "docs" / "licenses.md").read_text(encoding="utf-8")
    for r in load_records(ROOT / "docs" / "model-licenses.yaml"):
        assert f"`{r.file.split(':', 1)[1]}`" in table and r.licence in table, r.file


def test_records_are_validated() -> None:
    with pytest.raises(ValueError):
        ModelLicence.model_validate(
            {"file": "x:y", "licence": "MIT", "terms": "free", "use": "default", "source": "s"}
        )
