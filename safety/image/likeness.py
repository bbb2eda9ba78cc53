"""The protected-likeness gallery and the ``image.likeness`` check.

Why it exists: some people must not be depicted at all — people who opted out, a company's
executives, public figures an operator lists. An operator enrols each from one or more photos
(``assay likeness add``); every face in an input or output image is then compared with the tenant's
gallery by dlib's 128-d face descriptor, and a match within ``threshold`` (Euclidean distance;
0.6 is dlib's own operating point) gives category ``likeness`` with the person's name and distance.

Galleries are tenant-scoped: a tenant's entries are only ever compared with that tenant's images.
Removal deletes the rows; on SQLite the deleted pages are overwritten (``secure_delete``) and the
write-ahead log truncated, so the embedding is no longer anywhere in the database files. On
PostgreSQL the row is deleted and its space reclaimed by (auto)vacuum; backups and WAL archives are
the operator's retention to manage.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import numpy as np
from pydantic import ConfigDict, Field
from sqlalchemy import delete, text
from sqlmodel import col, select
from ulid import ULID

from core.errors import CheckFailed, InvalidRequest, NotFound
from core.images import DecodeLimits, decode_image
from core.plugins import typed_options
from core.store.db import Database
from safety.check import CheckInput
from safety.image.faces import FaceEngine, FaceOptions, face_engine
from safety.image.tables import EMBEDDING_MODEL, LikenessEntry, LikenessEntryPublic
from safety.verdict import Category, TargetKind, Verdict

EMBEDDING_DIM = 128
#: enrolment counts faces at least this far past the detector's boundary (weak detections are often
#: not faces; an entry made from one would protect nobody)
ENROL_MIN_MARGIN = 0.5


class LikenessOptions(FaceOptions):
    """Options of ``image.likeness``: the face-detection options plus the match threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: a face within this Euclidean distance of an entry matches it (dlib: 0.6; lower is stricter)
    threshold: float = Field(default=0.6, gt=0.0, le=1.2)


def _public(e: LikenessEntry) -> LikenessEntryPublic:
    return LikenessEntryPublic.model_validate(e, from_attributes=True)


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise InvalidRequest("a likeness entry needs a name of 1 to 200 characters", param="name")
    return name


def _clean_tenant(tenant: str) -> str:
    if not tenant or len(tenant) > 64:
        raise InvalidRequest("a tenant id of 1 to 64 characters is required", param="tenant")
    return tenant


@dataclass(frozen=True)
class GalleryView:
    """A tenant's gallery as arrays, ready for distance computation."""

    ids: list[str]
    names: list[str]
    vectors: np.ndarray  # (n, 128) float32

    def __len__(self) -> int:
        return len(self.ids)


class LikenessGallery:
    """Tenant-scoped store of protected people's face embeddings (table ``likeness_entries``)."""

    def __init__(self, db: Database, engine: FaceEngine | None = None) -> None:
        self.db = db
        self.engine = engine or face_engine()

    # --- writing ----------------------------------------------------------------------------
    def enroll(
        self,
        tenant: str,
        name: str,
        photo: bytes,
        *,
        photo_name: str = "photo",
        limits: DecodeLimits | None = None,
    ) -> LikenessEntryPublic:
        """Add the one face in ``photo`` as an entry for ``name``. Refuses photos with 0 or 2+ faces."""
        image = decode_image(photo, limits=limits, name=photo_name)
        # enrolment is rare and must not miss a second face: detect at the photo's own resolution
        opts = FaceOptions(work_side=min(2048, max(512, *image.size)))
        analysis = self.engine.analyse(image, opts)
        if not analysis.faces:  # small faces: one more try at twice the resolution
            analysis = self.engine.analyse(image, opts.model_copy(update={"upsample": 1}))
        clear = [i for i, f in enumerate(analysis.faces) if f.margin >= ENROL_MIN_MARGIN]
        if not clear:
            raise InvalidRequest(
                f"{photo_name}: no clear face found",
                hint="use a sharp frontal photo where the face is at least about 80 pixels wide",
                param=photo_name,
            )
        if len(clear) > 1:
            boxes = ", ".join(str(analysis.faces[i].as_list()) for i in clear)
            raise InvalidRequest(
                f"{photo_name}: {len(clear)} faces found ({boxes}); an entry needs one",
                hint="crop the photo to the one person to protect",
                param=photo_name,
            )
        vector = self.engine.descriptors(analysis)[clear[0]]
        return self.add(tenant, name, vector, hashlib.sha256(photo).hexdigest())

    def add(self, tenant: str, name: str, vector: np.ndarray, source_sha256: str) -> LikenessEntryPublic:
        """Store one embedding; adding the same photo for the same name again returns the existing entry."""
        tenant, name = _clean_tenant(tenant), _clean_name(name)
        vec = np.asarray(vector, dtype="<f4").reshape(-1)
        if vec.shape != (EMBEDDING_DIM,) or not np.isfinite(vec).all():
            raise InvalidRequest(f"a face embedding must be {EMBEDDING_DIM} finite numbers")
        with self.db.session() as s:
            existing = s.exec(
                select(LikenessEntry).where(
                    LikenessEntry.tenant == tenant,
                    LikenessEntry.name == name,
                    LikenessEntry.source_sha256 == source_sha256,
                )
            ).first()
            if existing is not None:
                return _public(existing)
            entry = LikenessEntry(
                id=str(ULID()),
                tenant=tenant,
                name=name,
                model=EMBEDDING_MODEL,
                source_sha256=source_sha256,
                created_at=datetime.now(UTC),
                embedding=vec.tobytes(),
            )
            s.add(entry)
            s.flush()
            return _public(entry)

    def remove(self, tenant: str, *, entry_id: str | None = None, name: str | None = None) -> int:
        """Delete one entry (by id) or every entry of a name; returns how many. NotFound if none."""
        if (entry_id is None) == (name is None):
            raise InvalidRequest("remove needs exactly one of an entry id or a name")
        tenant = _clean_tenant(tenant)
        stmt = delete(LikenessEntry).where(col(LikenessEntry.tenant) == tenant)
        stmt = (
            stmt.where(col(LikenessEntry.id) == entry_id)
            if entry_id
            else stmt.where(col(LikenessEntry.name) == _clean_name(name or ""))
        )
        with self.db.session() as s:
            if self.db.is_sqlite:
                s.execute(text("PRAGMA secure_delete=ON"))
            count = s.exec(stmt).rowcount
        if not count:
            what = f"entry {entry_id}" if entry_id else f"name {name!r}"
            raise NotFound(f"no likeness {what} in tenant {tenant!r}", hint="see `assay likeness list`")
        if self.db.is_sqlite:
            with self.db.engine.connect() as c:  # move the overwritten pages home and empty the WAL
                c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(count)

    # --- reading ----------------------------------------------------------------------------
    def list(self, tenant: str, name: str | None = None) -> list[LikenessEntryPublic]:
        q = select(LikenessEntry).where(LikenessEntry.tenant == _clean_tenant(tenant))
        if name is not None:
            q = q.where(LikenessEntry.name == _clean_name(name))
        with self.db.session() as s:
            return [_public(e) for e in s.exec(q.order_by(LikenessEntry.name, LikenessEntry.id)).all()]

    def view(self, tenant: str) -> GalleryView:
        q = select(LikenessEntry.id, LikenessEntry.name, LikenessEntry.embedding).where(
            LikenessEntry.tenant == tenant, LikenessEntry.model == EMBEDDING_MODEL
        )
        with self.db.session() as s:
            rows = s.exec(q).all()
        if not rows:
            return GalleryView([], [], np.zeros((0, EMBEDDING_DIM), np.float32))
        vectors = np.frombuffer(b"".join(r[2] for r in rows), dtype="<f4").reshape(len(rows), EMBEDDING_DIM)
        return GalleryView([r[0] for r in rows], [r[1] for r in rows], vectors.astype(np.float32))


