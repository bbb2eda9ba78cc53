"""neardup.local: copies after crops, mirrors, rotations, captions and paste-ins; low-information
images; the local-feature index format (add, remove, corrupt, old format); TorchScript descriptors."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from core.errors import ConfigError, InvalidRequest
from core.settings import Settings
from gateway.policy import parse_policy
from safety.check import CheckInput
from safety.neardup.builder import add_to_index, build_index, remove_from_index
from safety.neardup.check import ClipCheck, HashCheck, LocalCheck
from safety.neardup.errors import CodeTypeMismatch, IndexCorrupt
from safety.neardup.information import measure
from safety.neardup.sources import read_source
from safety.neardup.store import MANIFEST, IndexManifest, IndexStore
from safety.neardup.testing import (
    INDEXED_PHOTOS,
    caption,
    crop_sides,
    jpeg,
    low_information_images,
    paste_into,
    photo,
    save_tiny_descriptor,
)
from safety.registry import BUILTIN_CHECKS, CheckRegistry
from safety.verdict import Category, Target


def _item(image, check: str = "neardup.local", **options):
    """An output image with ``check``'s options, parsed as a policy parses them."""
    parsed = BUILTIN_CHECKS[check].parse_options(options)
    return CheckInput(target=Target.output_image(0), tenant="t", image=image, options=parsed)


@pytest.fixture(scope="module")
def local_once(tmp_path_factory: pytest.TempPathFactory, photo_dir: Path) -> Path:
    store = IndexStore(tmp_path_factory.mktemp("local") / "indexes")
    build_index(store, "works", read_source(photo_dir, licence="CC0", owner="skimage"), local=True, workers=1)
    return store.folder("works")


@pytest.fixture
def local_store(tmp_path: Path, local_once: Path) -> IndexStore:
    store = IndexStore(tmp_path / "indexes")
    shutil.copytree(local_once, store.folder("works"))
    return store


@pytest.fixture
def check(local_store: IndexStore) -> LocalCheck:
    return LocalCheck(Settings(data_dir=local_store.root.parent), store=local_store)


def test_cropped_captioned_mirrored_rotated_copy_is_found_with_its_region(check, local_store):
    original = photo("chelsea")  # 451 x 300
    edited = jpeg(caption(ImageOps.mirror(crop_sides(original, 0.7)).rotate(8, expand=True)), 60)
    hashes = HashCheck(Settings(data_dir=local_store.root.parent), store=local_store)
    assert hashes.run(_item(edited, "neardup.hash", indexes=["works"])) == []  # the hashes miss it
    (v,) = check.run(_item(edited, indexes=["works"]))
    ev = v.evidence
    assert v.check == "neardup.local" and v.category is Category.COPYRIGHT
    assert (ev["source_id"], ev["licence"], ev["owner"], ev["method"]) == (
        "chelsea.png",
        "CC0",
        "skimage",
        "local",
    )
    assert ev["inliers"] >= 12 and ev["mirrored"] is True
    assert abs(abs(ev["rotation_deg"]) - 8) < 2 and 0.9 < ev["scale"] < 1.1
    # the query shows the middle 70% of the source (rotated, so its frame's box is a little larger);
    # the keypoints that matched lie inside that middle
    x, y, w, h = ev["source_box"]
    assert x <= 0.15 * 451 + 5 and x + w >= 0.85 * 451 - 5 and y <= 0.15 * 300 + 5
    ix, iy, iw, ih = ev["source_inlier_box"]
    assert ix >= 0.15 * 451 - 5 and ix + iw <= 0.85 * 451 + 5 and iy >= 0.15 * 300 - 5
    assert 0.5 < v.score <= 1.0 and v.score == pytest.approx(1 - ev["false_match_rate"])
    assert "chelsea.png" in v.reason and f"{ev['inliers']} geometrically consistent keypoints" in v.reason


