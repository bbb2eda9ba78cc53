"""The floors of docs/architecture.md, checked against every import in the packages.

Every ``import`` and ``from ... import`` counts, wherever it stands: at module level, inside a
function (a lazy import still couples the two modules) and under ``TYPE_CHECKING`` (a type is a
dependency too). The test fails on an arrow the floors table does not allow (an arrow that runs back
up, or sideways where no arrow is listed) and on any circle between modules, and it checks that the
table in docs/architecture.md names exactly the packages that exist.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "architecture.md"


def floors_from_doc() -> dict[str, set[str]]:
    """``package -> packages it may import``, from the ``floors`` block of docs/architecture.md."""
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"```floors\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no ```floors block"
    allowed: dict[str, set[str]] = {}
    for line in block.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, rest = line.partition(":")
        assert name.strip() not in allowed, f"{name} is listed twice in the floors block"
        allowed[name.strip()] = {p for p in rest.replace(",", " ").split() if p != "-"}
    return allowed


FLOORS = floors_from_doc()


def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for pkg in FLOORS:
        for f in sorted((REPO / pkg).rglob("*.py")):
            parts = list(f.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = f
    return mods


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The most specific project module that ``name`` (a dotted import target) lies in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """``(target module, line)`` for every import of a project module in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name)
                if target:
                    yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                full = f"{source}.{alias.name}"
                target = full if full in MODULES else _resolve(source)
                if target:
                    yield target, node.lineno


def _graph() -> dict[str, dict[str, int]]:
    edges: dict[str, dict[str, int]] = defaultdict(dict)
    for module, path in MODULES.items():
        for target, line in _imports(module, path):
            if target != module:
                edges[module].setdefault(target, line)
    return edges


GRAPH = _graph()


def test_the_floors_table_names_every_package() -> None:
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")}
    assert set(FLOORS) == packages, "docs/architecture.md's floors block must list exactly the packages"
    for pkg, deps in FLOORS.items():
        assert deps <= set(FLOORS), f"{pkg} may import unknown packages {deps - set(FLOORS)}"


def test_no_arrow_runs_against_the_floors() -> None:
    wrong = []
    for module, targets in sorted(GRAPH.items()):
        src = module.split(".")[0]
        for target, line in sorted(targets.items()):
            dst = target.split(".")[0]
            if dst != src and dst not in FLOORS[src]:
                wrong.append(f"{MODULES[module].relative_to(REPO)}:{line}: {module} imports {target}")
    assert not wrong, "imports the floors do not allow:\n" + "\n".join(wrong)


def test_the_allowed_arrows_have_no_circle_between_packages() -> None:
    seen: dict[str, int] = {}

    def visit(pkg: str, path: list[str]) -> None:
        if seen.get(pkg) == 1:
            pytest.fail("packages import each other in a circle: " + " -> ".join([*path, pkg]))
        if seen.get(pkg) == 2:
            return
        seen[pkg] = 1
        for dep in sorted(FLOORS[pkg]):
            visit(dep, [*path, pkg])
        seen[pkg] = 2

    for pkg in sorted(FLOORS):
        visit(pkg, [])


def _circles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(MODULES):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(GRAPH.get(root, {}))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(GRAPH.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_no_module_imports_itself_through_others() -> None:
    circles = _circles()
    assert not circles, "import circles (lazy and TYPE_CHECKING imports count):\n" + "\n".join(
        " <-> ".join(c) for c in circles
    )


def test_the_walk_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    """The walker itself: an import inside a function or under TYPE_CHECKING is an arrow."""
    src = tmp_path / "m.py"
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from core.errors import AssayError\n"
        "def f():\n    import core.settings\n    from core.store import locks\n"
    )
    targets = {t for t, _ in _imports("gateway.fake", src)}
    assert {"core.errors", "core.settings", "core.store.locks"} <= targets
