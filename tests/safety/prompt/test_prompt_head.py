"""The classifier head of prompt.semantic: its file's errors, its score scale, and how the check uses it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError
from safety.prompt.head import HEAD_CATEGORIES, HEAD_FILE, get_head, load_head, save_head
from safety.prompt.semantic import SemanticCheck, SemanticOptions
from safety.verdict import Category

CLASSES = ["benign", *HEAD_CATEGORIES]


def _write(path: Path, **fields) -> Path:
    base = {
        "classes": np.asarray(CLASSES),
        "weights": np.zeros((len(CLASSES), 512), np.float32),
        "bias": np.zeros(len(CLASSES), np.float32),
        "thresholds": np.asarray([0.6, 0.85]),
        "provenance": np.asarray(json.dumps({"trainer": "test"})),
    }
    base.update(fields)
    with path.open("wb") as f:
        np.savez(f, **{k: v for k, v in base.items() if v is not None})
    return path


def _head(tmp_path: Path, name: str, favour: str, p: float | None = None) -> Path:
    """A head that gives ``favour`` a probability near 1 (or ``p``) whatever the text (bias only)."""
    bias = np.zeros(len(CLASSES), np.float32)
    others = len(CLASSES) - 1
    bias[CLASSES.index(favour)] = 12.0 if p is None else float(np.log(p * others / (1.0 - p)))
    path = tmp_path / name
    save_head(
        path,
        classes=CLASSES,
        weights=np.zeros((len(CLASSES), 512), np.float32),
        bias=bias,
        review_at=0.6,
        block_at=0.85,
        provenance={"trainer": "test"},
    )
    return path


def test_builtin_head_loads_and_names_its_data() -> None:
    head = get_head(HEAD_FILE)
    assert head.classes == tuple(CLASSES) and head.dim == 512
    assert 0.0 < head.review_at <= head.block_at < 1.0
    sets = head.provenance["sets"]
    assert "zh_dev.jsonl" in sets and "eval.jsonl" in sets
    assert not any("heldout_test" in s for s in sets)  # the lead's test split is never trained on


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"bias": None}, "missing bias"),
        ({"classes": np.asarray(["sexual", "benign"])}, "must start with 'benign'"),
        (
            {"classes": np.asarray(["benign", "sexual", "spam", "hate", "a", "b", "c", "d"])},
            "unknown categories",
        ),
        ({"weights": np.zeros((3, 512), np.float32)}, "do not match 8 classes"),
        ({"bias": np.full(8, np.nan, np.float32)}, "NaN or infinity"),
        ({"thresholds": np.asarray([0.9, 0.5])}, "thresholds must be"),
        ({"thresholds": np.asarray([0.5])}, "thresholds must be"),
        ({"provenance": np.asarray("{not json")}, "provenance is not JSON"),
        ({"provenance": np.asarray("[1, 2]")}, "must be a JSON object"),
    ],
)
def test_bad_head_files_are_config_errors(tmp_path: Path, fields: dict, message: str) -> None:
    path = _write(tmp_path / "h.npz", **fields)
    with pytest.raises(ConfigError, match=message) as err:
        load_head(path)
    assert str(path) in str(err.value)


def test_missing_or_unreadable_head_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_head(tmp_path / "absent.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip archive")
    with pytest.raises(ConfigError, match="not a readable .npz"):
        load_head(junk)


def test_score_scale_and_probabilities(tmp_path: Path) -> None:
    head = load_head(_head(tmp_path, "s.npz", "violence"))
    got = head.score(np.asarray([0.0, 0.3, 0.6, 0.85, 1.0]))
    assert got == pytest.approx([0.0, 0.25, 0.5, 0.7, 1.0])
    # a category the policy reviews at 0.3 and blocks at 0.5 (minors) gets its own scale
    got = head.score(np.asarray([0.0, 0.3, 0.6, 0.85, 1.0]), 0.3, 0.5)
    assert got == pytest.approx([0.0, 0.15, 0.3, 0.5, 1.0])
    with pytest.raises(ConfigError, match="review 0.7, block 0.5"):
        head.score(0.5, 0.7, 0.5)
    p = head.probabilities(np.ones((2, 512), np.float32) / np.sqrt(512))
    assert p.shape == (2, 8) and np.allclose(p.sum(axis=1), 1.0)
    assert int(p[0].argmax()) == CLASSES.index("violence")
    with pytest.raises(ConfigError, match="512-d vectors"):
        head.probabilities(np.ones((1, 384), np.float32))


def test_head_adds_evidence_for_chinese_only(semantic: SemanticCheck, make_item, tmp_path: Path) -> None:
    opts = SemanticOptions.model_validate(
        {"multilingual": {"head_file": str(_head(tmp_path, "v.npz", "violence"))}}
    )
    v = next(
        v
        for v in semantic.run(make_item("公园里的一棵大树", options=opts))
        if v.category is Category.VIOLENCE
    )
    assert v.score >= 0.7 and v.evidence["view"] == "classifier"
    assert v.evidence["head"]["file"] == "v.npz" and v.evidence["head"]["probability"] > 0.99
    assert "classifier head reads it as violence" in v.reason and v.evidence["exemplar"]
    # an English prompt never reaches the USE path, so the head does not score it
    assert all(
        v.category is not Category.VIOLENCE for v in semantic.run(make_item("a tree in a park", options=opts))
    )


def test_minors_in_the_heads_hold_band_are_reviewed_not_blocked(
    semantic: SemanticCheck, make_item, tmp_path: Path
) -> None:
    """Shipped packs review minors at 0.3 and block at 0.5: a head probability between review_at
    (0.6) and block_at (0.85) must land in that review band, not on 0.5..0.7 (a block)."""
    path = _head(tmp_path, "m.npz", "minors", p=0.7)

    def minors(**ml) -> float:
        opts = SemanticOptions.model_validate({"multilingual": {"head_file": str(path), **ml}})
        return next(
            v.score
            for v in semantic.run(make_item("公园里的一棵大树", options=opts))
            if v.category is Category.MINORS
        )

    assert minors() == pytest.approx(0.3 + 0.2 * (0.7 - 0.6) / 0.25, abs=1e-3)
    assert minors(head_scale={}) == pytest.approx(0.5 + 0.2 * (0.7 - 0.6) / 0.25, abs=1e-3)  # the old scale
    with pytest.raises(ValueError, match="head_scale"):
        SemanticOptions.model_validate({"multilingual": {"head_scale": {"minors": [0.6, 0.4]}}})


def test_head_holds_an_exemplar_match_it_does_not_confirm(
    semantic: SemanticCheck, make_item, tmp_path: Path
) -> None:
    prompt = "她脱光了身上所有的衣物，躺在酒店的床上"
    plain = SemanticOptions.model_validate({"multilingual": {"head": False}})
    before = next(v for v in semantic.run(make_item(prompt, options=plain)) if v.category is Category.SEXUAL)
    assert before.score >= 0.7
    opts = SemanticOptions.model_validate(
        {"multilingual": {"head_file": str(_head(tmp_path, "b.npz", "benign"))}}
    )
    held = next(v for v in semantic.run(make_item(prompt, options=opts)) if v.category is Category.SEXUAL)
    assert (
        held.score == 0.55 and "held at review: the classifier head does not read it as sexual" in held.reason
    )
    assert held.evidence["head"]["benign_probability"] > 0.99

    def sexual(path: Path) -> float:
        opts = SemanticOptions.model_validate({"multilingual": {"head_file": str(path)}})
        return max(
            v.score for v in semantic.run(make_item(prompt, options=opts)) if v.category is Category.SEXUAL
        )

    # a head that reads another category, or this one below its block probability, holds it too ...
    assert sexual(_head(tmp_path, "v.npz", "violence")) == 0.55
    assert sexual(_head(tmp_path, "s7.npz", "sexual", p=0.7)) == 0.55
    # ... and one that reads it as sexual at its block probability lets the exemplar match block
    assert sexual(_head(tmp_path, "s.npz", "sexual")) >= 0.7
    no_cap = SemanticOptions.model_validate(
        {"multilingual": {"head_file": str(tmp_path / "b.npz"), "head_cap": False}}
    )
    assert (
        next(
            v for v in semantic.run(make_item(prompt, options=no_cap)) if v.category is Category.SEXUAL
        ).score
        >= 0.7
    )


def test_bad_head_file_option_is_a_config_error(semantic: SemanticCheck, make_item, tmp_path: Path) -> None:
    opts = SemanticOptions.model_validate({"multilingual": {"head_file": str(tmp_path / "missing.npz")}})
    with pytest.raises(ConfigError, match="classifier head file .*missing.npz: not found"):
        semantic.run(make_item("一张图片", options=opts))
