"""Helpers of the public page tests: a released image marked as the gateway marks it, and photos."""

from __future__ import annotations

import dataclasses
import io

from PIL import Image

from provenance.mark_registry import BUILTIN_MARKS
from provenance.marks import Artifact
from provenance.released import release_row, system_name
from provenance.testing import mark_context


def released_photo(state, name: str = "coffee") -> tuple[bytes, str]:  # noqa: ANN001
    """A scikit-image photo through the gateway's marks (the crop-proof assay-wm2 watermark) and
    into the released-image index; the PNG and its record id."""
    from skimage import data as samples

    ctx = mark_context()
    art = Artifact(image=Image.fromarray(getattr(samples, name)()).resize((512, 512)), format="png")
    for mark in ("label.visible", "label.metadata", "watermark", "c2pa"):
        raw = {"scheme": "assay-wm2"} if mark == "watermark" else {}
        opts = BUILTIN_MARKS[mark].parse_options(raw)  # as a policy parses them
        art = state.marks.get(mark).apply(art, dataclasses.replace(ctx, options=opts))
    row = release_row(
        ctx.record_id,
        ctx.content_id,
        art.image,
        tenant="acme",
        created_at=ctx.created_at,
        system=system_name(ctx.model),
    )
    facts = art.facts["watermark"]  # a mapping, or the typed facts
    payload = facts["payload"] if isinstance(facts, dict) else facts.payload
    row.watermark = str(payload).lower()  # the index's lookup key: the payload in hex
    with state.db.session() as s:
        s.add(row)
    return art.data, ctx.record_id


def crop_and_recompress(data: bytes, *, crop: float = 0.08, quality: int = 80) -> bytes:
    """What a re-poster does: cut the edges off and save as JPEG (C2PA and XMP are gone)."""
    im = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = im.size
    dx, dy = int(w * crop), int(h * crop)
    out = io.BytesIO()
    im.crop((dx, dy, w - dx, h - dy)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def unrelated_photo() -> bytes:
    from skimage import data as samples

    out = io.BytesIO()
    Image.fromarray(samples.astronaut()).save(out, "JPEG", quality=90)
    return out.getvalue()