def test_copy_pasted_into_a_new_picture_is_found_where_it_was_pasted(check):
    composite, (px, py, pw, ph) = paste_into(photo("rocket"), 0.35, seed=3)
    (v,) = check.run(_item(composite, indexes=["works"]))
    assert v.evidence["source_id"] == "rocket.png"
    qx, qy, qw, qh = v.evidence["query_box"]
    assert abs(qx - px) < 15 and abs(qy - py) < 15 and abs(qw - pw) < 25 and abs(qh - ph) < 25


def test_every_indexed_photo_survives_a_side_crop_and_unrelated_photos_match_nothing(check):
    for name in INDEXED_PHOTOS[:6]:
        (v,) = check.run(_item(crop_sides(photo(name), 0.6), indexes=["works"]))
        assert v.evidence["source_id"] == f"{name}.png"
    for name in ("moon", "page", "text", "horse", "hubble_deep_field"):
        assert check.run(_item(photo(name), indexes=["works"])) == [], name


@pytest.mark.parametrize("name", sorted(low_information_images()))
def test_low_information_images_are_undecided_not_matched(check, name):
    im = low_information_images()[name]
    (v,) = check.run(_item(im, indexes=["works"]))
    assert v.score == 0.0 and v.evidence["decision"] == "undecided" and "source_id" not in v.evidence
    assert "not enough detail" in v.reason and v.evidence["information"]["limits"]["structure"] == 0.15


def test_information_measure_separates_photos_from_flat_pages_and_noise():
    for name in INDEXED_PHOTOS:
        assert measure(photo(name)).enough, name
    page = measure(photo("page"))  # lit from one side: every dHash bit says "brighter to the right"
    assert (
        page.code_bits["dhash"] == 0 and page.enough and [c.value for c in page.usable_codes()] == ["phash"]
    )
    for name, im in low_information_images().items():
        assert not measure(im).enough, name


def test_build_refuses_low_information_works_and_says_why(tmp_path, store):
    src = tmp_path / "src"
    src.mkdir()
    photo("coffee").save(src / "coffee.png")
    for name, im in low_information_images().items():
        im.save(src / f"{name.replace(' ', '-')}.png")
    report = build_index(store, "mixed", read_source(src), local=True, workers=1)
    assert report.change.count == 1
    reasons = {s.id: s.reason for s in report.skipped}
    assert set(reasons) == {f"{n.replace(' ', '-')}.png" for n in low_information_images()}
    assert all(r.startswith("not enough detail to index") for r in reasons.values())
    assert "noise-like" in reasons["noise.png"] and "near-uniform" in reasons["white.png"]


def test_a_flat_page_in_the_index_no_longer_matches_gradients_or_noise(tmp_path, store):
    src = tmp_path / "src"
    src.mkdir()
    photo("page").save(src / "page.png")
    build_index(store, "pages", read_source(src), local=True, workers=1)
    settings = Settings(data_dir=store.root.parent)
    hashes, local = HashCheck(settings, store=store), LocalCheck(settings, store=store)
    for im in low_information_images().values():
        for c in (hashes, local):
            (v,) = c.run(_item(im, c.name, indexes=["pages"]))
            assert v.evidence["decision"] == "undecided"
    (v,) = hashes.run(_item(jpeg(photo("page"), 50), "neardup.hash", indexes=["pages"]))
    assert v.evidence["source_id"] == "page.png" and v.evidence["method"] == "phash"


