"""Term, allow and rule files: the operator-editable data, parsed strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from safety.prompt.terms import (
    Severity,
    builtin_allow_files,
    builtin_rules_file,
    builtin_term_files,
    load_allow_file,
    load_rules_file,
    load_term_file,
    parse_term_lines,
)


def test_parse_term_lines() -> None:
    terms = parse_term_lines(
        "# comment\nsexual\thigh\tporn*\n\nsexual\t\tmedium\t裸体\tpy\nctx.minor\tcontext\tchild\n", "x.tsv"
    )
    assert [(t.text, t.category, t.severity, t.prefix, t.pinyin) for t in terms] == [
        ("porn", "sexual", Severity.HIGH, True, False),
        ("裸体", "sexual", Severity.MEDIUM, False, True),
        ("child", "ctx.minor", Severity.CONTEXT, False, False),
    ]
    assert terms[0].source == "x.tsv:2"
    assert terms[2].is_context and not terms[0].is_context


@pytest.mark.parametrize(
    "line, message",
    [
        ("sexual\thigh", "expected"),
        ("nonsense\thigh\tword", "unknown category"),
        ("sexual\tterrible\tword", "unknown severity"),
        ("sexual\tcontext\tword", "context terms"),
        ("ctx.minor\thigh\tword", "context terms"),
        ("sexual\thigh\tword\tzz", "unknown flags"),
        ("sexual\thigh\t*", "empty term"),
    ],
)
def test_bad_term_lines_name_file_and_line(line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as exc:
        parse_term_lines("# header\n" + line, "ops.tsv")
    assert "ops.tsv:2" in exc.value.message


def test_builtin_files_load() -> None:
    terms = [t for f in builtin_term_files() for t in load_term_file(f)]
    assert len(terms) > 500
    cats = {t.category for t in terms}
    assert {"sexual", "minors", "violence", "self_harm", "hate", "extremism", "illegal", "ctx.minor"} <= cats
    assert any(t.pinyin for t in terms)
    allow = [a for f in builtin_allow_files() for a in load_allow_file(f)]
    assert any(a.text == "breast cancer" and a.prefix for a in allow)
    rules = load_rules_file(builtin_rules_file())
    assert any(r.id == "sexual-with-minor" and r.category.value == "minors" for r in rules)


def test_missing_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_term_file(tmp_path / "nope.tsv")
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - id: x\n    all: [sexual]\n    category: minors\n    severity: high\n")
    with pytest.raises(ConfigError, match="invalid rules"):
        load_rules_file(bad)
    bad.write_text("rules: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_rules_file(bad)
    latin1 = tmp_path / "latin1.tsv"
    latin1.write_bytes("sexual\thigh\tnu\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="cannot read") as exc:
        load_term_file(latin1)
    assert "UTF-8" in (exc.value.hint or "")
