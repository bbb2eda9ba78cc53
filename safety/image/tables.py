"""The protected-likeness gallery table (model family: the embedding never leaves the table model).

One row is one face embedding of one protected person, enrolled from one photo, owned by one tenant.
Only the embedding and the photo's SHA-256 are kept, never the photo. Removing a person deletes
their rows (see :meth:`safety.image.likeness.LikenessGallery.remove` for what "really" means per
database).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

#: embedding model id stored with each row: rows of another model are never compared
EMBEDDING_MODEL = "dlib_face_recognition_resnet_model_v1"


class LikenessEntryBase(SQLModel):
    tenant: str = Field(index=True, max_length=64)
    name: str = Field(index=True, max_length=200)
    model: str = Field(default=EMBEDDING_MODEL, max_length=64)
    #: SHA-256 of the enrolled photo's bytes (lets an operator tell which photo an entry came from)
    source_sha256: str = Field(max_length=64)
    created_at: datetime


class LikenessEntry(LikenessEntryBase, table=True):
    __tablename__ = "likeness_entries"
    __table_args__ = (
        UniqueConstraint("tenant", "name", "source_sha256", name="uq_likeness_tenant_name_source"),
    )

    id: str = Field(primary_key=True, max_length=32)  # ULID
    #: 128 little-endian float32 (dlib's face descriptor)
    embedding: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LikenessEntryPublic(LikenessEntryBase):
    id: str