def test_add_and_remove_keep_the_local_tables_in_step(local_store, check, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    photo("horse").save(extra / "horse.png")
    query = crop_sides(photo("horse"), 0.65)
    assert check.run(_item(query, indexes=["works"])) == []
    report = add_to_index(local_store, "works", read_source(extra), workers=1)
    assert report.change.count == 11 and report.change.local_keypoints > local_store.manifest("works").count
    (v,) = check.run(_item(query, indexes=["works"]))  # the cache follows the new manifest
    assert v.evidence["source_id"] == "horse.png"
    remove_from_index(local_store, "works", ["horse.png", "coffee.png"])
    assert check.run(_item(query, indexes=["works"])) == []
    assert check.run(_item(crop_sides(photo("coffee"), 0.6), indexes=["works"])) == []
    (v,) = check.run(_item(crop_sides(photo("rocket"), 0.6), indexes=["works"]))
    assert v.evidence["source_id"] == "rocket.png"


def test_corrupt_local_file_is_refused_naming_the_file(local_store):
    m = local_store.manifest("works")
    assert m.format == 4
    path = local_store.folder("works") / m.files["local.lsh_post"].file
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size - 4)
    with pytest.raises(IndexCorrupt, match=r"local.lsh_post file .*lsh_post has \d+ bytes") as exc:
        local_store.open("works")
    assert "assay index build --replace --name works" in exc.value.hint


def _as_format_2(store: IndexStore, name: str) -> None:
    """Rewrite an index as format 2 wrote it: candidate tables of keypoint ids, no signatures."""
    from safety.neardup.local import build_tables

    folder = store.folder(name)
    m = store.manifest(name)
    loc = m.local
    desc = np.fromfile(folder / m.files["local.desc"].file, dtype=np.uint8).reshape(-1, 32)
    ids, off = build_tables(desc, loc.lsh_positions)
    files = {r: i.file for r, i in m.files.items() if r not in ("local.lsh_post", "local.lsh_sig")}
    files["local.lsh_ids"] = f"{m.generation}.local.lsh_ids"
    ids.tofile(folder / files["local.lsh_ids"])
    off.tofile(folder / files["local.lsh_off"])
    for r in ("local.lsh_post", "local.lsh_sig"):
        (folder / m.files[r].file).unlink()
    _write_old_manifest(folder, m, files, 2, {"sig_positions": [], "lsh_stop": 0, "lsh_postings": []})


def _write_old_manifest(folder, m, files: dict, fmt: int, dropped: dict) -> None:  # noqa: ANN001
    """The manifest an older format wrote: its ``files``, without the local spec's ``dropped`` fields."""
    from safety.neardup.builder import _info

    infos = {r: _info(folder, f) for r, f in files.items()}
    old = m.local.model_copy(update=dropped)
    doc = m.model_dump(mode="json") | {"format": fmt, "files": {r: i.model_dump() for r, i in infos.items()}}
    doc["local"] = old.model_dump(mode="json", exclude=set(dropped))
    doc["digest"] = IndexManifest.content_digest(
        name=m.name,
        count=m.count,
        code_types=m.code_types,
        code_specs=m.code_specs,
        embedding=m.embedding,
        files=infos,
        local=old,
        format=fmt,
    )
    (folder / MANIFEST).write_text(json.dumps(doc))


def test_format_2_local_index_still_loads_and_an_add_rewrites_it_as_format_4(local_store, tmp_path):
    from safety.neardup.local import InvertedTables, LocalTables
    from safety.neardup.query import LoadedIndex

    _as_format_2(local_store, "works")
    assert local_store.manifest("works").format == 2
    assert isinstance(LoadedIndex.open(local_store, "works").local_tables(), LocalTables)
    check = LocalCheck(Settings(data_dir=local_store.root.parent), store=local_store)
    (v,) = check.run(_item(crop_sides(photo("rocket"), 0.6), indexes=["works"]))
    assert v.evidence["source_id"] == "rocket.png"
    extra = tmp_path / "extra"
    extra.mkdir()
    photo("horse").save(extra / "horse.png")
    add_to_index(local_store, "works", read_source(extra), workers=1)
    m = local_store.manifest("works")
    assert (
        m.format == 4 and "local.lsh_ids" not in m.files and len(m.local.sig_positions) == m.local.lsh_tables
    )
    assert isinstance(LoadedIndex.open(local_store, "works").local_tables(), InvertedTables)
    (v,) = check.run(_item(crop_sides(photo("horse"), 0.6), indexes=["works"]))
    assert v.evidence["source_id"] == "horse.png"
    (v,) = check.run(_item(crop_sides(photo("rocket"), 0.6), indexes=["works"]))
    assert v.evidence["source_id"] == "rocket.png"


