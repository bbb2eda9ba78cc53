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

from provenance.label.fonts.make_subset import subset_noto_cjk

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
    subset_noto_cjk(
        ttc_path,
        OUT,
        text=page_characters(),
        family=FAMILY,
        style="Regular",
        features=["kern", "palt", "liga"],
        unique_id="subset of Noto Sans CJK SC Regular",
        description="Subset of Noto Sans CJK SC Regular (SIL OFL 1.1) for Assay's public pages",
    )
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(page_characters())} characters)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
