"""Licence audit of installed distributions (core.dependency_licenses, ``assay licenses``).

Fake distributions are ``.dist-info`` folders in a temporary site folder, read through
``importlib.metadata.PathDistribution`` like installed ones. The last tests run the real audit over
this virtual environment: CI fails when a new dependency's licence is unknown, disagrees with its
files, or is restricted in the default install without a reviewed record.
"""

from __future__ import annotations

import json
import time
from importlib.metadata import Distribution, PathDistribution
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.dependency_licenses import (
    DependencyAudit,
    LicenceOverride,
    audit_distributions,
    classify,
    licence_of,
    licences_in_text,
    load_overrides,
    normalise,
)
from gateway.cli.licenses import MARK, replace_section
from gateway.cli.main import app

ROOT = Path(__file__).resolve().parents[1]

MIT = """MIT License

Copyright (c) 2024 Someone

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction. The above copyright notice and this permission notice shall
be included in all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
"""
BSD3 = """Copyright (c) 2020, Someone. All rights reserved.

Redistribution and use in source and binary forms, with or without modification, are permitted
provided that the following conditions are met: ... Neither the name of the copyright holder nor
the names of its contributors may be used to endorse or promote products derived from this software.
"""
ISC = """ISC License

Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted, provided that the above copyright notice and this
permission notice appear in all copies.
"""
AGPL = """                    GNU AFFERO GENERAL PUBLIC LICENSE
                       Version 3, 19 November 2007

 Copyright (C) 2007 Free Software Foundation, Inc. <https://fsf.org/>
                       TERMS AND CONDITIONS
  13. Remote Network Interaction; Use with the GNU General Public License.
    it under the terms of the GNU Affero General Public License as published by
    the Free Software Foundation, either version 3 of the License, or
    (at your option) any later version.
"""
GPL2 = """                    GNU GENERAL PUBLIC LICENSE
                       Version 2, June 1991
                    TERMS AND CONDITIONS FOR COPYING, DISTRIBUTION AND MODIFICATION
"""
LGPL21 = """                  GNU LESSER GENERAL PUBLIC LICENSE
                       Version 2.1, February 1999
  TERMS AND CONDITIONS ... GNU General Public License
"""
APACHE = """
                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/
"""
CC_NC = "This model is licensed under the Creative Commons Attribution-NonCommercial 4.0 licence."


