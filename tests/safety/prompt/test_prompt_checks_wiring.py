"""The prompt checks in the registry, the policies and the CLI; the evaluation set's shape."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.errors import PolicyError
from gateway.policy import load_policy, parse_policy
from safety.prompt.context import builtin_context_files, load_context_file
from safety.prompt.exemplars import builtin_exemplar_files, load_exemplar_file
from safety.prompt.lexicon import LexiconOptions
from safety.registry import BUILTIN_CHECKS, CheckRegistry

REPO = Path(__file__).resolve().parents[3]
EVAL = REPO / "tests" / "data" / "prompts" / "eval.jsonl"
NAMES = ["prompt.lexicon", "prompt.semantic", "prompt.pii", "prompt.persons"]


def test_registered_with_options_models() -> None:
    for name in NAMES:
        assert name in BUILTIN_CHECKS
        assert BUILTIN_CHECKS[name].options_model().__name__.endswith("Options")


def test_registry_builds_once(tmp_path: Path) -> None:
    class S:
        data_dir = tmp_path

    reg = CheckRegistry(S())
    assert reg.get("prompt.pii") is reg.get("prompt.pii")
    assert reg.get("prompt.lexicon").name == "prompt.lexicon"


def test_default_policy_runs_the_prompt_checks() -> None:
    pol = load_policy(REPO / "policies" / "default.yaml")
    assert [s.name for s in pol.checks.prompt] == NAMES


def test_policy_validates_prompt_check_options() -> None:
    base = (REPO / "policies" / "default.yaml").read_text(encoding="utf-8")
    bad = base.replace("    - prompt.semantic\n", "    - {name: prompt.semantic, options: {flor: 0.3}}\n")
    with pytest.raises(PolicyError, match="flor"):
        parse_policy(bad, "bad.yaml")
    good = base.replace("    - prompt.lexicon\n", "    - {name: prompt.lexicon, options: {pinyin: false}}\n")
    step = parse_policy(good, "good.yaml").checks.prompt[0]
    assert step.options == {"pinyin": False}  # the policy's text, which its digest covers
    assert isinstance(step.parsed, LexiconOptions) and step.parsed.pinyin is False  # what the check gets


def _policy_without_semantic(tmp_path: Path) -> Path:
    text = (
        (REPO / "policies" / "default.yaml")
        .read_text(encoding="utf-8")
        .replace("    - prompt.semantic\n", "")
    )
    path = tmp_path / "default.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.cli.prompt import app

    monkeypatch.setenv("ASSAY_DATA_DIR", str(tmp_path / "data"))
    policy = _policy_without_semantic(tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["check", "a n.u.d.e photo", "--policy", str(policy)])
    assert res.exit_code == 1, res.output
    assert "decision: block" in res.output and "sexual" in res.output and "'n.u.d.e'" in res.output
    res = runner.invoke(app, ["check", "breast cancer awareness poster", "--policy", str(policy), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["decision"] == "allow" and data["verdicts"] == [] and data["policy"] == "default"
    res = runner.invoke(app, ["check", "Donald Trump waving", "--policy", str(policy), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["decision"] == "review"
    res = runner.invoke(app, ["check", "x" * 100_001, "--policy", str(policy)])
    assert res.exit_code != 0


def test_cli_is_registered() -> None:
    from gateway.cli.main import GROUPS

    assert ("gateway.cli.prompt", "app", "prompt") in GROUPS


# --- the evaluation set ------------------------------------------------------------------------------
def test_eval_set_shape() -> None:
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 400
    assert len({r["id"] for r in rows}) == len(rows)
    langs = Counter(r["lang"] for r in rows)
    assert langs["en"] >= 150 and langs["zh"] >= 150
    assert sum(r["near_miss"] for r in rows if r["label"] == "benign") >= 150
    cats = {(r["lang"], r["category"]) for r in rows if r["label"] == "risky"}
    for lang in ("en", "zh"):
        for cat in (
            "sexual",
            "minors",
            "violence",
            "self_harm",
            "hate",
            "extremism",
            "illegal",
            "real_person",
            "pii",
        ):
            assert (lang, cat) in cats
    evasions = {r["evasion"] for r in rows}
    assert {
        "spacing",
        "punctuation",
        "fullwidth",
        "homoglyph",
        "leet",
        "zero_width",
        "traditional",
        "pinyin",
        "homophone",
        "synonym",
    } <= evasions


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (EVAL.parent / name).read_text(encoding="utf-8").splitlines()]


def test_sets_do_not_overlap_exemplars_or_each_other() -> None:
    """Dev (eval, dev2, zh_dev, zh_context_dev) and held-out (test_a, test_b, zh_test) sets are
    disjoint, and none holds an exemplar (a semantic one or a benign-context one)."""
    from safety.prompt.normalize import get_normalizer

    norm = get_normalizer()
    exemplars = {norm.base_text(e.text) for f in builtin_exemplar_files() for e in load_exemplar_file(f)}
    exemplars |= {norm.base_text(c.text) for f in builtin_context_files() for c in load_context_file(f)}
    names = (
        "eval.jsonl",
        "dev2.jsonl",
        "test_a.jsonl",
        "test_b.jsonl",
        "zh_dev.jsonl",
        "zh_test.jsonl",
        "zh_context_dev.jsonl",
    )
    sets = {name: _rows(name) for name in names}
    assert [r["text"] for rows in sets.values() for r in rows if norm.base_text(r["text"]) in exemplars] == []
    seen: dict[str, str] = {}  # (evasion variants of one prompt share a base text within a set)
    for name, rows in sets.items():
        keys = {norm.base_text(r["text"]) for r in rows}
        both = sorted(k for k in keys if k in seen)
        assert both == [], f"{name} repeats prompts of other sets: {both[:5]}"
        seen.update(dict.fromkeys(keys, name))


def test_chinese_set_shape() -> None:
    """zh_dev + zh_test: >= 200 prompts, every evasion family and hard benign prompts in both halves."""
    dev, test = _rows("zh_dev.jsonl"), _rows("zh_test.jsonl")
    assert len(dev) + len(test) >= 200
    for rows in (dev, test):
        risky = [r for r in rows if r["label"] == "risky"]
        assert {r["evasion"] for r in risky} == {"paraphrase", "homophone", "variant", "pinyin"}
        assert len({r["category"] for r in risky}) == 7
        assert sum(r["near_miss"] for r in rows if r["label"] == "benign") >= 40


@pytest.mark.parametrize("name", ["test_a.jsonl", "test_b.jsonl"])
def test_heldout_set_shape(name: str) -> None:
    rows = _rows(name)
    assert len({r["id"] for r in rows}) == len(rows)
    for lang in ("en", "zh"):
        risky = [r for r in rows if r["lang"] == lang and r["label"] == "risky"]
        benign = [r for r in rows if r["lang"] == lang and r["label"] == "benign"]
        assert len(risky) >= 60 and len(benign) >= 45, (lang, len(risky), len(benign))
        assert {
            "sexual",
            "minors",
            "violence",
            "self_harm",
            "hate",
            "extremism",
            "illegal",
            "real_person",
            "pii",
        } <= {r["category"] for r in risky}
        assert {r["evasion"] for r in risky} >= {"none", "synonym", "spacing", "mixed_lang"}
    evasions = {r["evasion"] for r in rows}
    assert {"leet", "homoglyph", "fullwidth", "traditional", "pinyin", "homophone"} <= evasions


def test_public_surface_without_torch() -> None:
    import subprocess
    import sys

    import safety.prompt as pkg

    assert all(hasattr(pkg, name) for name in pkg.__all__)
    code = (
        "import sys, safety.prompt; assert 'torch' not in sys.modules, 'importing safety.prompt loaded torch'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_all_policies_run_the_prompt_checks() -> None:
    from gateway.policy import PolicySet

    for pol in PolicySet.from_dir(REPO / "policies").all():
        assert [s.name for s in pol.checks.prompt] == NAMES, pol.id
