"""Rebuild ``AssayLabelSans-Bold.otf``: the glyphs the visible label needs, cut from Noto Sans CJK SC Bold.

Why a subset: the full CJK font is 19 MB; the label needs printable ASCII and a few ideographs
(the GB 45438 wordings "AI生成", "AI合成", "人工智能生成/合成", "由人工智能生成" and their
punctuation). The subset keeps the OFL 1.1 licence (``OFL.txt`` beside it) and is renamed,
as the OFL asks of modified versions, so it is never mistaken for the original font.

Run (needs Debian's ``fonts-noto-cjk`` and fontTools)::

    python provenance/label/fonts/make_subset.py /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

#: every character the shipped font can render; `provenance.label.visible` refuses other text
CJK = "人工智能生成合由内容标识"
PUNCT = "：（），。、"
CHARS = "".join(chr(c) for c in range(0x20, 0x7F)) + CJK + PUNCT
FAMILY = "Assay Label Sans"
OUT = Path(__file__).resolve().parent / "AssayLabelSans-Bold.otf"


def subset_noto_cjk(
    ttc_path: str,
    out: Path,
    *,
    text: str,
    family: str,
    style: str,
    features: list[str],
    unique_id: str,
    description: str,
) -> int:
    """Cut ``text``'s glyphs from the Noto Sans CJK SC face of ``ttc_path`` into ``out``, renamed to
    ``family`` ``style`` as the OFL asks of modified versions; returns the glyph count.
    Shared by this label font and the public pages' font (``gateway/public/make_font.py``)."""
    coll = TTCollection(ttc_path)
    font = next(f for f in coll.fonts if f["name"].getDebugName(1) == "Noto Sans CJK SC")
    opts = subset.Options()
    opts.layout_features = features
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.drop_tables += ["VORG", "vhea", "vmtx"]
    sub = subset.Subsetter(opts)
    sub.populate(text=text)
    sub.subset(font)
    names = font["name"]
    for rec in list(names.names):
        if rec.nameID in (1, 3, 4, 6, 16, 17, 18, 21, 22):
            names.removeNames(nameID=rec.nameID)
    ps = family.replace(" ", "") + "-" + style
    names.setName(family, 1, 3, 1, 0x409)
    names.setName(style, 2, 3, 1, 0x409)
    names.setName(f"{ps};{unique_id}", 3, 3, 1, 0x409)
    names.setName(f"{family} {style}", 4, 3, 1, 0x409)
    names.setName(ps, 6, 3, 1, 0x409)
    names.setName(description, 10, 3, 1, 0x409)
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [ps]
        top = cff.topDictIndex[0]
        for attr in ("FullName", "FamilyName"):
            if hasattr(top, attr):
                setattr(top, attr, f"{family} {style}" if attr == "FullName" else family)
    font.save(out)
    return len(font.getGlyphOrder())


def main(ttc_path: str) -> None:
    glyphs = subset_noto_cjk(
        ttc_path,
        OUT,
        text=CHARS,
        family=FAMILY,
        style="Bold",
        features=["kern", "palt", "vert", "liga"],
        unique_id="subset of Noto Sans CJK SC Bold 2.004",
        description="Subset of Noto Sans CJK SC Bold (SIL OFL 1.1) for Assay's visible AI label",
    )
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {glyphs} glyphs)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
