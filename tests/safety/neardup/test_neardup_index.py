"""Index files: build, manifest, add, remove, resume, and the bad-input errors."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

import safety.neardup.builder as builder
from core.errors import InvalidRequest
from safety.neardup.builder import add_to_index, build_index, remove_from_index
from safety.neardup.codes import CODE_SPECS, CodeType, image_codes
from safety.neardup.errors import (
    CodeTypeMismatch,
    IndexBusy,
    IndexCorrupt,
    IndexExists,
    IndexNotFound,
    SourceError,
)
from safety.neardup.query import LoadedIndex
from safety.neardup.sources import read_source
from safety.neardup.store import MANIFEST, IndexManifest
from safety.neardup.testing import INDEXED_PHOTOS, photo


def _small_images(folder, n, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(folder / f"img{i:03d}.png")
    return folder


def test_build_writes_manifest_memmaps_and_skips_unreadable(built, photo_dir):
    m = built.manifest("train")
    assert m.count == len(INDEXED_PHOTOS) and m.code_types == [CodeType.PHASH, CodeType.DHASH]
    assert m.last_operation.op == "build" and m.last_operation.skipped == 1
    assert m.digest.startswith("sha256:") and m.code_specs[CodeType.PHASH] == CODE_SPECS[CodeType.PHASH]
    data = built.open("train")
    codes = data.codes(CodeType.PHASH)
    assert isinstance(codes, np.memmap) and codes.shape == (m.count, 8)
    rows = {e.id: e for e in data.iter_entries()}
    coffee = rows["coffee.png"]
    assert (coffee.licence, coffee.owner) == ("CC-BY-4.0", "scikit-image")
    assert np.array_equal(codes[coffee.row], image_codes(photo("coffee"), [CodeType.PHASH])[CodeType.PHASH])
    assert "broken.png" not in rows


def test_build_report_lists_skipped_and_ignored(store, photo_dir):
    report = build_index(store, "x", read_source(photo_dir), workers=1)
    assert [s.id for s in report.skipped] == ["broken.png"] and "not an image" in report.skipped[0].reason
    assert report.ignored == ["README.txt"]
    assert report.change.added == len(INDEXED_PHOTOS) and report.change.previous_digest is None


def test_digest_covers_content_not_time(store, photo_dir, tmp_path):
    a = build_index(store, "a", read_source(photo_dir), workers=1).change
    b = build_index(store, "a", read_source(photo_dir), workers=1, replace=True).change
    assert a.generation != b.generation and a.digest == b.digest and b.previous_digest == a.digest
    other = tmp_path / "other"
    shutil.copytree(photo_dir, other)
    (other / "coffee.png").unlink()
    c = build_index(store, "a", read_source(other), workers=1, replace=True).change
    assert c.digest != a.digest and c.count == a.count - 1


def test_existing_index_needs_replace_and_busy_index_refuses(built, photo_dir):
    with pytest.raises(IndexExists, match="already exists"):
        build_index(built, "train", read_source(photo_dir), workers=1)
    with built.lock("train"):
        with pytest.raises(IndexBusy):
            remove_from_index(built, "train", ["coffee.png"])


def test_all_files_unreadable_is_an_error(store, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.png").write_bytes(b"nope")
    with pytest.raises(SourceError, match="none of the 1 files"):
        build_index(store, "x", read_source(tmp_path / "src"), workers=1)
    assert not store.exists("x")


def test_add_is_incremental_and_idempotent(built, tmp_path):
    before = built.manifest("train")
    extra = tmp_path / "extra"
    extra.mkdir()
    photo("moon").save(extra / "moon.png")
    shutil.copy(built.open("train").entry(0).path, extra / built.open("train").entry(0).id)
    report = add_to_index(built, "train", read_source(extra), workers=1)
    assert report.change.added == 1 and report.already_indexed == [built.open("train").entry(0).id]
    m = built.manifest("train")
    assert m.count == before.count + 1 and m.created_at == before.created_at
    assert report.change.previous_digest == before.digest
    loaded = LoadedIndex.open(built, "train")
    assert [x.source_id for x in loaded.match_image(photo("moon"))] == ["moon.png"]
    assert [x.source_id for x in loaded.match_image(photo("coffee"))] == ["coffee.png"]
    again = add_to_index(built, "train", read_source(extra), workers=1)
    assert again.change is None and len(again.already_indexed) == 2


def test_remove_is_a_take_down(built):
    report = remove_from_index(built, "train", ["coffee.png", "unknown"])
    assert report.change.removed == 1 and report.change.removed_ids == ["coffee.png"]
    assert report.not_found == ["unknown"]
    loaded = LoadedIndex.open(built, "train")
    assert loaded.match_image(photo("coffee")) == []
    assert [x.source_id for x in loaded.match_image(photo("rocket"))] == ["rocket.png"]
    assert loaded.data.count == len(INDEXED_PHOTOS) - 1
    # only the active generation's files remain
    files = {p.name for p in built.folder("train").iterdir() if not p.name.startswith(".")}
    assert files == {MANIFEST} | {i.file for i in built.manifest("train").files.values()}
    assert remove_from_index(built, "train", ["unknown"]).change is None
    with pytest.raises(InvalidRequest, match="no ids"):
        remove_from_index(built, "train", [" "])


def test_failed_ledger_hook_leaves_index_unchanged(built, tmp_path):
    before = built.manifest("train")

    def boom(change):
        raise RuntimeError("ledger down")

    with pytest.raises(RuntimeError, match="ledger down"):
        remove_from_index(built, "train", ["coffee.png"], on_change=boom)
    assert built.manifest("train") == before
    assert built.open("train").count == before.count  # old files still there and verified


def test_interrupted_build_resumes(store, tmp_path, monkeypatch):
    src = _small_images(tmp_path / "src", 30)
    monkeypatch.setattr(builder, "BATCH_ITEMS", 8)
    calls = {"n": 0}
    real = builder._Staging.checkpoint

    def crash_after_two(self):
        real(self)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(builder._Staging, "checkpoint", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        build_index(store, "r", read_source(src), workers=1)
    assert not store.exists("r")
    # rows written after the last checkpoint must be dropped on resume
    with open(store.folder("r") / ".staging-build" / "phash.u8", "ab") as f:
        f.write(b"\xff" * 8)
    monkeypatch.setattr(builder._Staging, "checkpoint", real)
    report = build_index(store, "r", read_source(src), workers=1)
    assert report.resumed_at == 16 and report.change.count == 30
    fresh = build_index(store, "fresh", read_source(src), workers=1).change
    a, b = store.open("r"), store.open("fresh")
    assert np.array_equal(a.codes(CodeType.PHASH), b.codes(CodeType.PHASH))
    assert [e.id for e in a.iter_entries()] == [e.id for e in b.iter_entries()]
    assert not (store.folder("r") / ".staging-build").exists()
    assert fresh.count == 30


def test_resume_with_another_source_is_refused(store, tmp_path, monkeypatch):
    src = _small_images(tmp_path / "src", 10)
    monkeypatch.setattr(builder, "BATCH_ITEMS", 4)
    monkeypatch.setattr(builder, "_stage", _crash_stage(builder._stage))
    with pytest.raises(KeyboardInterrupt):
        build_index(store, "r", read_source(src), workers=1)
    monkeypatch.undo()
    (src / "img000.png").unlink()
    with pytest.raises(SourceError, match="from another source") as e:
        build_index(store, "r", read_source(src), workers=1)
    assert "--restart" in e.value.hint
    assert build_index(store, "r", read_source(src), workers=1, restart=True).change.count == 9


def _crash_stage(real):
    def stage(staging, items, **kw):
        real(staging, items[:4], **kw)
        raise KeyboardInterrupt

    return stage


@pytest.mark.slow
def test_parallel_build_equals_inline_build(store, tmp_path):
    src = _small_images(tmp_path / "src", builder.MIN_PARALLEL_ITEMS + 6)
    par = build_index(store, "p", read_source(src), workers=2).change
    seq = build_index(store, "s", read_source(src), workers=1).change
    assert par.count == seq.count == builder.MIN_PARALLEL_ITEMS + 6
    for ct in CodeType:
        assert np.array_equal(store.open("p").codes(ct), store.open("s").codes(ct))


# --- bad index files ------------------------------------------------------------------------------
def test_missing_index(store):
    with pytest.raises(IndexNotFound, match="'nope' not found") as e:
        store.open("nope")
    assert "assay index build --name nope" in e.value.hint


def test_truncated_codes_file(built):
    m = built.manifest("train")
    p = built.folder("train") / m.files["phash"].file
    p.write_bytes(p.read_bytes()[:-3])
    with pytest.raises(IndexCorrupt, match="phash file .* bytes"):
        built.open("train")


def test_flipped_byte_fails_the_checksum(built):
    m = built.folder("train") / built.manifest("train").files["dhash"].file
    data = bytearray(m.read_bytes())
    data[5] ^= 0xFF
    m.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match="SHA-256"):
        built.open("train")
    built.open("train", verify=False)  # sizes still agree: opening without the checksum works


def test_garbage_manifest_and_its_repair(built, photo_dir):
    (built.folder("train") / MANIFEST).write_text("{not json")
    with pytest.raises(IndexCorrupt, match="not a valid index manifest") as e:
        built.open("train")
    assert "--replace" in e.value.hint
    with pytest.raises(IndexCorrupt):
        build_index(built, "train", read_source(photo_dir), workers=1)
    report = build_index(built, "train", read_source(photo_dir), workers=1, replace=True)
    assert report.change.previous_digest is None and built.open("train").count == len(INDEXED_PHOTOS)


def test_edited_manifest_fails_the_digest(built):
    path = built.folder("train") / MANIFEST
    doc = json.loads(path.read_text())
    doc["count"] = 3
    path.write_text(json.dumps(doc))
    with pytest.raises(IndexCorrupt, match="digest"):
        built.open("train")


def test_index_with_other_code_parameters_is_refused(built):
    """An index whose codes were made otherwise (e.g. 16x16 pHash by another tool) is never compared."""
    path = built.folder("train") / MANIFEST
    m = IndexManifest.model_validate_json(path.read_text())
    specs = dict(m.code_specs)
    specs[CodeType.PHASH] = "imagehash.phash(hash_size=16)"
    digest = IndexManifest.content_digest(
        name=m.name,
        count=m.count,
        code_types=m.code_types,
        code_specs=specs,
        embedding=m.embedding,
        files=m.files,
    )
    path.write_text(m.model_copy(update={"code_specs": specs, "digest": digest}).model_dump_json())
    with pytest.raises(CodeTypeMismatch, match="different phash"):
        built.open("train")


def test_index_without_the_requested_code_type(store, photo_dir):
    build_index(store, "ponly", read_source(photo_dir), code_types=["phash"], workers=1)
    loaded = LoadedIndex.open(store, "ponly")
    assert loaded.match_image(photo("coffee"))[0].method == "phash"
    with pytest.raises(CodeTypeMismatch, match="holds phash codes, not dhash"):
        loaded.match_image(photo("coffee"), code_types=[CodeType.DHASH])
    with pytest.raises(CodeTypeMismatch, match="no image embeddings"):
        loaded.vectors()


def test_bad_names_are_refused(store):
    with pytest.raises(InvalidRequest, match="not valid"):
        store.open("../etc")
