"""The typed record bodies read what the ledger already holds, and write the same shape back.

The bodies below are what the gateway wrote before the models existed (copied from records of
the earlier code: a released generation with every mark, a failed one, an approved review whose
outputs had no ``action``, and a queued review), so a ledger filled by an earlier version still
reads through the API, the review queue and the exports.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from models.base import GenerationMode
from provenance.ledger.bodies import (
    GenerationBody,
    GenerationOutput,
    GenerationStatus,
    MarkFacts,
    ReviewAction,
    ReviewBody,
    ReviewState,
)
from safety.verdict import Action, Category

CONTENT = "01JDQ3V6ZK7C3M5W0Y8N2P4R00-0"
MARKS = {
    "label.visible": {
        "text": "AI生成",
        "position": "bottom_right",
        "box": [180, 230, 70, 20],
        "font_size": 14,
        "glyph_height_px": 13,
        "glyph_ratio": 0.0508,
        "measured_glyph": "生",
        "plate": "dark",
        "plate_opacity": 0.55,
        "contrast": 7.12,
    },
    "label.metadata": {
        "aigc": '{"Label":"1","ContentProducer":"Assay","ProduceID":"' + CONTENT + '"}',
        "digital_source_type": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
        "produce_id": CONTENT,
    },
    "watermark": {
        "scheme": "assay-wm1",
        "payload": "9f1c2e3d4b5a6978",
        "bits": 64,
        "psnr": 40.12,
        "weakened": False,
        "masked": True,
    },
    "c2pa": {
        "manifest_digest": "sha256:" + "ab" * 32,
        "manifest_label": "urn:c2pa:1234",
        "signer": "CN=Assay development",
        "alg": "es256",
        "development_certificate": True,
        "file_sha256": "sha256:" + "cd" * 32,
    },
}
OLD_RELEASED = {
    "status": "released",
    "request": {
        "mode": "txt2img",
        "n": 2,
        "size": "256x256",
        "seed": 5,
        "steps": None,
        "guidance": None,
        "inputs": [],
        "prompt_storage": "plain",
    },
    "decision": {
        "action": "review",
        "reasons": [
            {
                "action": "review",
                "category": "real_person",
                "check": "image.faces",
                "target": "output_image[1]",
                "score": 0.9,
                "threshold": 0.5,
                "text": "real_person score 0.90 on output_image[1] reached the review threshold 0.50",
            }
        ],
    },
    "verdicts": [
        {
            "check": "image.faces",
            "category": "real_person",
            "score": 0.9,
            "target": {"kind": "output_image", "index": 1},
            "reason": "1 face detected",
            "evidence": {"count": 1, "faces": [{"box": [64, 64, 128, 128], "score": 0.9}]},
        }
    ],
    "model": {
        "backend": "test",
        "model_id": "test-photo",
        "revision": "1",
        "weights_digest": "sha256:" + "0" * 64,
        "pipeline_class": None,
        "scheduler": None,
        "seed": 5,
        "seeds": [5, 6],
        "steps": None,
        "guidance": None,
        "width": 256,
        "height": 256,
        "native_size": None,
        "resampler": None,
        "device": None,
        "dtype": None,
        "placeholder": False,
        "notes": [],
    },
    "outputs": [
        {
            "index": 0,
            "content_id": CONTENT,
            "action": "allow",
            "sha256": "ef" * 32,
            "blob": "ef" * 32,
            "media_type": "image/png",
            "marks": MARKS,
        },
        {
            "index": 1,
            "content_id": "01JDQ3V6ZK7C3M5W0Y8N2P4R00-1",
            "action": "review",
            "sha256": None,
            "blob": "12" * 32,
            "media_type": None,
            "marks": {},
        },
    ],
    "unsafe_allow_unmarked": False,
    "timings_ms": {"validate_s": 0.12, "backend_s": 3.4, "ledger_s": 5.5},
    "key_id": "k_1",
}
OLD_FAILED = {
    **copy.deepcopy(OLD_RELEASED),
    "status": "failed",
    "decision": {"action": "block", "reasons": []},
    "verdicts": [],
    "model": None,
    "outputs": [],
    "error": {
        "stage": "marks",
        "code": "mark_failed",
        "type": "RuntimeError",
        "message": "mark x failed: [prompt]",
    },
}
OLD_APPROVED = {
    "review_id": "01JDQ3V6ZK7C3M5W0Y8N2P4R99",
    "action": "approved",
    "actor": "k_reviewer2",
    "actor_role": "reviewer",
    "from": "claimed",
    "to": "approved",
    "reason_code": "false_positive",
    "comment_sha256": None,
    "approvals": 2,
    "approvals_needed": 2,
    "first_approver": "k_reviewer1",
    # the release stage of the earlier code wrote its outputs without "action"
    "outputs": [
        {
            "index": 1,
            "content_id": "01JDQ3V6ZK7C3M5W0Y8N2P4R00-1",
            "sha256": "34" * 32,
            "blob": "34" * 32,
            "media_type": "image/png",
            "marks": MARKS,
        }
    ],
}
OLD_QUEUED = {
    "review_id": "01JDQ3V6ZK7C3M5W0Y8N2P4R99",
    "action": "queued",
    "actor": "k_1",
    "actor_role": "requester",
    "from": None,
    "to": "pending",
    "reason_code": None,
    "comment_sha256": None,
    "priority": 100,
    "due_at": "2026-12-03T06:00:00.123456+00:00",
    "approvals_needed": 2,
    "images": ["01JDQ3V6ZK7C3M5W0Y8N2P4R00-1"],
}


def _keeps(new: Any, old: Any, where: str = "body") -> None:
    """``new`` says everything ``old`` said, unchanged (it may add fields with their defaults)."""
    if isinstance(old, dict):
        assert isinstance(new, dict), where
        for key, value in old.items():
            assert key in new, f"{where}.{key} was lost"
            _keeps(new[key], value, f"{where}.{key}")
    elif isinstance(old, list):
        assert isinstance(new, list) and len(new) == len(old), where
        for i, (n, o) in enumerate(zip(new, old, strict=True)):
            _keeps(n, o, f"{where}[{i}]")
    else:
        assert new == old, f"{where}: {old!r} became {new!r}"


@pytest.mark.parametrize("old", [OLD_RELEASED, OLD_FAILED], ids=["released", "failed"])
def test_a_generation_body_of_the_earlier_code_reads_back_and_writes_the_same_json(old: dict) -> None:
    body = GenerationBody.model_validate(old)
    again = body.to_body()
    _keeps(again, old)
    # only the model's description may have grown (ModelInfo gains fields with defaults over time)
    assert {k: v for k, v in again.items() if k != "model"} == {k: v for k, v in old.items() if k != "model"}
    assert body.request.mode is GenerationMode.TXT2IMG


def test_the_typed_generation_body_says_what_the_readers_need() -> None:
    body = GenerationBody.model_validate(OLD_RELEASED)
    assert body.status is GenerationStatus.RELEASED and body.decision.action is Action.REVIEW
    assert body.verdicts[0].category is Category.REAL_PERSON
    released, held = body.outputs
    assert released.action is Action.ALLOW and held.action is Action.REVIEW
    marks = released.marks
    assert marks.watermark is not None and marks.watermark.payload == "9f1c2e3d4b5a6978"
    assert marks.c2pa is not None and marks.c2pa.manifest_digest == "sha256:" + "ab" * 32
    assert marks.label_visible is not None and marks.label_visible.box == [180, 230, 70, 20]
    assert held.marks.watermark is None and held.marks.to_body() == {}
    failed = GenerationBody.model_validate(OLD_FAILED)
    assert (
        failed.error is not None
        and failed.error.stage == "marks"
        and failed.status is GenerationStatus.FAILED
    )


def test_an_approved_review_of_the_earlier_code_reads_its_outputs_as_released() -> None:
    body = ReviewBody.model_validate(OLD_APPROVED)
    assert body.action is ReviewAction.APPROVED and body.from_ is ReviewState.CLAIMED
    assert body.outputs is not None and [o.action for o in body.outputs] == [Action.ALLOW]
    again = body.to_body()
    assert again["outputs"][0] == {**OLD_APPROVED["outputs"][0], "action": "allow"}  # the one shape now
    assert {k: v for k, v in again.items() if k != "outputs"} == {
        k: v for k, v in OLD_APPROVED.items() if k != "outputs"
    }


def test_a_queued_review_keeps_only_the_parts_it_has() -> None:
    body = ReviewBody.model_validate(OLD_QUEUED)
    assert body.due_at == datetime(2026, 12, 3, 6, 0, 0, 123456, tzinfo=UTC)
    out = body.to_body()
    assert "outputs" not in out and "lease_until" not in out and "first_approver" not in out
    assert out["from"] is None and out["to"] == "pending"  # required parts stay, also when null


def test_the_shapes_refuse_what_they_do_not_know() -> None:
    """A typo or a part nobody reads is an error at the writer, not a silent new field."""
    with pytest.raises(ValidationError):
        GenerationBody.model_validate({**OLD_RELEASED, "statsu": "released"})
    with pytest.raises(ValidationError):
        ReviewBody.model_validate({**OLD_QUEUED, "action": "approved_twice"})
    with pytest.raises(ValidationError):  # a watermark fact without its payload cannot be indexed
        MarkFacts.model_validate(
            {"watermark": {k: v for k, v in MARKS["watermark"].items() if k != "payload"}}
        )
    with pytest.raises(ValidationError):
        GenerationOutput.model_validate({"index": 0, "content_id": CONTENT, "action": "maybe"})


def test_a_mark_an_operator_registered_keeps_its_facts_under_its_own_name() -> None:
    facts = MarkFacts.model_validate({**MARKS, "acme.stamp": {"ink": "blue"}})
    assert facts.model_extra == {"acme.stamp": {"ink": "blue"}}
    assert facts.to_body() == {**MARKS, "acme.stamp": {"ink": "blue"}}
