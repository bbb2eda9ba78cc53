"""Recording released images and finding them again: by content id, watermark payload, or pHash.

The pipeline builds the row of each image it releases with :func:`release_row` and hands the rows
to the ledger append of the generation's record (:meth:`provenance.ledger.log.Ledger.append`,
``with_rows``): one transaction, so a row exists exactly when its record does, even when the
process dies between the two; :mod:`provenance.verify` calls the finders. See :mod:`provenance.tables` for why
the pHash is banded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import imagehash
import numpy as np
from PIL import Image
from sqlmodel import Session, or_, select

from provenance.tables import PHASH_BANDS, ReleasedImage

#: the largest pHash distance the banded index finds with certainty (len(PHASH_BANDS) - 1)
MAX_RADIUS = len(PHASH_BANDS) - 1
#: distance up to which a pHash match is reported (measured here: JPEG 75 + 0.5x moves 0-2 bits,
#: brightness +20% up to 6; unrelated photos are 20+ apart)
DEFAULT_RADIUS = 5
#: grey-level standard deviation (0..255, at 32x32) below which an image is too flat for a pHash:
#: every flat image hashes alike, and a "match" would mean nothing
MIN_DETAIL = 2.0


def phash64(image: Image.Image) -> int:
    """The 64-bit DCT perceptual hash (imagehash.phash) as an unsigned int."""
    bits = imagehash.phash(image).hash.flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def has_detail(image: Image.Image) -> bool:
    small = np.asarray(image.convert("L").resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float32)
    return float(small.std()) >= MIN_DETAIL


def to_signed(h: int) -> int:
    return h - (1 << 64) if h >= (1 << 63) else h


def to_unsigned(h: int) -> int:
    return h + (1 << 64) if h < 0 else h


def bands(h: int) -> tuple[int, ...]:
    out, shift = [], 64
    for width in PHASH_BANDS:
        shift -= width
        out.append((h >> shift) & ((1 << width) - 1))
    return tuple(out)


def system_name(model: Any) -> str:
    """``model id (version)`` from a ModelInfo, for public verification."""
    version = getattr(model, "revision", None) or (getattr(model, "weights_digest", None) or "")[:19] or None
    mid = getattr(model, "model_id", str(model))
    return f"{mid} ({version})" if version else mid


def _naive_utc(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def release_row(
    record_id: str,
    content_id: str,
    image: Image.Image,
    *,
    tenant: str,
    created_at: datetime,
    system: str,
    watermark: str | None = None,
    manifest_digest: str | None = None,
) -> ReleasedImage:
    """The index row of one released image (not yet stored).

    ``image`` is the released image (after the marks); ``watermark`` is the watermark's payload in
    hex (:class:`provenance.ledger.bodies.WatermarkFacts` ``payload``); ``system`` e.g. :func:`system_name`.
    """
    h = phash64(image)
    b = bands(h)
    row = ReleasedImage(
        content_id=content_id,
        record_id=record_id,
        tenant=tenant,
        created_at=_naive_utc(created_at),
        system=system[:300],
        phash=to_signed(h),
        ph0=b[0],
        ph1=b[1],
        ph2=b[2],
        ph3=b[3],
        ph4=b[4],
        ph5=b[5],
        watermark=watermark.lower() if watermark is not None else None,
        manifest_digest=manifest_digest,
    )
    return row


@dataclass(frozen=True)
class PhashMatch:
    row: ReleasedImage
    distance: int


def find_by_phash(
    session: Session, h: int, *, radius: int = DEFAULT_RADIUS, limit: int = 10
) -> list[PhashMatch]:
    """Released images within ``radius`` bits of pHash ``h`` (radius <= MAX_RADIUS), nearest first."""
    if not 0 <= radius <= MAX_RADIUS:
        raise ValueError(f"radius must be within 0..{MAX_RADIUS}")
    b = bands(h)
    cols = (
        ReleasedImage.ph0,
        ReleasedImage.ph1,
        ReleasedImage.ph2,
        ReleasedImage.ph3,
        ReleasedImage.ph4,
        ReleasedImage.ph5,
    )
    stmt = select(ReleasedImage).where(or_(*[c == v for c, v in zip(cols, b, strict=True)])).limit(5000)
    out = []
    for row in session.exec(stmt):
        d = (to_unsigned(row.phash) ^ h).bit_count()
        if d <= radius:
            out.append(PhashMatch(row, d))
    out.sort(key=lambda m: (m.distance, m.row.created_at))
    return out[:limit]


def get_release(session: Session, content_id: str) -> ReleasedImage | None:
    return session.get(ReleasedImage, content_id)


def find_by_watermark(session: Session, payload: str) -> list[ReleasedImage]:
    return list(
        session.exec(select(ReleasedImage).where(ReleasedImage.watermark == payload.lower()).limit(10))
    )


def find_by_record(session: Session, record_id: str) -> list[ReleasedImage]:
    return list(session.exec(select(ReleasedImage).where(ReleasedImage.record_id == record_id).limit(100)))