def make_dist(
    site: Path,
    name: str,
    version: str = "1.0",
    *,
    headers: list[tuple[str, str]] = (),  # type: ignore[assignment]
    files: dict[str, str] | None = None,
    requires: list[str] = (),  # type: ignore[assignment]
) -> PathDistribution:
    """A ``<name>-<version>.dist-info`` folder with METADATA, RECORD and ``licenses/`` files."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    (info / "licenses").mkdir(parents=True)
    lines = ["Metadata-Version: 2.4", f"Name: {name}", f"Version: {version}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines += [f"Requires-Dist: {r}" for r in requires]
    record = [f"{info.name}/METADATA,,"]
    for fname, text in (files or {}).items():
        lines.append(f"License-File: {fname}")
        (info / "licenses" / fname).write_text(text, encoding="utf-8")
        record.append(f"{info.name}/licenses/{fname},,")
    (info / "METADATA").write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    (info / "RECORD").write_text("\n".join(record) + "\n", encoding="utf-8")
    return PathDistribution(info)


def project(root: Path, deps: list[str], extras: dict[str, list[str]] | None = None) -> Path:
    opt = "".join(f"{k} = {json.dumps(v)}\n" for k, v in (extras or {}).items())
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "assay-gateway"\nversion = "0.1.0"\ndependencies = {json.dumps(deps)}\n'
        f"[project.optional-dependencies]\n{opt}",
        encoding="utf-8",
    )
    return root


def installed(*dists: PathDistribution) -> dict[str, Distribution]:
    return {d.metadata["Name"].lower(): d for d in dists}


# --- each source of the licence ------------------------------------------------------------------
def test_license_expression_is_read_first(tmp_path: Path) -> None:
    d = make_dist(
        tmp_path,
        "a",
        headers=[("License-Expression", "MIT OR Apache-2.0"), ("License", "GPL")],
        files={"LICENSE": MIT},
    )
    r = licence_of(d)
    assert (r.licence, r.terms, r.source, r.flags) == (
        "MIT OR Apache-2.0",
        "permissive",
        "License-Expression",
        [],
    )


def test_short_license_field_is_normalised_to_spdx(tmp_path: Path) -> None:
    r = licence_of(make_dist(tmp_path, "b", headers=[("License", "Apache License, Version 2.0")]))
    assert (r.licence, r.terms, r.source) == ("Apache-2.0", "permissive", "License")


def test_a_whole_licence_text_in_the_license_field_is_read_like_a_file(tmp_path: Path) -> None:
    field = MIT.replace("\n", "\n        ")  # RFC 822 continuation lines, as setuptools writes them
    r = licence_of(make_dist(tmp_path, "c", headers=[("License", field)]))
    assert (r.licence, r.terms, r.source) == ("MIT", "permissive", "file")


def test_trove_classifier_and_a_vague_name_refined_by_the_file(tmp_path: Path) -> None:
    d = make_dist(
        tmp_path,
        "d",
        headers=[("Classifier", "License :: OSI Approved :: BSD License")],
        files={"LICENSE.txt": BSD3},
    )
    r = licence_of(d)
    assert (r.licence, r.terms) == ("BSD-3-Clause", "permissive") and r.source.startswith("classifier")
    r = licence_of(
        make_dist(tmp_path, "e", headers=[("Classifier", "License :: OSI Approved :: ISC License (ISCL)")])
    )
    assert (r.licence, r.source) == ("ISC", "classifier")
    r = licence_of(
        make_dist(tmp_path, "e2", headers=[("Classifier", "License :: Free for non-commercial use")])
    )
    assert (r.licence, r.terms) == ("LicenseRef-non-commercial", "non-commercial")


def test_licence_files_alone(tmp_path: Path) -> None:
    r = licence_of(make_dist(tmp_path, "f", files={"COPYING": ISC}))
    assert (r.licence, r.terms, r.source) == ("ISC", "permissive", "file")
    r = licence_of(make_dist(tmp_path, "g", files={"LICENSE": LGPL21}))
    assert (r.licence, r.terms) == ("LGPL-2.1-only", "weak-copyleft")
    r = licence_of(make_dist(tmp_path, "h", files={"LICENSE": GPL2}))
    assert (r.licence, r.terms) == ("GPL-2.0-only", "strong-copyleft")
    r = licence_of(make_dist(tmp_path, "i", files={"NOTICE": CC_NC}))
    assert r.terms == "non-commercial"


def test_texts_are_recognised() -> None:
    assert licences_in_text(MIT) == ["MIT"]
    assert licences_in_text(BSD3) == ["BSD-3-Clause"]
    assert licences_in_text(BSD3.replace("Neither the name", "").replace("may be used to endorse", "")) == [
        "BSD-2-Clause"
    ]
    assert licences_in_text(APACHE) == ["Apache-2.0"]
    assert licences_in_text(AGPL) == ["AGPL-3.0-only"]  # the appendix's "or later" is not a grant
    assert licences_in_text("free and unencumbered software released into the public domain") == ["Unlicense"]
    assert licences_in_text("Creative Commons Legal Code\n\nCC0 1.0 Universal") == ["CC0-1.0"]
    assert licences_in_text("PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2\n") == ["PSF-2.0"]
    assert licences_in_text("Mozilla Public License Version 2.0\n====") == ["MPL-2.0"]
    assert licences_in_text("/* SPDX-License-Identifier: BSD-3-Clause */") == ["BSD-3-Clause"]
    # a licence that merely names the GPL (the MPL's "Secondary Licenses") is not the GPL
    assert licences_in_text("the GNU General Public License, Version 2.0, the GNU Lesser General") == []


def test_normalise_and_classify() -> None:
    assert normalise("BSD-3-Clause and Public-Domain") == "BSD-3-Clause AND LicenseRef-Public-Domain"
    assert (
        normalise("MIT license") == "MIT" and normalise("UNKNOWN") is None and normalise("Mystery 1") is None
    )
    assert normalise("Apache 2.0") == "Apache-2.0" and normalise("GPLv2") == "GPL-2.0-only"
    assert classify("MIT OR GPL-3.0-only") == "permissive"
    assert classify("MIT AND GPL-2.0-only") == "strong-copyleft"
    assert classify("(MIT OR AGPL-3.0-only) AND LGPL-3.0-only") == "weak-copyleft"
    assert classify("GPL-3.0-or-later WITH GCC-exception-3.1") == "weak-copyleft"
    assert classify("LicenseRef-NVIDIA-Proprietary") == "proprietary"
    assert classify("CC-BY-NC-4.0") == "non-commercial" and classify("Mystery") == "unknown"


# --- disagreement, unknown, overrides, scopes ----------------------------------------------------
def test_a_licence_file_that_disagrees_with_the_metadata_wins_and_is_flagged(tmp_path: Path) -> None:
    """NudeNet's case: metadata MIT, the shipped LICENSE is the AGPL-3.0."""
    d = make_dist(tmp_path, "nude", headers=[("License", "MIT")], files={"LICENSE": AGPL, "LICENSE.md": AGPL})
    r = licence_of(d)
    assert (r.licence, r.terms, r.metadata) == ("AGPL-3.0-only", "strong-copyleft", "MIT")
    assert len(r.flags) == 1 and "metadata says MIT" in r.flags[0] and "AGPL-3.0-only" in r.flags[0]
    root = project(tmp_path, [], {"nude": ["nude"]})
    audit = audit_distributions(root, [], installed(d))
    assert len(audit.problems) == 1 and audit.problems[0].startswith("nude 1.0 (opt-in: nude)")
    # a reviewed record settles it; the flag stays visible
    o = LicenceOverride(name="nude", licence="AGPL-3.0-only", why="opt-in only", reviewed="t, from LICENSE")
    audit = audit_distributions(root, [o], installed(d))
    assert (
        audit.problems == [] and audit.distributions[0].flags and audit.distributions[0].source == "override"
    )