def _as_format_3(store: IndexStore, name: str) -> None:
    """Rewrite an index as format 3 wrote it: every keypoint in every table, no stop or counts."""
    from safety.neardup.local import build_postings

    folder = store.folder(name)
    m = store.manifest(name)
    loc = m.local
    desc = np.fromfile(folder / m.files["local.desc"].file, dtype=np.uint8).reshape(-1, 32)
    ang = np.fromfile(folder / m.files["local.ang"].file, dtype=np.uint8)
    kpoff = np.fromfile(folder / m.files["local.kpoff"].file, dtype=np.uint64)
    off = np.empty((loc.lsh_tables, (1 << loc.lsh_bits) + 1), np.uint32)
    files = {r: i.file for r, i in m.files.items()}
    with (
        open(folder / files["local.lsh_post"], "wb") as fp,
        open(folder / files["local.lsh_sig"], "wb") as fs,
    ):
        build_postings(desc, ang, kpoff, loc.lsh_positions, loc.sig_positions, fp, fs, off)
    off.tofile(folder / files["local.lsh_off"])
    _write_old_manifest(folder, m, files, 3, {"lsh_stop": 0, "lsh_postings": []})


def test_format_3_local_index_still_loads_with_the_same_candidates(local_store, tmp_path):
    from safety.neardup.local import extract
    from safety.neardup.query import LoadedIndex

    views = extract(crop_sides(photo("rocket"), 0.6), local_store.manifest("works").local, 800, mirror=True)
    new = LoadedIndex.open(local_store, "works").local_tables().candidates(views, 8)
    _as_format_3(local_store, "works")
    m = local_store.manifest("works")
    assert m.format == 3 and local_store.open("works").local("local.lsh_post").shape == (
        m.local.lsh_tables,
        m.local.keypoints,
    )
    ix = LoadedIndex.open(local_store, "works")
    assert ix.local_tables().candidates(views, 8) == new  # the stop applied at query time instead
    check = LocalCheck(Settings(data_dir=local_store.root.parent), store=local_store)
    (v,) = check.run(_item(crop_sides(photo("rocket"), 0.6), indexes=["works"]))
    assert v.evidence["source_id"] == "rocket.png"
    extra = tmp_path / "extra"
    extra.mkdir()
    photo("horse").save(extra / "horse.png")
    add_to_index(local_store, "works", read_source(extra), workers=1)
    m = local_store.manifest("works")
    assert m.format == 4 and m.local.lsh_stop == 128
    assert all(c <= m.local.keypoints for c in m.local.lsh_postings)
    assert local_store.open("works").local("local.lsh_post").shape == (sum(m.local.lsh_postings),)
    (v,) = check.run(_item(crop_sides(photo("horse"), 0.6), indexes=["works"]))
    assert v.evidence["source_id"] == "horse.png"


