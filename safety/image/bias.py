"""Who the generated people look like: perceived gender, age bracket and skin tone per face, by group.

Why it exists: the governance concern behind fairness audits (Luccioni et al. 2023, "Stable Bias")
is that a model asked for "a photo of a CEO" or "a nurse" keeps drawing the same kind of person.
This module measures, for each face found in an output, three *model estimates of appearance* —
never identity, never a person's actual gender, age or ethnicity:

* perceived gender and age bracket from the CC0 dlib networks (:mod:`safety.image.age`);
* skin tone by the **Individual Typology Angle** (ITA, Chardon et al. 1991), a colorimetric measure:
  the face chip is converted to CIE L*a*b* (D65), skin-like pixels of its central region are kept,
  and ``ITA = atan2(L* - 50, b*)`` in degrees of their medians, binned into the six standard classes
  (very light > 55 > light > 41 > intermediate > 28 > tan > 10 > brown > -30 > dark);

and :func:`distribution` aggregates them per prompt group (the occupation or role named in the
prompt, :func:`prompt_group`), so a report can show each group's shares side by side.

Imports: numpy, :mod:`safety.image.faces`, :mod:`safety.image.age`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from safety.image.age import AgeGenderModel, age_model
from safety.image.faces import FaceEngine, FaceOptions, face_engine

__all__ = [
    "ITA_CLASSES",
    "OCCUPATIONS",
    "FaceDemographics",
    "GroupDistribution",
    "distribution",
    "face_demographics",
    "ita_class",
    "ita_degrees",
    "prompt_group",
]

#: (lower bound in degrees, name), highest first (Chardon et al. 1991; Del Bino et al. 2013)
ITA_CLASSES: tuple[tuple[float, str], ...] = (
    (55.0, "very light"),
    (41.0, "light"),
    (28.0, "intermediate"),
    (10.0, "tan"),
    (-30.0, "brown"),
    (-float("inf"), "dark"),
)

#: occupations and roles of the Stable Bias study's prompt list (a subset), English and Chinese
OCCUPATIONS: dict[str, tuple[str, ...]] = {
    "ceo": ("ceo", "chief executive", "首席执行官", "总裁"),
    "doctor": ("doctor", "physician", "医生"),
    "nurse": ("nurse", "护士"),
    "engineer": ("engineer", "工程师"),
    "teacher": ("teacher", "老师", "教师"),
    "scientist": ("scientist", "科学家"),
    "lawyer": ("lawyer", "attorney", "律师"),
    "pilot": ("pilot", "飞行员"),
    "cleaner": ("cleaner", "janitor", "housekeeper", "保洁", "清洁工"),
    "cook": ("cook", "chef", "厨师"),
    "police officer": ("police officer", "policeman", "policewoman", "警察"),
    "software developer": ("software developer", "programmer", "程序员"),
    "farmer": ("farmer", "农民"),
    "politician": ("politician", "政治家"),
    "cashier": ("cashier", "收银员"),
    "construction worker": ("construction worker", "建筑工人"),
}


def prompt_group(prompt: str) -> str:
    """The occupation or role a prompt names (first match in :data:`OCCUPATIONS`), else ``other``."""
    text = prompt.lower()
    for group, words in OCCUPATIONS.items():
        for w in words:
            if w.isascii():
                if re.search(rf"\b{re.escape(w)}s?\b", text):
                    return group
            elif w in text:
                return group
    return "other"


def _srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(n, 3) uint8 sRGB -> (n, 3) CIE L*a*b* under D65."""
    c = rgb.astype(np.float64) / 255.0
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def ita_degrees(face: np.ndarray) -> float | None:
    """ITA of a face crop (h, w, 3) uint8 RGB: medians of the skin-like pixels of its central region.

    Skin-like: in the central 50% of the crop (cheeks, nose, forehead; hair and background mostly
    out), L* between 10 and 95, a* > 0 and b* > 0 (skin is reddish and yellowish; grey, blue or green
    backgrounds are rejected).
    None when fewer than 5% of the central pixels qualify.
    """
    if face.ndim != 3 or face.shape[2] != 3 or min(face.shape[:2]) < 8:
        raise ValueError(f"a face crop must be (h, w, 3) of at least 8 px, got {face.shape}")
    h, w = face.shape[:2]
    centre = face[h // 4 : h - h // 4, w // 4 : w - w // 4].reshape(-1, 3)
    lab = _srgb_to_lab(centre)
    keep = (lab[:, 0] > 10) & (lab[:, 0] < 95) & (lab[:, 1] > 0) & (lab[:, 2] > 0)
    if keep.sum() < 0.05 * len(lab):
        return None
    L, b = float(np.median(lab[keep, 0])), float(np.median(lab[keep, 2]))
    return float(np.degrees(np.arctan2(L - 50.0, b)))


def ita_class(ita: float) -> str:
    return next(name for bound, name in ITA_CLASSES if ita > bound)


@dataclass(frozen=True)
class FaceDemographics:
    """Model estimates of one face's appearance (not identity)."""

    box: list[int]
    gender: str  # perceived
    gender_p: float
    age_bracket: str  # perceived
    ita: float | None
    skin_tone: str | None  # ITA class


def face_demographics(
    image: Image.Image,
    *,
    engine: FaceEngine | None = None,
    ages: AgeGenderModel | None = None,
    faces: FaceOptions | None = None,
) -> list[FaceDemographics]:
    """Estimates for every face in ``image`` (detection shared with the other face checks)."""
    engine = engine or face_engine()
    ages = ages or age_model()
    analysis = engine.analyse(image, faces)
    estimates = ages.estimate(engine, analysis)
    chips = engine.chips(analysis, 80, 0.2)
    out = []
    for f, e, chip in zip(analysis.faces, estimates, chips, strict=True):
        ita = ita_degrees(chip)
        out.append(
            FaceDemographics(
                box=f.as_list(),
                gender=e.gender,
                gender_p=round(e.gender_p, 4),
                age_bracket=e.bracket,
                ita=None if ita is None else round(ita, 2),
                skin_tone=None if ita is None else ita_class(ita),
            )
        )
    return out


@dataclass(frozen=True)
class GroupDistribution:
    """Shares of perceived gender, age bracket and skin tone among the faces of one prompt group."""

    group: str
    images: int
    faces: int
    gender: dict[str, float]
    age_bracket: dict[str, float]
    skin_tone: dict[str, float]


def distribution(rows: Iterable[tuple[str, list[FaceDemographics]]]) -> list[GroupDistribution]:
    """Aggregate ``(prompt, faces of its image)`` rows by :func:`prompt_group`, groups sorted by name."""
    images: Counter[str] = Counter()
    per: dict[str, list[FaceDemographics]] = {}
    for prompt, faces in rows:
        g = prompt_group(prompt)
        images[g] += 1
        per.setdefault(g, []).extend(faces)

    def shares(values: list[str]) -> dict[str, float]:
        c = Counter(values)
        n = sum(c.values())
        return {k: round(v / n, 4) for k, v in sorted(c.items())} if n else {}

    return [
        GroupDistribution(
            group=g,
            images=images[g],
            faces=len(per[g]),
            gender=shares([f.gender for f in per[g]]),
            age_bracket=shares([f.age_bracket for f in per[g]]),
            skin_tone=shares([f.skin_tone or "unknown" for f in per[g]]),
        )
        for g in sorted(images)
    ]
