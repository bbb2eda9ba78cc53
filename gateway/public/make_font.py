"""Rebuild ``static/AssayUISans-Regular.otf``: the glyphs of the verify and audit pages, from Noto Sans CJK.

Why a subset: the full CJK font is 16 MB; the pages need printable ASCII, a little punctuation
and the Chinese characters of their own text (the ``MESSAGES`` of ``gateway.api.verify_page``
and ``gateway.api.audit_page``). A test checks
that the shipped font covers every character of that text, so a wording change that needs a new
glyph fails until this script has been run again. The subset keeps the OFL 1.1 licence
(``static/OFL.txt``) and is renamed, as the OFL asks of modified versions.

Run (needs Debian's ``fonts-noto-cjk`` and fontTools)::

    python gateway/public/make_font.py /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

FAMILY = "Assay UI Sans"
OUT = Path(__file__).resolve().parent / "static" / "AssayUISans-Regular.otf"
#: characters the script adds around the messages (bullets, dashes, ellipsis, quotes)
EXTRA = "—–·…“”‘’«»©×✓✗"


def page_messages() -> list[tuple[str, str]]:
    """Every (English, Chinese) string of the pages that use this font."""
    from gateway.api.audit_page import MESSAGES as AUDIT
    from gateway.api.verify_page import MESSAGES as VERIFY

    return [*VERIFY.values(), *AUDIT.values()]


def page_characters() -> str:
    chars = {chr(c) for c in range(0x20, 0x7F)} | set(EXTRA)
    for en, zh in page_messages():
        chars |= set(en) | set(zh)
    return "".join(sorted(chars))


def main(ttc_path: str) -> None:
    coll = TTCollection(ttc_path)
    font = next(f for f in coll.fonts if f["name"].getDebugName(1) == "Noto Sans CJK SC")
    opts = subset.Options()
    opts.layout_features = ["kern", "palt", "liga"]
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.drop_tables += ["VORG", "vhea", "vmtx"]
    sub = subset.Subsetter(opts)
    sub.populate(text=page_characters())
    sub.subset(font)
    names = font["name"]
    for rec in list(names.names):
        if rec.nameID in (1, 3, 4, 6, 16, 17, 18, 21, 22):
            names.removeNames(nameID=rec.nameID)
    ps = FAMILY.replace(" ", "") + "-Regular"
    names.setName(FAMILY, 1, 3, 1, 0x409)
    names.setName("Regular", 2, 3, 1, 0x409)
    names.setName(f"{ps};subset of Noto Sans CJK SC Regular", 3, 3, 1, 0x409)
    names.setName(f"{FAMILY} Regular", 4, 3, 1, 0x409)
    names.setName(ps, 6, 3, 1, 0x409)
    names.setName(
        "Subset of Noto Sans CJK SC Regular (SIL OFL 1.1) for Assay's public pages", 10, 3, 1, 0x409
    )
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [ps]
        top = cff.topDictIndex[0]
        for attr in ("FullName", "FamilyName"):
            if hasattr(top, attr):
                setattr(top, attr, f"{FAMILY} Regular" if attr == "FullName" else FAMILY)
    font.save(OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(page_characters())} characters)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