def test_format_4_stores_no_postings_of_stop_word_buckets(tmp_path):
    """A bucket longer than the stop is stored empty; every other bucket holds what format 3 holds."""
    from safety.neardup.local import Features, InvertedTables, build_postings, lsh_keys

    rng = np.random.default_rng(1)
    common = rng.integers(0, 256, (1, 32), dtype=np.uint8)
    desc = rng.integers(0, 256, (3000, 32), dtype=np.uint8)
    desc[::3] = common  # one descriptor in a third of the keypoints: one bucket of 1,000 per table
    ang = rng.integers(0, 256, 3000, dtype=np.uint8)
    kpoff = np.arange(0, 3001, 30, dtype=np.uint64)  # 100 rows of 30 keypoints
    pos = [sorted(rng.choice(256, 10, replace=False).tolist()) for _ in range(2)]
    spos = [sorted(rng.choice(256, 16, replace=False).tolist()) for _ in range(2)]
    out = {}
    for stop in (0, 200):
        off = np.empty((2, (1 << 10) + 1), np.uint32)
        with open(tmp_path / "p", "wb") as fp, open(tmp_path / "s", "wb") as fs:
            counts = build_postings(desc, ang, kpoff, pos, spos, fp, fs, off, stop=stop, chunk=700)
        post, sig = np.fromfile(tmp_path / "p", np.uint32), np.fromfile(tmp_path / "s", np.uint16)
        out[stop] = (counts, off, post, sig)
    full, cut = out[0], out[200]
    assert full[0] == [3000, 3000] and sum(cut[0]) == len(cut[2]) == len(cut[3])
    for t in range(2):
        key = int(lsh_keys(common, pos[t])[0])
        lens_full, lens_cut = np.diff(full[1][t].astype(np.int64)), np.diff(cut[1][t].astype(np.int64))
        assert lens_full[key] >= 1000 and lens_cut[key] == 0
        assert np.array_equal(lens_cut[lens_full <= 200], lens_full[lens_full <= 200])
        assert not lens_cut[lens_full > 200].any()
        assert cut[0][t] == int(lens_full[lens_full <= 200].sum())
        b_full, b_cut = t * 3000, sum(cut[0][:t])
        for k in np.flatnonzero((lens_full > 0) & (lens_full <= 200))[:50]:
            a, b = int(full[1][t][k]), int(full[1][t][k + 1])
            c, d = int(cut[1][t][k]), int(cut[1][t][k + 1])
            assert np.array_equal(full[2][b_full + a : b_full + b], cut[2][b_cut + c : b_cut + d])
            assert np.array_equal(full[3][b_full + a : b_full + b], cut[3][b_cut + c : b_cut + d])
    # the query reads the common descriptor's bucket in neither table of format 4 (empty) nor of
    # format 3 (stopped at query time): both find the same candidates
    tables4 = InvertedTables(cut[2], cut[3], cut[1], pos, spos, 100, postings=cut[0], stop=200)
    tables3 = InvertedTables(full[2].reshape(2, -1), full[3].reshape(2, -1), full[1], pos, spos, 100)
    assert tables3.stop == 0 and tables3.keypoints == 3000
    q = Features(np.zeros((60, 2), np.float32), ang[30:90].copy(), desc[30:90].copy(), (512, 512), 1.0)
    assert tables4.candidates([q], 8, burst=0) == tables3.candidates([q], 8, burst=0) != []


def test_inverted_file_ranks_a_copy_first_and_agrees_with_the_bit_reader(local_store):
    from safety.neardup.local import bit_values, extract, lsh_keys
    from safety.neardup.query import LoadedIndex

    ix = LoadedIndex.open(local_store, "works")
    desc = np.asarray(ix.data.local("local.desc")[:500])
    for pos in ix.manifest.local.lsh_positions + ix.manifest.local.sig_positions:
        assert np.array_equal(bit_values(desc, pos), lsh_keys(desc, pos))
    views = extract(crop_sides(photo("coffee"), 0.55), ix.manifest.local, 800, mirror=True)
    cands = ix.local_tables().candidates(views, 8)
    assert ix.data.entry(cands[0].row).id == "coffee.png" and cands[0].view == 0
    assert ix.local_tables().prefault() == ix.local_tables().bytes > 0
    # without the signature filter chance collisions vote too: the copy's margin shrinks
    loose = ix.local_tables().candidates(views, 8, sig_radius=16)
    assert loose[0].row == cands[0].row and loose[0].votes >= cands[0].votes