def test_a_licence_file_naming_another_permissive_licence_is_flagged_too(tmp_path: Path) -> None:
    """NCCL's case: metadata proprietary, License.txt BSD-3-Clause; the metadata stands until reviewed."""
    d = make_dist(tmp_path, "nc", headers=[("License", "ISC")], files={"LICENSE": MIT})
    r = licence_of(d)
    assert (r.licence, r.source) == ("ISC", "License") and r.flags == [
        f"metadata says ISC; its licence files say MIT ({d._path.name}/licenses/LICENSE)"  # type: ignore[attr-defined]
    ]
    assert audit_distributions(project(tmp_path, ["nc"]), [], installed(d)).problems
    # agreeing files are no flag, and a vague "BSD" in the metadata is refined by a BSD-3-Clause file
    assert not licence_of(
        make_dist(tmp_path, "ok", headers=[("License", "MIT")], files={"LICENSE": MIT})
    ).flags


def test_unknown_licence_fails_the_check_naming_it(tmp_path: Path) -> None:
    known = make_dist(tmp_path, "known", headers=[("License-Expression", "MIT")], requires=["mystery>=1"])
    mystery = make_dist(tmp_path, "mystery", "2.0", headers=[("License", "Some Custom Terms")])
    loose = make_dist(tmp_path, "loose", headers=[("License", "whatever")])  # installed, required by nothing
    audit = audit_distributions(project(tmp_path, ["known"]), [], installed(known, mystery, loose))
    rows = {d.name: d for d in audit.distributions}
    assert rows["mystery"].scope == "default" and rows["mystery"].terms == "unknown"
    assert rows["loose"].scope == "venv"
    assert len(audit.problems) == 1 and audit.problems[0].startswith("mystery 2.0 (default)")
    o = LicenceOverride(
        name="mystery", versions=">=2,<3", licence="MIT", why="read it", reviewed="t, LICENSE"
    )
    assert audit_distributions(tmp_path, [o], installed(known, mystery, loose)).problems == []
    # a record for other versions does not apply (a new release is audited afresh) and is stale
    old = o.model_copy(update={"versions": "<2"})
    audit = audit_distributions(tmp_path, [old], installed(known, mystery, loose))
    assert len(audit.problems) == 1 and audit.stale_overrides == ["mystery <2"]


