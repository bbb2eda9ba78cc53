"""The evidence documents cite only tests that exist: every ``tests/...py::name`` (and every
``::name`` continuing a reference to the same file) in docs/threat-model.md and
docs/compliance-matrix.md names a test function in that file; every cited file exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = ["docs/threat-model.md", "docs/compliance-matrix.md"]


def _references(text: str) -> list[tuple[str, list[str]]]:
    out = []
    for line in text.splitlines():
        # a cell may cite file::a, ::b — later "::name"s belong to the last file named before them
        last = None
        for token in re.finditer(r"(tests/[\w/]+\.py|benchmarks/[\w]+\.py)|::(\w+)", line):
            if token.group(1):
                last = token.group(1)
                out.append((last, []))
            elif last is not None:
                out[-1][1].append(token.group(2))
    return out


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


@pytest.mark.parametrize("doc", DOCS)
def test_every_cited_test_exists(doc: str) -> None:
    refs = _references((REPO / doc).read_text(encoding="utf-8"))
    assert len(refs) > 20, f"{doc} cites almost nothing: the reference pattern is stale"
    missing = []
    for file, names in refs:
        path = REPO / file
        if not path.is_file():
            missing.append(file)
            continue
        defined = _functions(path)
        missing += [f"{file}::{n}" for n in names if n not in defined]
    assert missing == [], f"{doc} cites what does not exist: {sorted(set(missing))}"