def test_warm_reads_the_inverted_file_and_fails_on_a_missing_index(check):
    from safety.neardup.errors import IndexNotFound
    from safety.neardup.options import LocalCheckOptions

    check.warm(LocalCheckOptions.model_validate({"indexes": ["works"]}))
    with pytest.raises(IndexNotFound, match="'nope' not found"):
        check.warm(LocalCheckOptions.model_validate({"indexes": ["nope"]}))


def test_too_many_rows_for_one_inverted_file_is_refused_with_the_shard_hint():
    from safety.neardup.local import MAX_ROWS, build_postings

    kpoff = np.broadcast_to(np.uint64(0), (MAX_ROWS + 2,))
    empty = np.zeros((1, 0), np.uint32)
    with pytest.raises(InvalidRequest, match="do not fit one local-feature index") as exc:
        build_postings(
            np.zeros((0, 32), np.uint8),
            np.zeros(0, np.uint8),
            kpoff,
            [[0]],
            [[1]],
            io.BytesIO(),
            io.BytesIO(),
            empty,
        )
    assert "shards" in exc.value.hint


def test_newer_format_is_refused_and_old_format_still_loads(store, photo_dir):
    build_index(store, "old", read_source(photo_dir), workers=1)  # hashes only
    folder = store.folder("old")
    doc = json.loads((folder / MANIFEST).read_text())
    # what an index written before local features looks like: format 1, digest computed as format 1
    m = IndexManifest.model_validate(doc)
    doc["format"] = 1
    doc["digest"] = IndexManifest.content_digest(
        name=m.name,
        count=m.count,
        code_types=m.code_types,
        code_specs=m.code_specs,
        embedding=m.embedding,
        files=m.files,
        format=1,
    )
    (folder / MANIFEST).write_text(json.dumps(doc))
    settings = Settings(data_dir=store.root.parent)
    (v,) = HashCheck(settings, store=store).run(_item(jpeg(photo("coffee")), "neardup.hash", indexes=["old"]))
    assert v.evidence["source_id"] == "coffee.png"
    with pytest.raises(CodeTypeMismatch, match="holds no local features"):
        LocalCheck(settings, store=store).run(_item(photo("coffee"), indexes=["old"]))
    doc["format"] = 5
    (folder / MANIFEST).write_text(json.dumps(doc))
    with pytest.raises(IndexCorrupt, match="index format 5; this version of Assay reads formats 1, 2, 3, 4"):
        store.manifest("old")


def test_registry_and_policy_know_neardup_local(local_store):
    from core.errors import PolicyError

    reg = CheckRegistry(Settings(data_dir=local_store.root.parent))
    assert isinstance(reg.get("neardup.local"), LocalCheck)
    base = "id: p\nunsafe_allow_unmarked: true\nchecks:\n  output_image:\n    - name: neardup.local\n"
    assert parse_policy(base + "      options: {indexes: [works], min_inliers: 15}\n")
    with pytest.raises(PolicyError, match="min_inliers"):
        parse_policy(base + "      options: {indexes: [works], min_inliers: 2}\n")
    with pytest.raises(PolicyError, match="indexes"):
        parse_policy(base)


def test_torchscript_descriptor_plugs_into_neardup_clip(tmp_path, store, photo_dir):
    model = save_tiny_descriptor(tmp_path / "tiny-sscd")
    build_index(store, "learned", read_source(photo_dir), clip_model=model, workers=1)
    spec = store.manifest("learned").embedding
    assert spec.dim == 16 and spec.spec.startswith("torchscript tiny.torchscript.pt")
    check = ClipCheck(Settings(data_dir=store.root.parent), store=store)
    (v,) = check.run(_item(jpeg(photo("coffee"), 70), "neardup.clip", indexes=["learned"], threshold=0.99))
    assert v.evidence["source_id"] == "coffee.png" and v.evidence["method"] == "clip"
    (model / "tiny.torchscript.pt").unlink()
    with pytest.raises(ConfigError, match=r"descriptor.json names tiny.torchscript.pt, which is missing"):
        ClipCheck(Settings(data_dir=store.root.parent), store=store).run(
            _item(photo("coffee"), "neardup.clip", indexes=["learned"])
        )


