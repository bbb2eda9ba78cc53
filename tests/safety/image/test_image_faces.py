"""dlib face detection on real photographs: faces where there are faces, none elsewhere."""

from __future__ import annotations

import gc
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image
from pydantic import ValidationError

from core.images import decode_image
from safety.check import CheckInput
from safety.image.faces import FaceBox, FaceOptions, FacesCheck, PerImageMemo, face_engine, model_path
from safety.verdict import Category, Target

NO_PEOPLE = ("coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry")


@pytest.fixture(scope="module")
def check() -> FacesCheck:
    return FacesCheck()


def _run(check: FacesCheck, img: Image.Image, target: Target | None = None, **options) -> list:
    return check.run(
        CheckInput(
            target=target or Target.output_image(0),
            tenant="t",
            image=img,
            options=FaceOptions.model_validate(options),
        )
    )


@pytest.mark.parametrize("name,centre", [("astronaut", (223, 127)), ("hopper", (266, 242))])
def test_one_face_found_in_portraits(check: FacesCheck, photo, name: str, centre: tuple[int, int]) -> None:
    (v,) = _run(check, photo(name))
    assert v.category is Category.REAL_PERSON and v.check == "image.faces"
    assert v.evidence["count"] == 1 and v.score > 0.8
    x, y, w, h = v.evidence["faces"][0]["box"]
    assert abs(x + w / 2 - centre[0]) < 25 and abs(y + h / 2 - centre[1]) < 25
    assert 60 < w < 260


@pytest.mark.parametrize("name", NO_PEOPLE)
def test_no_face_in_photographs_without_people(check: FacesCheck, photo, name: str) -> None:
    assert _run(check, photo(name)) == []


def test_boxes_are_in_the_images_own_pixels(check: FacesCheck, photo) -> None:
    """Detection runs at ``work_side``; reported boxes scale back to the analysed image."""
    base = photo("astronaut")
    (v512,) = _run(check, base)
    (v1024,) = _run(check, base.resize((1024, 1024), Image.BILINEAR))
    b1, b2 = v512.evidence["faces"][0]["box"], v1024.evidence["faces"][0]["box"]
    for a, b in zip(b1, b2, strict=True):
        assert abs(2 * a - b) <= 6


def test_small_face_in_a_small_recompressed_copy_is_found(check: FacesCheck, photo, enc) -> None:
    small = decode_image(enc(photo("astronaut").resize((256, 256), Image.LANCZOS), "JPEG", quality=60))
    (v,) = _run(check, small)  # the face is ~44 px: found because detection works at 512 px
    x, y, w, h = v.evidence["faces"][0]["box"]
    assert 30 < w < 60 and 95 < x + w / 2 < 130


def test_face_in_an_uploaded_input_names_its_target(check: FacesCheck, photo) -> None:
    (v,) = _run(check, photo("hopper"), Target.input_image(0))
    assert str(v.target) == "input_image[0]"


def test_cnn_detector_option(photo) -> None:
    engine = face_engine()
    img = photo("hopper")
    analysis = engine.analyse(img, FaceOptions(detector="cnn", work_side=256))
    assert len(analysis.faces) == 1 and analysis.detector == "cnn"
    hog = engine.analyse(img, FaceOptions(work_side=256))
    a, b = analysis.faces[0], hog.faces[0]
    assert abs((a.x + a.w / 2) - (b.x + b.w / 2)) < 30


def test_score_maps_the_detector_boundary_to_one_half() -> None:
    assert FaceBox(0, 0, 1, 1, 0.0).score == pytest.approx(0.5)
    assert FaceBox(0, 0, 1, 1, 1.5).score > 0.95
    assert FaceBox(0, 0, 1, 1, -1.0).score < 0.15


def test_one_analysis_per_image_shared_across_threads(photo) -> None:
    engine = face_engine()
    img = photo("astronaut")
    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda _: engine.analyse(img), range(8)))
    assert all(r is results[0] for r in results)
    assert engine.analyse(img, FaceOptions(upsample=1)) is not results[0]  # other options, other analysis
    assert engine.analyse(img.copy()) is not results[0]  # another image object, another analysis


def test_memo_computes_once_and_forgets_dead_images() -> None:
    memo = PerImageMemo()
    img = Image.new("RGB", (8, 8))
    calls = []

    def get(_: int, im: Image.Image = img) -> object:  # img bound now: `del img` below drops the name
        return memo.get(im, "k", lambda: calls.append(1) or object())

    with ThreadPoolExecutor(4) as ex:
        out = list(ex.map(get, range(16)))
    assert len(calls) == 1 and all(o is out[0] for o in out)
    with pytest.raises(ZeroDivisionError):
        memo.get(img, "bad", lambda: 1 / 0)
    assert memo.get(img, "bad", lambda: "retried") == "retried"  # failures are not cached
    assert len(memo) == 2
    del img, out, get
    gc.collect()
    assert len(memo) == 0


def test_concurrent_checks_on_different_images_agree(check: FacesCheck, photo) -> None:
    imgs = [photo(n) for n in ("astronaut", "coffee", "hopper", "chelsea")] * 2
    with ThreadPoolExecutor(4) as ex:
        counts = list(ex.map(lambda im: len(_run(check, im)), imgs))
    assert counts == [1, 0, 1, 0] * 2


def test_descriptors_are_128_d_and_computed_once(photo) -> None:
    engine = face_engine()
    analysis = engine.analyse(photo("astronaut"))
    d = engine.descriptors(analysis)
    assert d.shape == (1, 128) and d.dtype.name == "float32"
    assert engine.descriptors(analysis) is d
    assert engine.descriptors(engine.analyse(photo("coffee"))).shape == (0, 128)


def test_options_and_model_files() -> None:
    with pytest.raises(ValidationError):
        FaceOptions(detector="haar")
    with pytest.raises(ValidationError):
        FaceOptions(work_side=10)
    for kind in ("cnn", "landmarks", "resnet"):
        assert model_path(kind).stat().st_size > 0