def match_score(distance: float, threshold: float) -> float:
    """Distance mapped to 0..1: 1 at distance 0, 0.5 at the threshold, 0 at twice the threshold."""
    return float(min(1.0, max(0.0, 1.0 - distance / (2.0 * threshold))))


class LikenessCheck:
    """``image.likeness``: one ``likeness`` verdict per protected person whose face is in the image."""

    name: ClassVar[str] = "image.likeness"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.INPUT_IMAGE, TargetKind.OUTPUT_IMAGE})

    def __init__(self, gallery: LikenessGallery) -> None:
        self.gallery = gallery
        self.engine = gallery.engine

    def run(self, item: CheckInput) -> list[Verdict]:
        if item.image is None:
            raise CheckFailed(f"{self.name} needs an image (target {item.target})")
        opts = typed_options(item.options, LikenessOptions)
        face_opts = FaceOptions(**opts.model_dump(exclude={"threshold"}))
        analysis = self.engine.analyse(item.image, face_opts)  # shared with image.faces on this image
        if not analysis.faces:
            return []
        gallery = self.gallery.view(item.tenant)
        if not len(gallery):
            return []
        faces = self.engine.descriptors(analysis)
        dist = np.linalg.norm(faces[:, None, :] - gallery.vectors[None, :, :], axis=2)  # (faces, entries)
        best: dict[str, tuple[float, int, int]] = {}  # name -> (distance, face index, entry index)
        for fi, ei in zip(*np.nonzero(dist <= opts.threshold), strict=True):
            d, person = float(dist[fi, ei]), gallery.names[ei]
            if person not in best or d < best[person][0]:
                best[person] = (d, int(fi), int(ei))
        verdicts = []
        for person, (d, fi, ei) in sorted(best.items(), key=lambda kv: kv[1][0]):
            verdicts.append(
                Verdict(
                    check=self.name,
                    category=Category.LIKENESS,
                    score=match_score(d, opts.threshold),
                    target=item.target,
                    reason=f"face matches protected person {person!r} (distance {d:.3f})",
                    evidence={
                        "name": person,
                        "entry_id": gallery.ids[ei],
                        "distance": round(d, 4),
                        "threshold": opts.threshold,
                        "box": analysis.faces[fi].as_list(),
                    },
                )
            )
        return verdicts


def build_likeness_check(settings: Any) -> LikenessCheck:
    """Registry factory: the gallery lives in the gateway database (``settings.db_url``).

    Loads the landmark and descriptor models now, so the first image with a face does not pay for it.
    """
    engine = face_engine()
    engine.preload(descriptors=True)
    return LikenessCheck(LikenessGallery(Database(settings.db_url), engine))


def describe(v: Verdict) -> str:
    """One line a person reads: whose likeness, how close (the registry's ``describe``)."""
    ev = v.evidence
    return f"likeness: {ev.get('name')!r} at distance {ev.get('distance')} (score {v.score:.2f})"