def test_missing_model_folder_is_a_clear_error(tmp_path):
    from safety.neardup.embed import load_embedder

    with pytest.raises(ConfigError, match="does-not-exist does not exist"):
        load_embedder(tmp_path / "does-not-exist")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "descriptor.json").write_text('{"format": "onnx", "file": "m.onnx", "dim": 4}')
    with pytest.raises(ConfigError, match="not a valid descriptor config"):
        load_embedder(bad)


def test_mirrored_views_give_the_descriptors_a_detection_on_the_mirror_gives(local_store):
    from safety.neardup.local import extract

    spec = local_store.manifest("works").local
    im = photo("astronaut")
    _, mirrored = extract(im, spec, 300, mirror=True)
    (direct,) = extract(ImageOps.mirror(im), spec, 300)
    # the keypoint sets differ a little (grid cells are not mirror-symmetric); where both have a
    # keypoint at the same place (and pyramid level: a few share a place across levels), the
    # descriptors are the same bits
    pos = {tuple(np.round(p, 1)): d.tobytes() for p, d in zip(direct.pts, direct.desc, strict=True)}
    shared = [(tuple(np.round(p, 1)), d.tobytes()) for p, d in zip(mirrored.pts, mirrored.desc, strict=True)]
    shared = [(k, d) for k, d in shared if k in pos]
    assert len(shared) > 50 and sum(pos[k] == d for k, d in shared) >= 0.9 * len(shared)


def test_a_target_without_an_image_is_refused(check):
    from core.errors import CheckFailed

    with pytest.raises(CheckFailed, match="looks at images"):
        check.run(
            CheckInput(
                target=Target.output_image(0),
                tenant="t",
                image=None,
                options=BUILTIN_CHECKS["neardup.local"].parse_options({"indexes": ["works"]}),
            )
        )


def test_a_tiny_image_has_too_few_keypoints_to_match_anything(check):
    tiny = photo("coffee").resize((24, 16), Image.Resampling.LANCZOS)
    assert check.run(_item(tiny, indexes=["works"])) == []


def test_cli_builds_local_features_by_default_and_queries_them(tmp_path, monkeypatch, photo_dir):
    from typer.testing import CliRunner

    from gateway.cli.index import app

    monkeypatch.setenv("ASSAY_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    built = runner.invoke(
        app, ["build", "--name", "w", str(photo_dir), "--workers", "1", "--unsafe-skip-ledger", "--json"]
    )
    assert built.exit_code == 0, built.output
    assert json.loads(built.stdout)["change"]["local_keypoints"] > 1000
    q = tmp_path / "q.jpg"
    caption(ImageOps.mirror(crop_sides(photo("coffee"), 0.7))).save(q, quality=70)
    res = runner.invoke(app, ["query", "--name", "w", "--local", str(q), "--json"])
    assert res.exit_code == 0, res.output
    (m,) = json.loads(res.stdout)
    assert m["source_id"] == "coffee.png" and m["method"] == "local" and m["geometry"]["inliers"] >= 12
    text = runner.invoke(app, ["query", "--name", "w", "--local", str(q)]).stdout
    assert text.startswith("coffee.png\tlocal ") and "inliers" in text and "source region" in text
    low = tmp_path / "blank.png"
    low_information_images()["near-white"].save(low)
    out = runner.invoke(app, ["query", "--name", "w", "--local", str(low)])
    assert out.exit_code == 0 and out.stdout.startswith("not enough detail to decide: near-uniform")
    listed = runner.invoke(app, ["list"]).stdout
    assert "phash,dhash+local" in listed
    bad = runner.invoke(app, ["query", "--name", "w", "--local", "--clip", str(q)])
    assert isinstance(bad.exception, InvalidRequest) and "choose one" in str(bad.exception)