def test_restricted_terms_fail_only_in_the_default_install_unless_accepted(tmp_path: Path) -> None:
    gpl = make_dist(tmp_path, "gpl-lib", headers=[("License-Expression", "GPL-3.0-only")])
    lgpl = make_dist(tmp_path, "lgpl-lib", headers=[("License-Expression", "LGPL-3.0-only")])
    nc = make_dist(tmp_path, "nc-model", headers=[("License-Expression", "CC-BY-NC-4.0")])
    tool = make_dist(
        tmp_path, "tool", headers=[("License-Expression", "MIT")], requires=['gpl-lib; extra == "x"']
    )
    dists = installed(gpl, lgpl, nc, tool)
    audit = audit_distributions(
        project(tmp_path, ["tool", "lgpl-lib", "nc-model"], {"dev": ["gpl-lib"]}), [], dists
    )
    rows = {d.name: d for d in audit.distributions}
    assert rows["gpl-lib"].scope == "dev"  # tool's extra "x" is not installed: its marker is false
    assert [p.split(" ")[0] for p in audit.problems] == ["nc-model"]  # weak copyleft and dev scope pass
    audit = audit_distributions(project(tmp_path, ["tool", "gpl-lib"]), [], dists)
    assert [p.split(" ")[0] for p in audit.problems] == ["gpl-lib"]
    accepted = LicenceOverride(
        name="gpl-*", licence="GPL-3.0-only", accepted=True, why="a separate process", reviewed="t, COPYING"
    )
    assert audit_distributions(tmp_path, [accepted], dists).problems == []
    assert audit_distributions(tmp_path, [accepted.model_copy(update={"accepted": False})], dists).problems


def test_markers_that_do_not_hold_here_are_not_followed(tmp_path: Path) -> None:
    top = make_dist(
        tmp_path,
        "top",
        headers=[("License-Expression", "MIT")],
        requires=['win-only; sys_platform == "win32"', "dep[fast]", 'old; python_version < "3.0"'],
    )
    dep = make_dist(
        tmp_path, "dep", headers=[("License-Expression", "MIT")], requires=['speedup; extra == "fast"']
    )
    others = [
        make_dist(tmp_path, n, headers=[("License-Expression", "MIT")])
        for n in ("win-only", "speedup", "old")
    ]
    audit = audit_distributions(project(tmp_path, ["top"]), [], installed(top, dep, *others))
    scopes = {d.name: d.scope for d in audit.distributions}
    assert scopes == {
        "top": "default",
        "dep": "default",
        "speedup": "default",
        "win-only": "venv",
        "old": "venv",
    }


def test_the_generated_section_is_replaced_in_place() -> None:
    begin, end = MARK.format("BEGIN", "x"), MARK.format("END", "x")
    doc = f"# T\n\nprose\n\n{begin}\nold\n{end}\n\nmore prose\n"
    new = replace_section(doc, "x", "new table")
    assert new == f"# T\n\nprose\n\n{begin}\nnew table\n{end}\n\nmore prose\n"
    assert replace_section(new, "x", "new table") == new
    assert replace_section("# T\n", "y", "t").endswith(f"{MARK.format('END', 'y')}\n")


# --- the real install ----------------------------------------------------------------------------
def test_the_records_are_valid_and_name_their_source() -> None:
    records = load_overrides(ROOT / "docs" / "dependency-licenses.yaml")
    assert records and all(r.why.strip() and " from " in r.reviewed for r in records)
    nudenet = next(r for r in records if r.name == "nudenet")
    assert nudenet.licence == "AGPL-3.0-only" and not nudenet.accepted
    with pytest.raises(ValueError):
        LicenceOverride.model_validate(
            {"name": "x", "licence": "MIT", "why": "w", "reviewed": "r", "extra": 1}
        )


