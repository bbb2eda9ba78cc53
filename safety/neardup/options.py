"""Policy options of the near-duplicate checks (validated when a policy loads).

A policy names the indexes a check searches. Each is required unless it says otherwise: a
required index that is missing makes the check raise, so the gateway fails closed instead of
releasing images it could not compare with the training data. ``required: false`` is for optional
lists (e.g. an operator's list of protected works that not every deployment has).

Example::

    checks:
      output_image:
        - name: neardup.hash
          options: {indexes: [training, {name: protected-works, required: false}], radius: 8}
        - name: neardup.clip
          options: {indexes: [training], threshold: 0.92}
        - name: neardup.local
          options: {indexes: [training, {name: protected-works, required: false}]}
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from safety.neardup.codes import ALL_CODE_TYPES, MAX_RADIUS, CodeType
from safety.neardup.store import NAME_RE


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IndexRef(_Strict):
    name: str = Field(pattern=NAME_RE.pattern)
    #: None: the check's ``required`` option decides
    required: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, v: Any) -> Any:
        return {"name": v} if isinstance(v, str) else v


class _IndexOptions(_Strict):
    indexes: list[IndexRef] = Field(min_length=1)
    #: report an image with too little detail to compare as a score-0 "undecided" verdict (the
    #: measure is its evidence), so the ledger and the reviewer see why nothing was matched
    report_undecided: bool = True
    #: whether a missing index is an error (the default) or skipped; an IndexRef may override it
    required: bool = True
    #: also query the mirrored image (perceptual codes and embeddings both change under a mirror)
    mirror: bool = True
    #: verdicts per image, closest first
    max_matches: int = Field(default=5, ge=1, le=100)

    def is_required(self, ref: IndexRef) -> bool:
        return self.required if ref.required is None else ref.required


class HashCheckOptions(_IndexOptions):
    #: Hamming radius in bits (inclusive); up to 8 is answered by the multi-hash index, above by a flat scan
    radius: int = Field(default=8, ge=0, le=MAX_RADIUS)
    codes: list[CodeType] = Field(default_factory=lambda: list(ALL_CODE_TYPES), min_length=1)


class ClipCheckOptions(_IndexOptions):
    #: cosine similarity at or above which an image counts as a copy
    threshold: float = Field(default=0.9, gt=0.0, le=1.0)
    #: model folder; default: the folder recorded in the index manifest
    model: str | None = None


class LocalCheckOptions(_IndexOptions):
    #: RANSAC inliers at or above which a verified transform counts as a copy (see
    #: :func:`safety.neardup.local.false_match_rate` for what a count means)
    min_inliers: int = Field(default=12, ge=6, le=500)
    #: (reference, view) pairs verified per query: the candidate stage's one short list over the
    #: query's views. 12 (was 8): 6 of the 61 copies of the crop + text + JPEG chain that 8 missed sat
    #: at ranks 8-11 (benchmarks/neardup_local.py: 89.8% -> 90.7%, 0 false matches of 10,000 at both)
    candidates: int = Field(default=12, ge=1, le=64)
    #: keypoints taken from the query image
    keypoints: int = Field(default=800, ge=50, le=4000)
    #: keypoints also taken from the query at half the work size (0: none), for crops that enlarge
    #: the picture past the scales its reference was indexed at (see safety.neardup.local.extract)
    coarse_keypoints: int = Field(default=400, ge=0, le=4000)
