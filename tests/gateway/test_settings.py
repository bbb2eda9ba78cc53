"""Settings as the one home of configuration: the production rules refuse unsafe values at start-up,
every ``ASSAY_*`` variable the code or the docs name is a field, and the README's table is the fields'."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.errors import ConfigError
from core.settings import (
    CHECKPOINT_KEY_FILE,
    DEV_SIGNING_CHAIN_FILE,
    WATERMARK_KEY_FILE,
    KeySetupSettings,
    Settings,
    env_name,
    settings_table,
)

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "gateway", "safety", "provenance", "models")
#: variables of the test and benchmark harness, not of the gateway (tests/conftest.py, benchmarks/)
HARNESS = {"ASSAY_REQUIRE_POSTGRES", "ASSAY_TEST_PG_URL", "ASSAY_BENCH_PG_URL"}
ASSAY_VAR = re.compile(r"\bASSAY_[A-Z0-9_]*[A-Z0-9]\b")
TABLE = re.compile(r"<!-- settings-table: start[^>]*-->\n(.*?)<!-- settings-table: end -->", re.S)


def _fields() -> set[str]:
    return {env_name(name, field) for name, field in Settings.model_fields.items()}


def _sources() -> list[Path]:
    return [p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))]


# --- the README table --------------------------------------------------------------------------------
def test_the_readme_table_is_generated_from_the_fields() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = TABLE.search(readme)
    assert found, "README.md has no <!-- settings-table: start/end --> section"
    assert found.group(1) == settings_table(), (
        "README.md's configuration table differs from core.settings.Settings: replace it with the "
        "output of `python -m core.settings`"
    )


def test_the_table_has_every_field_with_its_variable_and_default() -> None:
    rows = {}
    for line in settings_table().splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells
    assert set(rows) == _fields()
    assert rows["ASSAY_PORT"][1] == "`8000`" and rows["ASSAY_PUBLIC_VERIFY"][1] == "`false`"
    assert rows["ASSAY_REVIEW_LEASE_S"][1] == "`600`"  # a float default shown as the number it is
    assert rows["ASSAY_WATERMARK_KEY_FILE"][1] == f"`$ASSAY_DATA_DIR/keys/{WATERMARK_KEY_FILE}`"
    assert rows["PROMETHEUS_MULTIPROC_DIR"][1] == ""  # no default: an empty cell
    assert all(cells[2] for cells in rows.values())  # every field says what it is for


def test_a_field_without_a_description_cannot_reach_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    field = Settings.model_fields["host"]
    monkeypatch.setattr(field, "description", None)
    with pytest.raises(ConfigError, match="Settings.host has no description"):
        settings_table()


# --- every variable named anywhere is a field ------------------------------------------------------------
def test_every_assay_variable_in_the_docs_is_a_field() -> None:
    fields = _fields()
    for doc in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        unknown = set(ASSAY_VAR.findall(doc.read_text(encoding="utf-8"))) - fields - HARNESS
        assert not unknown, f"{doc.relative_to(REPO)} documents {sorted(unknown)}, which Settings lacks"


def test_every_assay_variable_in_the_code_is_a_field() -> None:
    """Strings and comments of the packages: an error's hint, a log line or a docstring naming a
    variable names one that exists (identifiers such as ASSAY_ASSERTION are not variables)."""
    fields = _fields()
    for path in _sources():
        source = path.read_text(encoding="utf-8")
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.STRING, tokenize.COMMENT):
                unknown = set(ASSAY_VAR.findall(tok.string)) - fields
                assert not unknown, f"{path.relative_to(REPO)}:{tok.start[0]} names {sorted(unknown)}"


def _env_reads(tree: ast.AST) -> list[tuple[int, ast.expr | None]]:
    """(line, key) of every read of the environment: os.environ.get/[]/setdefault, os.getenv, envvar=."""
    out: list[tuple[int, ast.expr | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = ast.unparse(f)
            if name in ("os.getenv", "os.environ.get", "getenv", "environ.get", "os.environ.setdefault"):
                out.append((node.lineno, node.args[0] if node.args else None))
            out.extend(
                (node.lineno, kw.value) for kw in node.keywords if kw.arg in ("envvar", "auto_envvar_prefix")
            )
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            if ast.unparse(node.value) in ("os.environ", "environ"):
                out.append((node.lineno, node.slice))
    return out


def test_no_module_but_settings_reads_an_assay_variable() -> None:
    """Outside core/settings.py the code reads the environment only for other programs' variables
    (HF_HUB_OFFLINE, ...), by literal name; it may set ASSAY_* for child processes (assay serve)."""
    for path in _sources():
        if path == REPO / "core" / "settings.py":
            continue
        for line, key in _env_reads(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(REPO)}:{line}"
            assert isinstance(key, ast.Constant) and isinstance(key.value, str), (
                f"{where} reads an environment variable by a computed name: make it a Settings field"
            )
            assert not key.value.startswith("ASSAY_"), (
                f"{where} reads {key.value}: use Settings.{key.value[6:].lower()}"
            )
            assert key.value != "PROMETHEUS_MULTIPROC_DIR", f"{where}: use Settings.metrics_multiproc_dir"


def test_the_environment_reaches_every_field(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSAY_PRELOAD", "false")
    monkeypatch.setenv("ASSAY_REVIEW_LEASE_S", "30")
    monkeypatch.setenv("ASSAY_REVIEWER_KEY", "ask_x")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    s = Settings()
    assert s.preload is False and s.review_lease_s == 30.0 and s.metrics_multiproc_dir == tmp_path
    assert s.reviewer_key is not None and s.reviewer_key.get_secret_value() == "ask_x"
    assert "ask_x" not in repr(s)  # secrets stay out of logs
    monkeypatch.setenv("ASSAY_REVIEW_LEASE_S", "0")
    with pytest.raises(ValueError, match="review_lease_s"):
        Settings()


# --- production rules at start-up ----------------------------------------------------------------
def _production_ready(tmp_path: Path, pki_pair: tuple[Path, Path] | None = None) -> dict[str, object]:
    data = tmp_path / "data"
    (data / "keys").mkdir(parents=True)
    (data / "keys" / CHECKPOINT_KEY_FILE).write_text("x\n")
    wm = tmp_path / "watermark.key"
    wm.write_text("k" * 64 + "\n")
    cert, key = pki_pair or (tmp_path / "operator-chain.pem", tmp_path / "operator.key.pem")
    return dict(
        env="production",
        data_dir=data,
        database_url="postgresql://assay@db/assay",
        signing_cert=cert,
        signing_key=key,
        watermark_key_file=wm,
    )


def test_production_names_every_variable_to_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_ENV", "production")
    monkeypatch.setenv("ASSAY_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(ConfigError) as e:
        Settings()
    want = [
        "ASSAY_DATABASE_URL",
        "ASSAY_SIGNING_CERT",
        "ASSAY_SIGNING_KEY",
        "ASSAY_WATERMARK_KEY_FILE",
        "ASSAY_DATA_DIR",
    ]
    assert e.value.details["variables"] == want
    for var in want:
        assert f"  - {var}: " in e.value.message
    assert "postgresql://" in e.value.message and "assay audit keygen" in e.value.message
    assert e.value.hint and e.value.exit_code == 2
    assert not (tmp_path / "data").exists()  # refused before anything was written


def test_production_starts_with_the_operators_settings(tmp_path: Path) -> None:
    ready = _production_ready(tmp_path)
    s = Settings(**ready)
    assert s.is_production and s.production_problems() == []


@pytest.mark.parametrize(
    ("change", "variable", "problem"),
    [
        ({"database_url": None}, "ASSAY_DATABASE_URL", "not set"),
        ({"signing_key": None}, "ASSAY_SIGNING_KEY", "not set"),
        ({"watermark_key_file": "missing.key"}, "ASSAY_WATERMARK_KEY_FILE", "no watermark key file"),
        ({"signing_cert": "keys/" + DEV_SIGNING_CHAIN_FILE}, "ASSAY_SIGNING_CERT", "development certificate"),
    ],
)
def test_production_refuses_each_unsafe_value(
    tmp_path: Path, change: dict, variable: str, problem: str
) -> None:
    kw = {**_production_ready(tmp_path), **change}
    for k, v in change.items():
        if isinstance(v, str) and k != "database_url":
            kw[k] = tmp_path / v
    with pytest.raises(ConfigError, match=problem) as e:
        Settings(**kw)
    assert e.value.details["variables"] == [variable] and e.value.param == variable


def test_the_checkpoint_key_is_required_in_production_but_keygen_may_create_it(tmp_path: Path) -> None:
    ready = _production_ready(tmp_path)
    (tmp_path / "data" / "keys" / CHECKPOINT_KEY_FILE).unlink()
    with pytest.raises(ConfigError, match="no ledger checkpoint key"):
        Settings(**ready)
    assert KeySetupSettings(**ready).is_production
    with pytest.raises(ConfigError, match="ASSAY_DATABASE_URL"):  # every other rule still holds
        KeySetupSettings(**{**ready, "database_url": None})


def test_development_needs_none_of_it(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "d")
    assert not s.is_production and s.production_problems() == []


def test_the_cli_refuses_to_start_in_production(tmp_path: Path) -> None:
    from gateway.cli.main import app

    env = {"ASSAY_ENV": "production", "ASSAY_DATA_DIR": str(tmp_path / "data")}
    r = CliRunner().invoke(app, ["tenants", "list"], env=env)
    assert r.exit_code == 2, r.output
    assert "ASSAY_ENV=production refuses these settings" in r.output and "ASSAY_SIGNING_CERT" in r.output


def test_keygen_creates_the_checkpoint_key_production_asks_for(tmp_path: Path) -> None:
    from gateway.cli.main import app

    ready = _production_ready(tmp_path)
    (tmp_path / "data" / "keys" / CHECKPOINT_KEY_FILE).unlink()
    env = {f"ASSAY_{k.upper()}": str(v) for k, v in ready.items()}
    r = CliRunner().invoke(app, ["audit", "keygen"], env=env)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "data" / "keys" / CHECKPOINT_KEY_FILE).is_file()
    Settings(**ready)  # and now production starts