@pytest.fixture(scope="module")
def real() -> tuple[DependencyAudit, float]:
    t0 = time.perf_counter()
    audit = audit_distributions(ROOT)
    return audit, time.perf_counter() - t0


def test_this_install_passes_the_check_quickly(real: tuple[DependencyAudit, float]) -> None:
    """CI: a new dependency whose licence is unknown (or restricted, or contradicted by its files)
    fails here until it is reviewed in docs/dependency-licenses.yaml."""
    audit, elapsed = real
    assert audit.problems == [], "\n".join(audit.problems)
    rows = {d.name.lower(): d for d in audit.distributions}
    assert rows["torch"].scope == "default" and rows["pytest"].scope == "dev"
    assert not [
        d.name
        for d in audit.distributions
        if d.scope == "default" and d.terms in ("strong-copyleft", "non-commercial")
    ]
    if "nudenet" in rows:  # the dev extra (CI) installs it: flagged, AGPL, never in the default install
        assert rows["nudenet"].flags and rows["nudenet"].terms == "strong-copyleft"
        assert rows["nudenet"].scope != "default"
    assert elapsed < 5, f"the audit took {elapsed:.1f} s"


def test_assay_licenses_check_and_json() -> None:
    r = CliRunner().invoke(app, ["licenses", "--check", "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["problems"] == [] and data["distributions"] and data["models"]
    assert {"name", "version", "licence", "terms", "scope", "flags"} <= set(data["distributions"][0])


def test_docs_list_every_distribution_of_the_install_tree(real: tuple[DependencyAudit, float]) -> None:
    """docs/licenses.md is generated (`assay licenses --markdown`): regenerate it after a new dependency."""
    doc = (ROOT / "docs" / "licenses.md").read_text(encoding="utf-8")
    assert MARK.format("BEGIN", "distributions") in doc and MARK.format("BEGIN", "models") in doc
    missing = [
        d.name
        for d in real[0].distributions
        if d.scope in ("default", "dev", "opt-in") and f"| {d.name} |" not in doc
    ]
    assert missing == [], "run `assay licenses --markdown` to regenerate docs/licenses.md"


def test_assay_licenses_check_fails_naming_the_distribution(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import gateway.cli.licenses as cli

    site = tmp_path / "site"
    dists = installed(
        make_dist(site, "fine", headers=[("License-Expression", "MIT")], requires=["mystery"]),
        make_dist(site, "mystery", "0.3", headers=[("License", "See the website")]),
    )
    root = project(tmp_path, ["fine"])
    real_audit = cli.audit_distributions
    monkeypatch.setattr(cli, "audit_distributions", lambda r: real_audit(r, [], dists))
    r = CliRunner().invoke(app, ["licenses", "--check", "--root", str(root)], catch_exceptions=False)
    assert r.exit_code == 1
    assert "1 problem(s)" in r.stdout and "mystery 0.3 (default): licence unknown" in r.stdout
    r = CliRunner().invoke(app, ["licenses", "--root", str(root)], catch_exceptions=False)
    assert r.exit_code == 0 and "mystery" in r.stdout  # without --check it reports and exits 0


def test_without_a_checkout_the_installed_project_metadata_gives_the_scopes(tmp_path: Path) -> None:
    own = make_dist(
        tmp_path,
        "assay-gateway",
        "0.1.0",
        headers=[("License-Expression", "Apache-2.0"), ("Provides-Extra", "dev")],
        requires=["lib", 'devlib; extra == "dev"'],
    )
    lib = make_dist(tmp_path, "lib", headers=[("License-Expression", "MIT")])
    devlib = make_dist(tmp_path, "devlib", headers=[("License-Expression", "GPL-3.0-only")])
    audit = audit_distributions(None, [], installed(own, lib, devlib))
    assert {d.name: (d.scope, d.extras) for d in audit.distributions} == {
        "assay-gateway": ("project", []),
        "lib": ("default", []),
        "devlib": ("dev", ["dev"]),
    }
    assert audit.problems == []  # GPL in dev scope: reported, not a failure
