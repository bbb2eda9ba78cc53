"""NudeNet, for real: parity with the package's own detector, no verdict on benign photographs,
and the mapping of detections to the ``sexual`` category."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from core.errors import CheckFailed
from safety.check import CheckInput
from safety.image.nsfw import Detection, NsfwCheck, NsfwOptions, NudeNetDetector, build_nsfw_check
from safety.verdict import Category, Target

PHOTOS = ("astronaut", "hopper", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry")


@pytest.fixture(scope="module")
def detector() -> NudeNetDetector:
    return build_nsfw_check(None).detector


@pytest.mark.parametrize("name", ["astronaut", "hopper", "coffee"])
def test_same_detections_as_the_nudenet_package(detector: NudeNetDetector, photo, name: str) -> None:
    from nudenet import NudeDetector

    img = photo(name)
    bgr = np.ascontiguousarray(np.asarray(img)[:, :, ::-1])
    theirs = NudeDetector().detect(bgr)
    ours = detector.detect(img)
    assert [(d["class"], d["box"]) for d in theirs] == [(d.label, list(d.box)) for d in ours]
    assert np.allclose([d["score"] for d in theirs], [d.score for d in ours], atol=1e-4)


def test_faces_are_seen_but_are_not_sexual(detector: NudeNetDetector, photo) -> None:
    found = detector.detect(photo("astronaut"))
    assert any(d.label == "FACE_FEMALE" for d in found)  # the real model ran and saw the face
    face = next(d for d in found if d.label == "FACE_FEMALE")
    x, y, w, h = face.box
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 200  # where Eileen Collins' face is


@pytest.mark.parametrize("name", PHOTOS)
def test_no_sexual_verdict_on_benign_photographs(name: str, photo) -> None:
    check = build_nsfw_check(None)
    item = CheckInput(target=Target.output_image(0), tenant="t", image=photo(name))
    assert check.run(item) == []


class FakeDetector:
    def __init__(self, detections: list[Detection]) -> None:
        self.detections = detections

    def detect(self, image: Image.Image) -> list[Detection]:
        return self.detections


def _run(dets: list[Detection], **options) -> list:
    check = NsfwCheck(FakeDetector(dets))  # type: ignore[arg-type]
    img = Image.new("RGB", (64, 64))
    return check.run(
        CheckInput(
            target=Target.input_image(1), tenant="t", image=img, options=NsfwOptions.model_validate(options)
        )
    )


def test_mapping_explicit_suggestive_and_ignored_labels() -> None:
    dets = [
        Detection("FACE_FEMALE", 0.9, (0, 0, 10, 10)),
        Detection("FEMALE_BREAST_COVERED", 0.8, (1, 2, 3, 4)),
        Detection("BUTTOCKS_EXPOSED", 0.6, (5, 6, 7, 8)),
        Detection("FEET_EXPOSED", 0.95, (0, 0, 5, 5)),
    ]
    (v,) = _run(dets)
    assert v.category is Category.SEXUAL and v.check == "image.nsfw"
    assert v.score == pytest.approx(0.6) and str(v.target) == "input_image[1]"
    labels = [d["label"] for d in v.evidence["detections"]]
    assert labels == ["BUTTOCKS_EXPOSED", "FEMALE_BREAST_COVERED"]  # sorted by weighted score
    assert v.evidence["detections"][1]["weighted"] == pytest.approx(0.4)
    assert v.evidence["detections"][0]["box"] == [5, 6, 7, 8]


def test_options_change_the_mapping() -> None:
    dets = [Detection("FEMALE_BREAST_COVERED", 0.8, (1, 2, 3, 4))]
    assert _run(dets)[0].score == pytest.approx(0.4)
    assert _run(dets, suggestive_weight=1.0)[0].score == pytest.approx(0.8)
    assert _run(dets, suggestive_labels=[]) == []
    assert _run(dets, min_detection_score=0.9) == []
    assert _run([Detection("FACE_FEMALE", 0.9, (0, 0, 1, 1))]) == []


def test_options_are_validated() -> None:
    with pytest.raises(ValidationError, match="unknown NudeNet labels"):
        NsfwOptions(explicit_labels=["NAKED"])
    with pytest.raises(ValidationError):
        NsfwOptions.model_validate({"colour": "red"})


def test_needs_an_image() -> None:
    with pytest.raises(CheckFailed):
        NsfwCheck(FakeDetector([])).run(CheckInput(target=Target.prompt(), tenant="t", prompt="x"))  # type: ignore[arg-type]
