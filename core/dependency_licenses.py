"""The licence audit of every installed Python distribution (``assay licenses``).

Why it exists: a compliance gateway must say under which terms each package it installs was
released, and a copyleft (GPL, AGPL), non-commercial or proprietary package arriving with a new
dependency is a legal risk for an operator of a network service. :func:`audit_distributions` reads
each installed distribution's licence from, in this order, its ``License-Expression`` (PEP 639),
its ``License`` field when that is a short name (a full licence text is read as a licence file),
its ``License ::`` trove classifiers, and the licence files it ships (``LICENSE*``, ``COPYING*``,
``NOTICE*`` ...), which are always read too and recognised by their text. A shipped licence file
that is more restrictive than the metadata (NudeNet: metadata MIT, licence file AGPL-3.0) is a
*disagreement*: the file wins and the row is flagged until a reviewed record in
``docs/dependency-licenses.yaml`` settles it. Each licence is normalised to SPDX and classed as
public-domain, permissive, weak-copyleft (LGPL, MPL, EPL), strong-copyleft (GPL, AGPL),
proprietary, non-commercial or unknown.

Scope: the requirement closure of the project (``pyproject.toml``'s dependencies, else the installed
``assay-gateway`` distribution's ``Requires-Dist``) is the *default* install; the ``dev`` extra
(``make install`` installs ``.[dev]``: tests and lint) and the opt-in extras are their own scopes,
reported and flagged separately; what the virtual environment holds beyond them is ``venv``.

Imports: the standard library, packaging, pydantic and yaml only (the ground floor imports no
project package).
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Iterable, Sequence
from importlib.metadata import Distribution, PackageMetadata, distributions
from pathlib import Path
from typing import Literal

import yaml
from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict

__all__ = [
    "PROJECT",
    "DependencyAudit",
    "DistLicence",
    "LicenceOverride",
    "Terms",
    "audit_distributions",
    "classify",
    "install_scopes",
    "licence_of",
    "licences_in_text",
    "load_overrides",
    "normalise",
]

#: the project's own distribution name
PROJECT = "assay-gateway"

Terms = Literal[
    "public-domain",
    "permissive",
    "weak-copyleft",
    "strong-copyleft",
    "proprietary",
    "non-commercial",
    "unknown",
]
#: restrictiveness, lowest first: ``A AND B`` takes the higher, ``A OR B`` the lower
RANK: dict[str, int] = {
    "public-domain": 0,
    "permissive": 1,
    "weak-copyleft": 2,
    "strong-copyleft": 3,
    "proprietary": 4,
    "non-commercial": 5,
    "unknown": 6,
}
_BY_RANK: dict[int, Terms] = {
    0: "public-domain",
    1: "permissive",
    2: "weak-copyleft",
    3: "strong-copyleft",
    4: "proprietary",
    5: "non-commercial",
    6: "unknown",
}
#: terms that keep a distribution out of the default install unless a reviewed record accepts it
RESTRICTED = ("strong-copyleft", "proprietary", "non-commercial")

# --- SPDX identifiers and their terms ----------------------------------------------------------
_PUBLIC_DOMAIN = {"CC0-1.0", "Unlicense", "LicenseRef-Public-Domain", "0BSD", "MIT-0"}
_PERMISSIVE = {
    "MIT",
    "MIT-CMU",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSD-4-Clause",
    "LicenseRef-BSD",
    "Apache-2.0",
    "ISC",
    "PSF-2.0",
    "Python-2.0",
    "CNRI-Python",
    "BSL-1.0",
    "Zlib",
    "HPND",
    "NCSA",
    "Unicode-DFS-2016",
    "Unicode-3.0",
    "X11",
    "curl",
    "OFL-1.1",
}
_WEAK = {
    "LGPL-2.0-only",
    "LGPL-2.0-or-later",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "MPL-1.1",
    "MPL-2.0",
    "EPL-1.0",
    "EPL-2.0",
    "CDDL-1.0",
}
_STRONG = {
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
}
#: ``WITH`` exceptions that let non-copyleft code link against the licensed part
_LINKING_EXCEPTIONS = {
    "GCC-exception-3.1",
    "Classpath-exception-2.0",
    "LLVM-exception",
    "Bison-exception-2.2",
}
_NON_COMMERCIAL_PREFIXES = ("CC-BY-NC", "LicenseRef-non-commercial", "LicenseRef-iBUG")
_PROPRIETARY_PREFIXES = ("LicenseRef-NVIDIA", "LicenseRef-Proprietary")

#: short names found in ``License`` fields and trove classifiers, lower-cased → SPDX
_NAMES: dict[str, str] = {
    "mit": "MIT",
    "mit license": "MIT",
    "mit licence": "MIT",
    "the mit license": "MIT",
    "the mit license (mit)": "MIT",
    "expat": "MIT",
    "mit-0": "MIT-0",
    "mit no attribution": "MIT-0",
    "bsd": "LicenseRef-BSD",
    "bsd license": "LicenseRef-BSD",
    "new bsd": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause",
    "modified bsd": "BSD-3-Clause",
    "3-clause bsd": "BSD-3-Clause",
    "3-clause bsd license": "BSD-3-Clause",
    "bsd 3-clause": "BSD-3-Clause",
    "bsd 3-clause license": "BSD-3-Clause",
    "bsd-3": "BSD-3-Clause",
    "2-clause bsd": "BSD-2-Clause",
    "2-clause bsd license": "BSD-2-Clause",
    "bsd 2-clause": "BSD-2-Clause",
    "simplified bsd": "BSD-2-Clause",
    "apache": "Apache-2.0",
    "apache 2": "Apache-2.0",
    "apache 2.0": "Apache-2.0",
    "apache-2": "Apache-2.0",
    "apache license": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "apache license version 2.0": "Apache-2.0",
    "apache 2.0 license": "Apache-2.0",
    "apache software license": "Apache-2.0",
    "apache software license 2.0": "Apache-2.0",
    "asl 2": "Apache-2.0",
    "isc": "ISC",
    "isc license": "ISC",
    "isc license (iscl)": "ISC",
    "psf": "PSF-2.0",
    "psfl": "PSF-2.0",
    "python software foundation license": "PSF-2.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "mpl 2.0": "MPL-2.0",
    "mpl2": "MPL-2.0",
    "mozilla public license 1.1 (mpl 1.1)": "MPL-1.1",
    "boost software license": "BSL-1.0",
    "boost software license 1.0 (bsl-1.0)": "BSL-1.0",
    "boost": "BSL-1.0",
    "zlib": "Zlib",
    "zlib/libpng license": "Zlib",
    "the unlicense (unlicense)": "Unlicense",
    "unlicense": "Unlicense",
    "public domain": "LicenseRef-Public-Domain",
    "public-domain": "LicenseRef-Public-Domain",
    "cc0 1.0 universal (cc0 1.0) public domain dedication": "CC0-1.0",
    "cc0": "CC0-1.0",
    "historical permission notice and disclaimer (hpnd)": "HPND",
    "university of illinois/ncsa open source license": "NCSA",
    "eclipse public license 1.0 (epl-1.0)": "EPL-1.0",
    "eclipse public license 2.0 (epl-2.0)": "EPL-2.0",
    "gpl": "GPL-2.0-or-later",
    "gplv2": "GPL-2.0-only",
    "gpl v2": "GPL-2.0-only",
    "gplv2+": "GPL-2.0-or-later",
    "gplv3": "GPL-3.0-only",
    "gplv3+": "GPL-3.0-or-later",
    "gnu general public license (gpl)": "GPL-2.0-or-later",
    "gnu general public license v2 (gplv2)": "GPL-2.0-only",
    "gnu general public license v2 or later (gplv2+)": "GPL-2.0-or-later",
    "gnu general public license v3 (gplv3)": "GPL-3.0-only",
    "gnu general public license v3 or later (gplv3+)": "GPL-3.0-or-later",
    "agpl": "AGPL-3.0-only",
    "agplv3": "AGPL-3.0-only",
    "agpl-3.0": "AGPL-3.0-only",
    "gnu affero general public license v3": "AGPL-3.0-only",
    "gnu affero general public license v3 or later (agplv3+)": "AGPL-3.0-or-later",
    "lgpl": "LGPL-2.0-or-later",
    "lgplv2": "LGPL-2.1-only",
    "lgplv3": "LGPL-3.0-only",
    "lgplv3+": "LGPL-3.0-or-later",
    "gnu library or lesser general public license (lgpl)": "LGPL-2.0-or-later",
    "gnu lesser general public license v2 (lgplv2)": "LGPL-2.1-only",
    "gnu lesser general public license v2 or later (lgplv2+)": "LGPL-2.1-or-later",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0-only",
    "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
    "other/proprietary license": "LicenseRef-Proprietary",
    "nvidia proprietary software": "LicenseRef-NVIDIA-Proprietary",
    "proprietary": "LicenseRef-Proprietary",
    "free to use but restricted": "LicenseRef-Proprietary",
    "freeware": "LicenseRef-Proprietary",
    "free for non-commercial use": "LicenseRef-non-commercial",
    # deprecated SPDX short forms
    "gpl-2.0": "GPL-2.0-only",
    "gpl-2.0+": "GPL-2.0-or-later",
    "gpl-3.0": "GPL-3.0-only",
    "gpl-3.0+": "GPL-3.0-or-later",
    "lgpl-2.1": "LGPL-2.1-only",
    "lgpl-3.0": "LGPL-3.0-only",
    "lgpl-2.1+": "LGPL-2.1-or-later",
    "lgpl-3.0+": "LGPL-3.0-or-later",
}
_KNOWN = _PUBLIC_DOMAIN | _PERMISSIVE | _WEAK | _STRONG
_BY_LOWER = {s.lower(): s for s in _KNOWN}
#: identifiers that name a family but not its variant (a licence file refines them)
_VAGUE = {"LicenseRef-BSD"}
#: classifiers that say nothing about the licence itself
_NO_LICENCE_CLASSIFIERS = {"osi approved", "dfsg approved"}
_LICENCE_FILE = re.compile(r"^(licen[cs]e|copying|notice|copyright|unlicense)", re.I)
_READ_BYTES = 200_000
#: RECORD lines of licence files (the name, or a dist-info ``licenses/`` folder, says so)
_RECORD_LICENCE = re.compile(
    r"^([^,\n]*(?:/(?:licen[cs]e|copying|notice|copyright|unlicense)[^,/\n]*|\.dist-info/licenses/[^,\n]*)),",
    re.I | re.M,
)


def _id(token: str) -> str | None:
    """One licence name or identifier → SPDX (None when not recognised)."""
    t = token.strip()
    while t.startswith("(") and t.endswith(")"):
        t = t[1:-1].strip()
    if not t:
        return None
    if t.startswith("LicenseRef-"):
        return t
    low = " ".join(t.lower().split())
    if low in _BY_LOWER:
        return _BY_LOWER[low]
    if low in _NAMES:
        return _NAMES[low]
    if low.removesuffix(" license") in _NAMES:
        return _NAMES[low.removesuffix(" license")]
    if low.startswith("cc-by-nc") or "noncommercial" in low or "non-commercial" in low:
        return "LicenseRef-non-commercial" if not low.startswith("cc-by-nc") else t.upper()
    return None


def normalise(expression: str | None) -> str | None:
    """A licence expression or short name → an SPDX expression; None when any part is unknown.

    ``and`` / ``or`` / ``with`` in any case, ``/`` and ``,`` between names are read as SPDX
    operators (``BSD-3-Clause and Public-Domain`` → ``BSD-3-Clause AND LicenseRef-Public-Domain``).
    """
    if expression is None:
        return None
    text = " ".join(expression.split())
    if not text or text.upper() in ("UNKNOWN", "NONE", "N/A"):
        return None
    whole = _id(text)
    if whole is not None:
        return whole
    parts = re.split(r"(\s+(?:AND|OR|WITH)\s+|\(|\))", text, flags=re.I)
    out: list[str] = []
    for part in parts:
        if not part or not part.strip():
            continue
        op = part.strip().upper()
        if op in ("AND", "OR", "WITH", "(", ")"):
            out.append(op)
            continue
        if out and out[-1] == "WITH":
            out.append(part.strip())
            continue
        ident = _id(part)
        if ident is None:
            return None
        out.append(ident)
    return " ".join(out).replace("( ", "(").replace(" )", ")") or None


def _term_of_id(ident: str) -> Terms:
    if ident in _PUBLIC_DOMAIN:
        return "public-domain"
    if ident in _PERMISSIVE:
        return "permissive"
    if ident in _WEAK:
        return "weak-copyleft"
    if ident in _STRONG:
        return "strong-copyleft"
    if ident.upper().startswith("CC-BY-NC") or ident.startswith(_NON_COMMERCIAL_PREFIXES):
        return "non-commercial"
    if ident.startswith(_PROPRIETARY_PREFIXES):
        return "proprietary"
    return "unknown"


def _tokens(expression: str) -> list[str]:
    return re.findall(r"\(|\)|[^\s()]+", expression)


def classify(expression: str | None) -> Terms:
    """The terms of an SPDX expression: ``OR`` takes the operator's best choice, ``AND`` the worst.

    ``GPL-... WITH <linking exception>`` counts as weak copyleft; an unknown identifier is unknown.
    """
    if not expression:
        return "unknown"
    toks = _tokens(expression)
    pos = 0

    def atom() -> int:
        nonlocal pos
        if pos < len(toks) and toks[pos] == "(":
            pos += 1
            r = disjunction()
            if pos < len(toks) and toks[pos] == ")":
                pos += 1
            return r
        ident = toks[pos] if pos < len(toks) else ""
        pos += 1
        r = RANK[_term_of_id(ident)]
        if pos < len(toks) and toks[pos].upper() == "WITH":
            exc = toks[pos + 1] if pos + 1 < len(toks) else ""
            pos += 2
            if exc in _LINKING_EXCEPTIONS and r == RANK["strong-copyleft"]:
                r = RANK["weak-copyleft"]
        return r

    def conjunction() -> int:
        nonlocal pos
        r = atom()
        while pos < len(toks) and toks[pos].upper() == "AND":
            pos += 1
            r = max(r, atom())
        return r

    def disjunction() -> int:
        nonlocal pos
        r = conjunction()
        while pos < len(toks) and toks[pos].upper() == "OR":
            pos += 1
            r = min(r, conjunction())
        return r

    rank = disjunction()
    return _BY_RANK[rank]


def _ids(expression: str | None) -> set[str]:
    if not expression:
        return set()
    toks = _tokens(expression)
    out = set()
    for i, t in enumerate(toks):
        if t in ("(", ")") or t.upper() in ("AND", "OR", "WITH"):
            continue
        if i and toks[i - 1].upper() == "WITH":
            continue
        out.add(t)
    return out


def _same(file_id: str, meta_id: str) -> bool:
    """Whether a licence file's identifier is the metadata's (a vague ``LicenseRef-BSD`` is any BSD)."""
    return file_id == meta_id or (meta_id == "LicenseRef-BSD" and file_id.startswith("BSD-"))


# --- licence texts --------------------------------------------------------------------------------
#: a licence's title on a line of its own (its text, not a mention of it in another licence)
_TITLE = r"(?m)^[ \t#*=>-]*"
#: (SPDX, needle(s), pattern): recognised in this order (a file can hold several licences: bundles);
#: the pattern runs only where a needle occurs in the lower-cased text
_TEXTS: list[tuple[str, str | tuple[str, ...], re.Pattern[str]]] = [
    ("AGPL-3.0", "affero", re.compile(_TITLE + r"GNU AFFERO GENERAL PUBLIC LICEN[CS]E", re.I)),
    ("LGPL-3.0", "lesser", re.compile(_TITLE + r"GNU LESSER GENERAL PUBLIC LICEN[CS]E\s+Version 3", re.I)),
    ("LGPL-2.1", "lesser", re.compile(_TITLE + r"GNU LESSER GENERAL PUBLIC LICEN[CS]E\s+Version 2\.1", re.I)),
    ("LGPL-2.0", "library general", re.compile(_TITLE + r"GNU LIBRARY GENERAL PUBLIC LICEN[CS]E", re.I)),
    ("GPL-3.0", "gnu general", re.compile(_TITLE + r"GNU GENERAL PUBLIC LICEN[CS]E\s+Version 3", re.I)),
    ("GPL-2.0", "gnu general", re.compile(_TITLE + r"GNU GENERAL PUBLIC LICEN[CS]E\s+Version 2", re.I)),
    ("MPL-2.0", "mozilla", re.compile(r"Mozilla Public License,?\s+(Version|v\.?)\s*2\.0", re.I)),
    ("EPL-2.0", "eclipse", re.compile(r"Eclipse Public License\s*-?\s*v(ersion)?\s*2\.0", re.I)),
    ("EPL-1.0", "eclipse", re.compile(r"Eclipse Public License\s*-?\s*v(ersion)?\s*1\.0", re.I)),
    ("Apache-2.0", "apache", re.compile(r"Apache License,?\s+Version 2\.0|Apache License v?2\.0", re.I)),
    ("BSL-1.0", "boost", re.compile(r"Boost Software License\s*-?\s*Version 1\.0", re.I)),
    ("PSF-2.0", "python software", re.compile(r"PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2", re.I)),
    (
        "Unlicense",
        "unencumbered",
        re.compile(r"free and unencumbered software released into the public domain", re.I),
    ),
    ("CC0-1.0", "cc0", re.compile(r"CC0 1\.0 Universal", re.I)),
    ("CC0-1.0", "dedicated all copyright", re.compile(r"dedicated all copyright\s+and related", re.I)),
    ("0BSD", "zero clause", re.compile(r"BSD Zero Clause License", re.I)),
    (
        "ISC",
        "permission to use",
        re.compile(
            r"Permission to use, copy, modify, and(/or)? distribute this software for any\s+purpose", re.I
        ),
    ),
    (
        "MIT-CMU",
        "permission to use",
        re.compile(
            r"Permission to use, copy, modify,? and distribute this software and its\s+(associated\s+)?"
            r"documentation for any purpose",
            re.I,
        ),
    ),
    (
        "MIT",
        "permission is hereby granted",
        re.compile(r"Permission is hereby granted, free of charge, to any\s+person", re.I),
    ),
    ("Zlib", "plainly marked", re.compile(r"Altered source versions must be plainly marked", re.I)),
    ("BSD", "redistribution and use", re.compile(r"Redistribution and use in source and binary forms", re.I)),
    (
        "LicenseRef-non-commercial",
        (
            "attribution-noncommercial",
            "attribution-non-commercial",
            "cc by-nc",
            "commercial use only",
            "commercial purposes only",
            "research purposes only",
            "not for commercial use",
        ),
        re.compile(
            r"Creative Commons Attribution-Non-?Commercial|CC BY-NC"
            r"|non-?commercial (research )?(use|purposes) only|not for commercial use",
            re.I,
        ),
    ),
    (
        "LicenseRef-NVIDIA-Proprietary",
        "license agreement",
        re.compile(_TITLE + r"(NVIDIA )?(Software|End User) License Agreement\s*$", re.I),
    ),
]
_SPDX_TAG = re.compile(r"SPDX-License-Identifier:\s*([^\n*]+)")
_GPL_LATER = re.compile(
    r"version [23](\.\d)? of the License, or\s+\(at your option\) any later version", re.I
)


def licences_in_text(text: str) -> list[str]:
    """The SPDX identifiers of the licences whose text (or SPDX tag) appears in ``text``.

    A full GPL-family text reads as ``-only`` (the text alone does not say "or later"; a notice that
    does, without the full terms, reads as ``-or-later``); a GPL-3.0 text next to the GCC Runtime
    Library Exception reads as ``GPL-3.0-or-later WITH GCC-exception-3.1`` (compiler runtimes that
    numpy and scipy wheels bundle).
    """
    low = " ".join(text.lower().split())
    found: list[str] = []
    if "spdx-license-identifier" in low:
        for tag in _SPDX_TAG.findall(text):
            ident = normalise(tag.strip())
            if ident and ident not in found:
                found.append(ident)
    full_terms = "terms and conditions" in low
    later = not full_terms and "any later version" in low and bool(_GPL_LATER.search(text))
    gcc = "gcc runtime library exception" in low
    vendor = "nvidia" in low
    for name, needle, pat in _TEXTS:
        needles = (needle,) if isinstance(needle, str) else needle
        if not any(n in low for n in needles) or not pat.search(text):
            continue
        if name == "BSD":
            if "advertising materials" in low:
                name = "BSD-4-Clause"
            elif re.search(r"neither the name|may be used to endorse|may not be used to endorse", low):
                name = "BSD-3-Clause"
            else:
                name = "BSD-2-Clause"
        elif name in ("MIT", "ISC") and "above copyright notice" not in low:
            name = "MIT-0" if name == "MIT" else "0BSD"
        elif name.startswith(("AGPL", "LGPL", "GPL")):
            if gcc and name == "GPL-3.0":
                name = "GPL-3.0-or-later WITH GCC-exception-3.1"
            else:
                name += "-or-later" if later else "-only"
        elif name == "LicenseRef-NVIDIA-Proprietary" and not vendor:
            name = "LicenseRef-Proprietary"
        if name not in found:
            found.append(name)
    return found


# --- records --------------------------------------------------------------------------------------
class LicenceOverride(BaseModel):
    """One reviewed record of docs/dependency-licenses.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the distribution name (canonical; ``*`` and ``?`` match as in shell patterns)
    name: str
    #: PEP 440 specifier (``>=3.4,<4``) or ``any``
    versions: str = "any"
    #: the SPDX expression that holds for these versions
    licence: str
    #: true: copyleft / proprietary terms accepted for the default install, for the reason in ``why``
    accepted: bool = False
    why: str
    #: who reviewed it, when, and from which file (``<dist-info>/licenses/LICENSE``)
    reviewed: str

    def matches(self, name: str, version: str) -> bool:
        if not fnmatch.fnmatchcase(canonicalize_name(name), canonicalize_name(self.name)):
            return False
        if self.versions.strip().lower() == "any":
            return True
        try:
            return Version(version) in SpecifierSet(self.versions)
        except (InvalidSpecifier, InvalidVersion):
            return False


class LicenceFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    licences: list[str]


class DistLicence(BaseModel):
    """The licence audit of one installed distribution."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    #: the SPDX expression that holds (the override's, else the file's where it is more
    #: restrictive than the metadata, else the metadata's); None when unknown
    licence: str | None
    terms: Terms
    #: where ``licence`` came from: License-Expression | License | classifier | file | override
    source: str
    #: what the metadata alone says (normalised), None when it says nothing usable
    metadata: str | None
    files: list[LicenceFile]
    #: default | dev | opt-in | venv (installed but required by no scope) | project
    scope: str
    #: the extras of pyproject.toml that pull it in (``dev``, ``nudenet``, ...)
    extras: list[str]
    #: disagreements between metadata and files, and other findings a reviewer should read
    flags: list[str]
    #: the reviewed record that applies, if any
    override: LicenceOverride | None = None


class DependencyAudit(BaseModel):
    model_config = ConfigDict(frozen=True)

    distributions: list[DistLicence]
    #: what fails ``assay licenses --check``, one line per distribution
    problems: list[str]
    #: reviewed records that match no installed distribution at their version range
    stale_overrides: list[str]

    def counts(self) -> dict[str, dict[str, int]]:
        """``scope -> terms -> number of distributions``."""
        out: dict[str, dict[str, int]] = {}
        for d in self.distributions:
            row = out.setdefault(d.scope, {})
            row[d.terms] = row.get(d.terms, 0) + 1
        return out


def load_overrides(path: Path) -> list[LicenceOverride]:
    if not path.is_file():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [LicenceOverride.model_validate(r) for r in data.get("distributions", [])]


# --- scopes ---------------------------------------------------------------------------------------
def _parse(reqs: Iterable[str]) -> list[Requirement]:
    out = []
    for r in reqs:
        try:
            out.append(Requirement(r))
        except InvalidRequirement:
            continue
    return out


def _applies(marker: Marker | None, extras: Iterable[str]) -> bool:
    if marker is None:
        return True
    return any(marker.evaluate({"extra": e}) for e in ("", *extras))


def _closure(roots: Sequence[Requirement], requires: dict[str, list[str]], extra: str = "") -> set[str]:
    """Canonical names of the installed distributions that ``roots`` pull in (``extra``: the
    project's extra these roots belong to, for markers such as ``extra == "dev"``)."""
    seen: dict[str, set[str]] = {}
    todo: list[tuple[str, set[str]]] = [
        (canonicalize_name(r.name), set(r.extras)) for r in roots if _applies(r.marker, (extra,))
    ]
    while todo:
        name, extras = todo.pop()
        done = seen.get(name)
        if done is not None and extras <= done:
            continue
        seen[name] = (done or set()) | extras
        if name not in requires:
            continue
        for req in _parse(requires[name]):
            if _applies(req.marker, seen[name]):
                todo.append((canonicalize_name(req.name), set(req.extras)))
    return {n for n in seen if n in requires}


def _scope_roots(root: Path | None, metas: dict[str, PackageMetadata]) -> dict[str, list[Requirement]]:
    """``scope -> root requirements``: ``default`` and one per extra of the project."""
    pyproject = root / "pyproject.toml" if root else None
    if pyproject is not None and pyproject.is_file():
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        scopes = {"default": _parse(project.get("dependencies", []))}
        for extra, reqs in project.get("optional-dependencies", {}).items():
            scopes[extra] = _parse(reqs)
        return scopes
    own = metas.get(PROJECT)
    reqs = _parse(own.get_all("Requires-Dist") or []) if own else []
    scopes = {"default": [r for r in reqs if _applies(r.marker, ())]}
    for extra in (own.get_all("Provides-Extra") or []) if own else []:
        scopes[extra] = [r for r in reqs if r.marker is not None and r.marker.evaluate({"extra": extra})]
    return scopes


def install_scopes(root: Path | None, metas: dict[str, PackageMetadata]) -> dict[str, set[str]]:
    """``scope -> canonical names of the installed distributions it pulls in`` (closures);
    ``metas``: canonical name -> metadata of every installed distribution."""
    requires = {n: md.get_all("Requires-Dist") or [] for n, md in metas.items()}
    return {
        s: _closure(reqs, requires, "" if s == "default" else s)
        for s, reqs in _scope_roots(root, metas).items()
    }


# --- one distribution -----------------------------------------------------------------------------
def _licence_files(dist: Distribution, declared: set[str]) -> list[tuple[str, bool, str]]:
    """``(path, top-level, text)`` of the licence files a distribution ships (from its RECORD).

    Top level: a ``License-File`` entry, or a licence file directly in the ``.dist-info`` folder
    (or its ``licenses/``); others are vendored components' files deeper in the tree.
    """
    record = dist.read_text("RECORD")
    if record is not None:
        paths = [m.group(1).strip('"') for m in _RECORD_LICENCE.finditer(record)]
    else:  # egg-info and other installs without a RECORD: whatever importlib.metadata lists
        paths = [str(f) for f in dist.files or []]
    out = []
    for path in paths:
        parts = path.split("/")
        name = parts[-1]
        if not _LICENCE_FILE.match(name) and "/licenses/" not in path:
            continue
        if name.endswith((".py", ".pyc", ".pyi", ".so", ".json", ".html", ".h", ".c", ".cpp")):
            continue
        in_info = parts[0].endswith((".dist-info", ".egg-info"))
        licenses_dir = in_info and len(parts) > 2 and parts[1] == "licenses"
        rel = "/".join(parts[2:]) if licenses_dir else "/".join(parts[1:])
        top = (in_info and (len(parts) == 2 or (licenses_dir and len(parts) == 3))) or rel in declared
        try:
            with open(str(dist.locate_file(path)), encoding="utf-8", errors="replace") as fh:
                text = fh.read(_READ_BYTES)
        except OSError:
            continue
        out.append((path, top, text))
    return out


def _from_metadata(md: PackageMetadata) -> tuple[str | None, str, str | None]:
    """``(SPDX expression, source, full licence text in the License field)``."""
    expr = md["License-Expression"]
    if expr and expr.strip():
        return normalise(expr) or expr.strip(), "License-Expression", None
    lic = (md["License"] or "").strip()
    text = None
    if lic and ("\n" in lic or len(lic) > 100):
        text = lic  # a whole licence text: read like a licence file below
    elif lic:
        n = normalise(lic)
        if n:
            return n, "License", None
    ids = []
    for c in md.get_all("Classifier") or []:
        if not c.startswith("License ::"):
            continue
        leaf = c.split("::")[-1].strip()
        if leaf.lower() in _NO_LICENCE_CLASSIFIERS:
            continue
        n = _id(leaf)
        ids.append(n or f"LicenseRef-classifier-{leaf.replace(' ', '-')}")
    if ids:
        unique = list(dict.fromkeys(ids))
        return " OR ".join(unique) if len(unique) > 1 else unique[0], "classifier", text
    return None, "", text


def licence_of(
    dist: Distribution,
    overrides: Sequence[LicenceOverride] = (),
    scope: str = "venv",
    extras: Sequence[str] = (),
    md: PackageMetadata | None = None,
) -> DistLicence:
    """The licence of one distribution from its metadata and its files, with its flags."""
    md = dist.metadata if md is None else md
    name = md["Name"] or "?"
    version = md["Version"] or "?"
    meta, source, field_text = _from_metadata(md)
    declared = {f.strip() for f in md.get_all("License-File") or []}
    files = [(p, top, licences_in_text(t)) for p, top, t in _licence_files(dist, declared)]
    if field_text is not None:
        files.insert(0, ("METADATA License field", True, licences_in_text(field_text)))
    flags: list[str] = []
    meta_ids = _ids(meta)
    meta_terms = classify(meta) if meta else "unknown"
    licence, terms = meta, meta_terms
    top_ids = [i for _, top, ids in files if top for i in ids]
    if meta is None and top_ids:
        uniq = list(dict.fromkeys(top_ids))
        licence = " AND ".join(f"({i})" if " " in i else i for i in uniq)
        terms, source = classify(licence), "file"
    elif meta is not None and meta_ids & _VAGUE and len(meta_ids) == 1:
        specific = [i for i in top_ids if i.startswith("BSD-")]
        if specific:
            licence, terms, source = specific[0], classify(specific[0]), f"{source}, refined by file"
    # a file more restrictive than the metadata: flagged, and the file wins
    stricter: list[tuple[str, str]] = []
    for path, top, ids in files:
        for i in ids:
            t = classify(i)
            if t == "unknown" or i in meta_ids or _ids(i) <= meta_ids:
                continue
            if meta is not None and RANK[t] > RANK[meta_terms] and (top or t in RESTRICTED):
                stricter.append((path, i))
    if stricter:
        by_id: dict[str, list[str]] = {}
        for path, i in stricter:
            by_id.setdefault(i, []).append(path)
        flags.append(
            f"metadata says {meta}; shipped files say "
            + "; ".join(f"{i} ({classify(i)}: {', '.join(paths)})" for i, paths in by_id.items())
        )
        all_top_stricter = all(
            (p, i) in stricter for p, top, ids in files if top for i in ids if classify(i) != "unknown"
        )
        base = [] if all_top_stricter else [f"({licence})" if " " in (licence or "") else (licence or "")]
        licence = " AND ".join([*base, *by_id])
        terms, source = classify(licence), "file (disagrees with metadata)"
    elif meta is not None and top_ids:
        # files that name none of the metadata's licences (and no stricter one): flagged, the
        # metadata stands (NVIDIA's NCCL: metadata proprietary, License.txt BSD-3-Clause)
        top_family = {i for x in top_ids for i in _ids(x)}
        if not any(_same(i, m) for i in top_family for m in meta_ids):
            paths = [p for p, top, ids in files if top and ids]
            flags.append(
                f"metadata says {meta}; its licence files say {' AND '.join(dict.fromkeys(top_ids))}"
                f" ({', '.join(paths)})"
            )
    override = next((o for o in overrides if o.matches(name, version)), None)
    if override is not None:
        licence, terms, source = override.licence, classify(override.licence), "override"
    return DistLicence(
        name=name,
        version=version,
        licence=licence,
        terms=terms,
        source=source or "none",
        metadata=meta,
        files=[LicenceFile(path=p, licences=ids) for p, _, ids in files],
        scope=scope,
        extras=list(extras),
        flags=flags,
        override=override,
    )


# --- the audit ------------------------------------------------------------------------------------
def _installed() -> dict[str, Distribution]:
    out: dict[str, Distribution] = {}
    for d in distributions():
        name = d.metadata["Name"]
        if name:
            out.setdefault(canonicalize_name(name), d)  # the first on sys.path wins, as for imports
    return out


def audit_distributions(
    root: Path | None,
    overrides: Sequence[LicenceOverride] | None = None,
    installed: dict[str, Distribution] | None = None,
) -> DependencyAudit:
    """Audit every installed distribution; ``root`` is the repository (its pyproject.toml and
    docs/dependency-licenses.yaml), None for an installed copy (its Requires-Dist)."""
    installed = _installed() if installed is None else installed
    if overrides is None:
        overrides = load_overrides(root / "docs" / "dependency-licenses.yaml") if root else []
    metas = {k: d.metadata for k, d in installed.items()}
    scopes = install_scopes(root, metas)
    default = scopes.get("default", set())
    rows: list[DistLicence] = []
    problems: list[str] = []
    for key, dist in sorted(installed.items()):
        extras = sorted(s for s, names in scopes.items() if s != "default" and key in names)
        if key == canonicalize_name(PROJECT):
            scope = "project"
        elif key in default:
            scope = "default"
        elif "dev" in extras:
            scope = "dev"
        elif extras:
            scope = "opt-in"
        else:
            scope = "venv"
        row = licence_of(dist, overrides, scope, extras, metas[key])
        rows.append(row)
        label = f"{row.name} {row.version} ({scope}{': ' + ', '.join(extras) if extras else ''})"
        if scope in ("project", "venv"):
            continue
        if row.terms == "unknown" and row.override is None:
            problems.append(
                f"{label}: licence unknown (metadata {row.metadata or 'none'}); record it in "
                "docs/dependency-licenses.yaml after reading its licence file"
            )
        elif row.flags and row.override is None:
            problems.append(f"{label}: {'; '.join(row.flags)}; review it in docs/dependency-licenses.yaml")
        elif scope == "default" and row.terms in RESTRICTED and not (row.override and row.override.accepted):
            problems.append(
                f"{label}: {row.licence} is {row.terms} in the default install; make it opt-in "
                "or accept it with a reason in docs/dependency-licenses.yaml"
            )
    stale = [
        f"{o.name} {o.versions}"
        for o in overrides
        if not any(o.matches(md["Name"] or "", md["Version"] or "") for md in metas.values())
    ]
    return DependencyAudit(distributions=rows, problems=problems, stale_overrides=stale)
