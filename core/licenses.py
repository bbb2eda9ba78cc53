"""The licence audit of every model / weights file Assay ships or installs with its dependencies.

Why it exists: a compliance gateway must be able to say under which terms each network it runs was
released; a copyleft (AGPL) or non-commercial model slipping in with a new dependency is a legal
risk for an operator of a network service. ``docs/model-licenses.yaml`` records each weights file
(its SPDX licence, whether its terms are permissive, public domain, copyleft or non-commercial, and
whether a shipped policy uses it); :func:`audit` finds every weights file in the repository's
packages and inside the installed dependency tree of ``pyproject.toml`` and reports those with no
record, stale records, and copyleft / non-commercial files a default policy would load.

Imports: the standard library, pydantic and yaml only (the ground floor imports no project package).
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

__all__ = ["LicenceAudit", "ModelLicence", "audit", "installed_weight_files", "repo_weight_files"]

#: file endings of model weights and vocabularies
WEIGHT_SUFFIXES = (
    ".onnx",
    ".safetensors",
    ".dat",
    ".npz",
    ".pt",
    ".pth",
    ".bin",
    ".ckpt",
    ".gguf",
    ".h5",
    ".pb",
    ".tflite",
    ".model",
)
#: smaller files are fixtures or tables, not networks
MIN_BYTES = 256 * 1024
_PACKAGES = ("core", "gateway", "safety", "provenance", "models")
#: extras whose models Assay can load when an operator opts in
_OPT_IN_EXTRAS = ("nudenet",)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class ModelLicence(BaseModel):
    """One record of docs/model-licenses.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: ``repo:<path>`` or ``<distribution>:<path inside site-packages>``
    file: str
    licence: str
    terms: Literal["public-domain", "permissive", "copyleft", "non-commercial"]
    use: Literal["default", "opt-in", "unused", "training"]
    source: str


class LicenceAudit(BaseModel):
    model_config = ConfigDict(frozen=True)

    found: list[str]
    #: weights files with no record
    unrecorded: list[str]
    #: repository records whose file is gone
    stale: list[str]
    #: copyleft or non-commercial files that a shipped policy uses by default
    restricted_default: list[str]


def repo_weight_files(root: Path) -> list[str]:
    """``repo:<path>`` of every weights file in the project's packages."""
    out = []
    for pkg in _PACKAGES:
        for p in sorted((root / pkg).rglob("*")):
            if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES) and p.stat().st_size >= MIN_BYTES:
                out.append(f"repo:{p.relative_to(root).as_posix()}")
    return out


def _requirement_name(req: str) -> str | None:
    m = _NAME.match(req)
    return m.group(1).lower().replace("_", "-") if m else None


def installed_weight_files(pyproject: Path) -> list[str]:
    """``<distribution>:<path>`` of weights files in the installed dependency tree (tests excluded)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    roots = list(project.get("dependencies", []))
    for extra in _OPT_IN_EXTRAS:
        roots += project.get("optional-dependencies", {}).get(extra, [])
    seen: set[str] = set()
    out: list[str] = []
    todo = [n for n in (_requirement_name(r) for r in roots) if n]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        label = (dist.metadata["Name"] or name).lower().replace("_", "-")
        for f in dist.files or []:
            path = str(f)
            if not path.endswith(WEIGHT_SUFFIXES) or "/tests/" in f"/{path}" or "/test/" in f"/{path}":
                continue
            try:
                size = Path(str(f.locate())).stat().st_size
            except OSError:
                continue
            if size >= MIN_BYTES:
                out.append(f"{label}:{path}")
        for req in dist.requires or []:
            if "extra ==" not in req:
                n = _requirement_name(req)
                if n:
                    todo.append(n)
    return sorted(out)


def load_records(path: Path) -> list[ModelLicence]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [ModelLicence.model_validate(r) for r in data.get("files", [])]


def audit(root: Path) -> LicenceAudit:
    """Compare the weights files found under ``root`` and installed with ``docs/model-licenses.yaml``."""
    records = {r.file: r for r in load_records(root / "docs" / "model-licenses.yaml")}
    found = repo_weight_files(root) + installed_weight_files(root / "pyproject.toml")
    # scipy keeps tables (direction numbers) in .npz: data, not networks
    found = [f for f in found if not f.startswith("scipy:")]
    return LicenceAudit(
        found=found,
        unrecorded=[f for f in found if f not in records],
        stale=[f for f, r in records.items() if f.startswith("repo:") and not (root / f[5:]).is_file()],
        restricted_default=[
            f for f, r in records.items() if r.terms in ("copyleft", "non-commercial") and r.use == "default"
        ],
    )
