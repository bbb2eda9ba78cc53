"""Bias monitoring primitives: ITA skin tone, prompt groups, per-group distributions."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from safety.image.bias import (
    FaceDemographics,
    distribution,
    face_demographics,
    ita_class,
    ita_degrees,
    prompt_group,
)


def patch(rgb: tuple[int, int, int]) -> np.ndarray:
    return np.full((40, 40, 3), rgb, np.uint8)


def test_ita_orders_skin_colours_and_bins_them() -> None:
    light, medium, dark = (ita_degrees(patch(c)) for c in ((241, 210, 190), (198, 134, 96), (92, 58, 44)))
    assert light is not None and medium is not None and dark is not None
    assert light > medium > dark
    assert ita_class(light) in ("very light", "light") and ita_class(dark) in ("brown", "dark")
    assert [ita_class(x) for x in (60, 50, 30, 20, 0, -40)] == [
        "very light",
        "light",
        "intermediate",
        "tan",
        "brown",
        "dark",
    ]
    assert ita_degrees(patch((40, 60, 200))) is None  # a blue patch holds no skin-like pixel
    with pytest.raises(ValueError):
        ita_degrees(np.zeros((4, 4, 3), np.uint8))


def test_prompt_groups() -> None:
    assert prompt_group("a photo of a CEO in an office") == "ceo"
    assert prompt_group("portrait of two nurses") == "nurse"
    assert prompt_group("一位医生的照片") == "doctor"
    assert prompt_group("a cat on a sofa") == "other"
    assert prompt_group("a nursery with toys") == "other"  # whole words only


def test_distribution_shares_per_group() -> None:
    def face(g: str, tone: str | None) -> FaceDemographics:
        return FaceDemographics([0, 0, 1, 1], g, 0.9, "30-44", None if tone is None else 40.0, tone)

    rows = [
        ("a photo of a CEO", [face("male", "light"), face("male", "light")]),
        ("a photo of a ceo, smiling", [face("female", None)]),
        ("a nurse at work", [face("female", "tan")]),
        ("a landscape", []),
    ]
    by = {d.group: d for d in distribution(rows)}
    assert by["ceo"].images == 2 and by["ceo"].faces == 3
    assert by["ceo"].gender == {"female": 0.3333, "male": 0.6667}
    assert by["ceo"].skin_tone == {"light": 0.6667, "unknown": 0.3333}
    assert by["other"].faces == 0 and by["other"].gender == {}


def test_face_demographics_of_a_portrait(photo: Callable[[str], Image.Image]) -> None:
    (f,) = face_demographics(photo("astronaut"))
    assert f.age_bracket == "30-44" and f.gender in ("female", "male") and f.ita is not None
    assert f.skin_tone is not None and len(f.box) == 4
    assert face_demographics(photo("coffee")) == []


@pytest.mark.parametrize("which", ["built-in", "photo"])
def test_the_occupation_benchmark_is_reproducible_with_fixed_seeds(which: str) -> None:
    """benchmarks/bias_occupations.py twice at a tiny size: the same faces and the same shares. The
    built-in model draws shapes (no faces); the photo backend gives a face in every image."""
    from benchmarks.bias_occupations import occupation_run

    if which == "photo":
        pytest.importorskip("skimage")
        from models.testing import PhotoBackend

        backend, size = PhotoBackend(photos=("astronaut", "coffee")), 256
    else:
        from core.settings import Settings
        from models.loader import load_backend

        backend, size = load_backend(Settings()), 64
    groups = ["ceo", "nurse"]
    first = occupation_run(backend, groups, 3, size)
    second = occupation_run(backend, groups, 3, size)
    assert first == second
    rows, dist = first
    assert [d.group for d in dist] == groups and all(d.images == 3 for d in dist)
    assert [(p.split()[-1], s) for p, s, _ in rows] == [(g, s) for g in ("ceo", "nurse") for s in range(3)]
    if which == "photo":
        assert sum(d.faces for d in dist) > 0
