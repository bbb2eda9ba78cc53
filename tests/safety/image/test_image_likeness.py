"""The protected-likeness gallery, on SQLite and PostgreSQL, with real photographs of two people."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from core.errors import InvalidRequest, NotFound
from core.images import decode_image
from gateway.store import migrate
from safety.check import CheckInput
from safety.image.likeness import LikenessCheck, LikenessGallery, LikenessOptions, match_score
from safety.verdict import Category, Target


def _copy(photo: Image.Image, size: tuple[int, int], quality: int) -> Image.Image:
    """A resized, JPEG-recompressed copy, decoded the way an upload is."""
    buf = io.BytesIO()
    photo.resize(size, Image.LANCZOS).save(buf, "JPEG", quality=quality)
    return decode_image(buf.getvalue())


def _check(gallery: LikenessGallery, img: Image.Image, tenant: str = "acme", **options) -> list:
    return LikenessCheck(gallery).run(
        CheckInput(
            target=Target.output_image(2),
            tenant=tenant,
            image=img,
            options=LikenessOptions.model_validate(options),
        )
    )


def test_entry_from_one_photo_matches_a_resized_recompressed_copy_and_not_another_person(
    sqlite_gallery: LikenessGallery, photo, enc, hopper_bytes: bytes
) -> None:
    entry = sqlite_gallery.enroll(
        "acme", "Eileen Collins", enc(photo("astronaut")), photo_name="astronaut.png"
    )
    (v,) = _check(sqlite_gallery, _copy(photo("astronaut"), (300, 300), 60))
    assert v.category is Category.LIKENESS and v.check == "image.likeness"
    assert v.evidence["name"] == "Eileen Collins" and v.evidence["entry_id"] == entry.id
    assert v.evidence["distance"] < 0.45 and v.score >= 0.6  # policy likeness block_at 0.5
    assert str(v.target) == "output_image[2]"
    x, y, w, h = v.evidence["box"]
    assert 100 < x + w / 2 < 160  # the face, in the copy's own 300 px coordinates

    assert _check(sqlite_gallery, decode_image(hopper_bytes)) == []  # another person: no match
    sqlite_gallery.enroll("acme", "Grace Hopper", hopper_bytes)
    (v,) = _check(sqlite_gallery, _copy(photo("hopper"), (400, 469), 70))
    assert v.evidence["name"] == "Grace Hopper"


def test_distances_between_and_within_people(sqlite_gallery: LikenessGallery, photo) -> None:
    engine = sqlite_gallery.engine

    def vec(img: Image.Image) -> np.ndarray:
        return engine.descriptors(engine.analyse(img))[0]

    a, a_copy, h = (
        vec(photo("astronaut")),
        vec(_copy(photo("astronaut"), (256, 256), 50)),
        vec(photo("hopper")),
    )
    same, other = np.linalg.norm(a - a_copy), np.linalg.norm(a - h)
    assert same < 0.45 < 0.6 < other


def test_galleries_are_tenant_scoped(gallery: LikenessGallery, photo, face_vectors) -> None:
    gallery.add("acme", "Eileen Collins", face_vectors["astronaut"], "a" * 64)
    assert len(_check(gallery, photo("astronaut"))) == 1
    assert _check(gallery, photo("astronaut"), tenant="globex") == []
    assert gallery.list("globex") == []
    with pytest.raises(NotFound):
        gallery.remove("globex", name="Eileen Collins")
    assert len(gallery.list("acme")) == 1


def test_threshold_option(sqlite_gallery: LikenessGallery, photo, enc) -> None:
    sqlite_gallery.enroll("acme", "Eileen Collins", enc(photo("astronaut")))
    copy = _copy(photo("astronaut"), (256, 256), 50)
    assert len(_check(sqlite_gallery, copy)) == 1
    assert _check(sqlite_gallery, copy, threshold=0.05) == []
    with pytest.raises(ValidationError):
        LikenessOptions(threshold=0)


def test_add_list_remove(gallery: LikenessGallery, photo, face_vectors) -> None:
    astro, hopper = face_vectors["astronaut"], face_vectors["hopper"]
    e1 = gallery.add("acme", "  Eileen   Collins ", astro, "1" * 64)
    assert e1.name == "Eileen Collins" and e1.source_sha256 == "1" * 64
    assert gallery.add("acme", "Eileen Collins", astro, "1" * 64).id == e1.id  # same photo again: same entry
    e2 = gallery.add("acme", "Eileen Collins", astro + 0.01, "2" * 64)
    e3 = gallery.add("acme", "Grace Hopper", hopper, "3" * 64)
    assert {e.id for e in gallery.list("acme")} == {e1.id, e2.id, e3.id}
    assert [e.id for e in gallery.list("acme", name="Grace Hopper")] == [e3.id]
    assert not hasattr(gallery.list("acme")[0], "embedding")  # the public model never carries it
    view = gallery.view("acme")
    assert np.allclose(view.vectors[view.ids.index(e3.id)], hopper)  # stored exactly

    assert gallery.remove("acme", entry_id=e1.id) == 1
    assert gallery.remove("acme", name="Eileen Collins") == 1
    assert [e.id for e in gallery.list("acme")] == [e3.id]
    assert _check(gallery, photo("astronaut")) == []  # removed means no longer matched
    with pytest.raises(NotFound):
        gallery.remove("acme", entry_id=e1.id)
    with pytest.raises(InvalidRequest):
        gallery.remove("acme")


def test_enrol_from_a_photo(sqlite_gallery: LikenessGallery, photo, enc, face_vectors) -> None:
    astro = enc(photo("astronaut"))
    e = sqlite_gallery.enroll("acme", "Eileen Collins", astro, photo_name="astronaut.png")
    assert sqlite_gallery.enroll("acme", "Eileen Collins", astro).id == e.id
    assert np.linalg.norm(sqlite_gallery.view("acme").vectors[0] - face_vectors["astronaut"]) < 1e-4


def test_enrolment_needs_exactly_one_face(sqlite_gallery: LikenessGallery, photo, enc) -> None:
    with pytest.raises(InvalidRequest, match="no clear face found"):
        sqlite_gallery.enroll("acme", "Nobody", enc(photo("coffee")), photo_name="coffee.png")
    pair = Image.new("RGB", (1024, 600), (255, 255, 255))
    pair.paste(photo("astronaut"), (0, 0))
    pair.paste(photo("hopper").crop((0, 0, 512, 600)), (512, 0))
    with pytest.raises(InvalidRequest, match="2 faces found"):
        sqlite_gallery.enroll("acme", "Two people", enc(pair))
    with pytest.raises(InvalidRequest, match="name"):
        sqlite_gallery.enroll("acme", "   ", enc(photo("astronaut")))
    assert sqlite_gallery.list("acme") == []


def test_several_faces_and_one_protected_person(
    sqlite_gallery: LikenessGallery, photo, enc, hopper_bytes: bytes
) -> None:
    sqlite_gallery.enroll("acme", "Grace Hopper", hopper_bytes)
    pair = Image.new("RGB", (1024, 600), (255, 255, 255))
    pair.paste(photo("astronaut"), (0, 0))
    pair.paste(photo("hopper").crop((0, 0, 512, 600)), (512, 0))
    (v,) = _check(sqlite_gallery, pair, work_side=1024)
    assert v.evidence["name"] == "Grace Hopper" and v.evidence["box"][0] > 512


def test_sqlite_removal_erases_the_embedding_bytes(tmp_path: Path, face_vectors) -> None:
    from core.store import Database
    from safety.image.tables import LikenessEntry

    db = Database(f"sqlite:///{tmp_path / 'g.db'}")
    migrate(db)
    gallery = LikenessGallery(db)
    entry = gallery.add("acme", "Eileen Collins", face_vectors["astronaut"], "a" * 64)
    with db.session() as s:
        blob = s.get(LikenessEntry, entry.id).embedding

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.glob("g.db*"))

    assert blob[:64] in on_disk()
    gallery.remove("acme", entry_id=entry.id)
    assert blob[:64] not in on_disk() and blob[-64:] not in on_disk()
    db.dispose()


def test_match_score_mapping() -> None:
    assert match_score(0.0, 0.6) == 1.0
    assert match_score(0.6, 0.6) == pytest.approx(0.5)
    assert match_score(1.5, 0.6) == 0.0


def test_embedding_validation(gallery: LikenessGallery) -> None:
    with pytest.raises(InvalidRequest, match="128"):
        gallery.add("acme", "X", np.zeros(64), "0" * 64)
    with pytest.raises(InvalidRequest, match="finite"):
        gallery.add("acme", "X", np.full(128, np.nan), "0" * 64)
