"""Acceptance: altered copies of real photographs are found; unrelated photos and noise are not."""

from pathlib import Path

from PIL import ImageFilter

from core.settings import Settings
from safety.check import CheckInput
from safety.neardup.builder import build_index
from safety.neardup.check import LocalCheck
from safety.neardup.local import DETECT_FACTOR, MIN_FAST_THRESHOLD, _cv2, _work_gray, default_spec, extract
from safety.neardup.options import LocalCheckOptions
from safety.neardup.query import LoadedIndex
from safety.neardup.sources import read_source
from safety.neardup.store import IndexStore
from safety.neardup.testing import ALTERATIONS, INDEXED_PHOTOS, crop_sides, evaluate_robustness, jpeg, photo
from safety.verdict import Target


def test_altered_copies_found_unrelated_not(built):
    report = evaluate_robustness(LoadedIndex.open(built, "train"), radius=8)
    assert len(report.rows) == len(INDEXED_PHOTOS) * len(ALTERATIONS)
    missed = [(r.photo, r.alteration, r.phash_distance, r.dhash_distance) for r in report.rows if not r.found]
    assert missed == []
    assert [r for r in report.rows if r.wrong_matches] == []
    assert report.false_positives == [] and report.unrelated_queries >= 40
    # the mirrored query is what finds mirrors: both codes are far from the original's otherwise
    assert all(r.best_distance == 0 for r in report.rows if r.alteration == "mirror")


def _smooth(name: str):
    """A photograph blurred until FAST finds almost no corners at the default threshold."""
    return photo(name).filter(ImageFilter.GaussianBlur(8))


def test_a_smooth_photograph_gets_keypoints_at_a_lower_fast_threshold(tmp_path: Path):
    spec = default_spec()
    smooth = _smooth("chelsea")
    gray, _ = _work_gray(smooth, spec.work_side)
    orb = _cv2().ORB_create(nfeatures=3 * spec.ref_keypoints, fastThreshold=spec.fast_threshold)
    assert len(orb.detect(gray, None)) < spec.ref_keypoints // 4  # the case the retry is for
    assert MIN_FAST_THRESHOLD < spec.fast_threshold
    (f,) = extract(smooth, spec, spec.ref_keypoints)
    assert f.count >= spec.ref_keypoints // 4
    (sharp,) = extract(photo("astronaut"), spec, spec.ref_keypoints)  # rich in corners: no retry
    assert sharp.count == spec.ref_keypoints

    src = tmp_path / "works"
    src.mkdir()
    smooth.save(src / "smooth-chelsea.png")
    photo("astronaut").save(src / "astronaut.png")
    store = IndexStore(tmp_path / "indexes")
    build_index(store, "works", read_source(src), local=True, workers=1)
    check = LocalCheck(Settings(data_dir=tmp_path), store=store)

    def ids(im) -> list:
        opts = LocalCheckOptions(indexes=["works"])
        item = CheckInput(target=Target.output_image(0), tenant="t", image=im, options=opts)
        return [v.evidence.get("source_id") for v in check.run(item)]

    assert ids(jpeg(crop_sides(smooth, 0.8), 60)) == ["smooth-chelsea.png"]
    assert ids(_smooth("coffee")) == []  # another smooth photograph is no copy of it


def _three_captions(im):
    from PIL import ImageDraw, ImageFont

    out = im.convert("RGB")
    draw = ImageDraw.Draw(out)
    size = out.height // 10
    font = ImageFont.load_default(size=size)
    for i, y in enumerate((0.05, 0.4, 0.75)):
        draw.text(
            (out.width // 20, int(out.height * y)),
            "SALE 50% OFF @user_42 #art",
            fill=(255, 230 - 60 * i, 0),
            font=font,
            stroke_width=max(1, size // 12),
            stroke_fill=(0, 0, 0),
        )
    return out


def _corners_outside_captions(factor: int, monkeypatch) -> int:
    """Query keypoints that fall on the picture, not on its three captions, over six photos."""
    import numpy as np

    import safety.neardup.local as local

    monkeypatch.setattr(local, "DETECT_FACTOR", factor)
    spec = default_spec()
    total = 0
    for name in ("coffee", "chelsea", "astronaut", "rocket", "retina", "camera"):
        im = crop_sides(photo(name), 0.6)
        cap = _three_captions(im)
        text = np.asarray(cap.convert("L")) != np.asarray(im.convert("L"))
        text = _cv2().dilate(text.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
        (v,) = extract(cap, spec, 800)
        xs = np.clip((v.pts[:, 0] * v.scale).astype(int), 0, text.shape[1] - 1)
        ys = np.clip((v.pts[:, 1] * v.scale).astype(int), 0, text.shape[0] - 1)
        total += int((~text[ys, xs]).sum())
    return total


def test_captions_leave_the_picture_more_of_the_keypoint_budget(monkeypatch):
    # ORB keeps the strongest per pyramid level before the grid selection; at 3x the budget a
    # caption's corners took nearly all of it (220 of 4,800 on the pictures), at 6x 299
    assert _corners_outside_captions(DETECT_FACTOR, monkeypatch) >= 260
    assert _corners_outside_captions(3, monkeypatch) < 260


def test_the_coarse_view_is_the_query_at_half_the_work_size_and_maps_back_to_the_source():
    from safety.neardup.local import verify

    spec = default_spec()
    ref = photo("astronaut")  # 512 x 512
    (r,) = extract(ref, spec, spec.ref_keypoints)
    x0, y0, side = 40, 200, 256  # a crop keeping 50% of each side, enlarged 2x to the work size
    query = ref.crop((x0, y0, x0 + side, y0 + side))
    views = extract(query, spec, 800, mirror=True, coarse=400)
    assert len(views) == 4 and [v.mirrored for v in views] == [False, True, False, True]
    full, coarse = views[0], views[2]
    assert coarse.size == (full.size[0] // 2, full.size[1] // 2) and 0 < coarse.count <= 400
    assert abs(coarse.scale - 2 * full.scale) < 1e-6
    g = verify(coarse, r.pts, r.desc, r.size, r.scale, query.size, ref.size)
    assert g is not None and g.inliers >= 12 and not g.mirrored
    # the coarse view's transform is in original pixels: the query shows the crop's own box
    assert all(abs(a - b) <= 8 for a, b in zip(g.source_box, [x0, y0, side, side], strict=True))
    assert abs(g.scale - 1.0) < 0.05
    assert len(extract(query, spec, 800, mirror=True)) == 2  # coarse=0: no half-size view
