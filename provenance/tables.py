"""The released-image index: one row per image the gateway released, for `verify` to look up.

Why a table of its own: a copy found in the wild usually has no metadata left, so ``verify``
needs ways back to the record that do not rely on the file: the watermark payload and a
perceptual hash. Each released image gets a row with its ids, what public verification may
reveal (provider-side system name and time, no prompt, no requester), its watermark payload and
its 64-bit pHash.

The pHash is also stored split into six bands (11+11+11+11+10+10 bits), each indexed: two hashes
within Hamming distance 5 agree exactly on at least one band (pigeonhole), so a radius-5 search is
"rows sharing a band" — six indexed equality lookups on SQLite and PostgreSQL alike — followed by
an exact distance check, instead of a scan of the table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Float, Index, Integer, LargeBinary, String
from sqlmodel import Field, SQLModel

#: widths of the pHash bands, most significant first (sum 64)
PHASH_BANDS = (11, 11, 11, 11, 10, 10)


class ReleasedImage(SQLModel, table=True):
    __tablename__ = "released_images"
    __table_args__ = (
        Index("ix_released_images_ph0", "ph0"),
        Index("ix_released_images_ph1", "ph1"),
        Index("ix_released_images_ph2", "ph2"),
        Index("ix_released_images_ph3", "ph3"),
        Index("ix_released_images_ph4", "ph4"),
        Index("ix_released_images_ph5", "ph5"),
    )

    content_id: str = Field(sa_column=Column(String(64), primary_key=True))
    record_id: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    tenant: str = Field(sa_column=Column(String(128), nullable=False))
    #: naive UTC, as in the ledger
    created_at: datetime = Field(sa_column=Column(DateTime, nullable=False))
    #: the generative system as public verification names it: "model id (version)"
    system: str = Field(sa_column=Column(String(300), nullable=False))
    #: the 64-bit pHash as a signed 64-bit integer (two's complement of the unsigned hash)
    phash: int = Field(sa_column=Column(BigInteger, nullable=False))
    ph0: int = Field(sa_column=Column(Integer, nullable=False))
    ph1: int = Field(sa_column=Column(Integer, nullable=False))
    ph2: int = Field(sa_column=Column(Integer, nullable=False))
    ph3: int = Field(sa_column=Column(Integer, nullable=False))
    ph4: int = Field(sa_column=Column(Integer, nullable=False))
    ph5: int = Field(sa_column=Column(Integer, nullable=False))
    #: watermark payload, lower-case hex (None when the policy had no watermark)
    watermark: str | None = Field(default=None, sa_column=Column(String(128), nullable=True, index=True))
    #: sha256 of the C2PA manifest, "sha256:<hex>" (None when not signed)
    manifest_digest: str | None = Field(default=None, sa_column=Column(String(80), nullable=True))


class ReleasedFeatures(SQLModel, table=True):
    """The local features of one released image (:mod:`provenance.released_features`)."""

    __tablename__ = "released_features"

    content_id: str = Field(sa_column=Column(String(64), primary_key=True))
    record_id: str = Field(sa_column=Column(String(64), nullable=False))
    #: how the features were computed (``provenance.released_features.SCHEME``)
    scheme: str = Field(sa_column=Column(String(32), nullable=False))
    #: the detector's work frame (pixels) and original pixels per work pixel
    work_w: int = Field(sa_column=Column(Integer, nullable=False))
    work_h: int = Field(sa_column=Column(Integer, nullable=False))
    scale: float = Field(sa_column=Column(Float, nullable=False))
    #: the released image's size
    width: int = Field(sa_column=Column(Integer, nullable=False))
    height: int = Field(sa_column=Column(Integer, nullable=False))
    count: int = Field(sa_column=Column(Integer, nullable=False))
    #: uint16 x, y per keypoint (1/32 work pixel), uint8 orientation, 32-byte ORB descriptor
    pts: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    ang: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    desc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ReleasedFeatureKey(SQLModel, table=True):
    """One LSH bucket a released image's keypoints fall in: the inverted index of the lookup.

    ``key`` is ``table << 24 | bucket``; the primary key (key, content_id) is the index a query
    reads (``WHERE key IN (...) GROUP BY content_id``)."""

    __tablename__ = "released_feature_keys"

    key: int = Field(sa_column=Column(BigInteger, primary_key=True))
    content_id: str = Field(sa_column=Column(String(64), primary_key=True))
