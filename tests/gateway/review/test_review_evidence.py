"""What the review page draws from verdict evidence (boxes, spans, near-duplicates), and its language
choice."""

from __future__ import annotations

from gateway.review.evidence import image_evidence, near_duplicates, prompt_segments
from gateway.review.i18n import MESSAGES, Translator, pick_lang
from safety.verdict import Category, Target, TargetKind, Verdict


def _v(category: str, target: Target, evidence: dict, score: float = 0.8, check: str = "c") -> Verdict:
    return Verdict(check=check, category=Category(category), score=score, target=target, evidence=evidence)


def test_boxes_from_every_evidence_shape_clipped_to_the_image() -> None:
    out0 = Target.output_image(0)
    verdicts = [
        _v("real_person", out0, {"faces": [{"box": [10, 10, 20, 20], "score": 0.9}, {"box": "junk"}]}),
        _v("sexual", out0, {"detections": [{"label": "EXPOSED", "score": 0.7, "box": [90, 90, 50, 50]}]}),
        _v("likeness", out0, {"box": [0, 0, 5, 5], "name": "someone"}),
        _v("likeness", Target.output_image(1), {"box": [1, 1, 5, 5]}),  # another image
        _v(
            "real_person", Target.input_image(0), {"faces": [{"box": [1, 1, 5, 5]}]}
        ),  # the input, not the output
        _v("sexual", out0, {"detections": [{"box": [200, 200, 10, 10]}]}),  # wholly outside: dropped
    ]
    ev = image_evidence(verdicts, TargetKind.OUTPUT_IMAGE, 0, (100, 100))
    boxes = [(b.kind, b.x, b.y, b.w, b.h) for b in ev.boxes]
    assert boxes == [("face", 10, 10, 20, 20), ("nsfw", 90, 90, 10, 10), ("likeness", 0, 0, 5, 5)]
    assert "EXPOSED 0.70" in ev.boxes[1].label and "someone" in ev.boxes[2].label
    assert len(ev.findings) == 4
    assert [b.x for b in image_evidence(verdicts, TargetKind.INPUT_IMAGE, 0, (100, 100)).boxes] == [1]


def test_prompt_spans_merge_and_bad_spans_are_ignored() -> None:
    prompt = "draw Ada Lovelace nude"
    p = Target.prompt()
    verdicts = [
        _v("real_person", p, {"start": 5, "end": 17}, 0.6, "prompt.persons"),
        _v(
            "sexual",
            p,
            {"start": 18, "end": 22, "matches": [{"start": 9, "end": 17}, {"start": 30, "end": 40}]},
            0.9,
            "prompt.lexicon",
        ),
        _v("pii", p, {"start": -1, "end": 3}),
        _v("pii", Target.output_image(0), {"start": 0, "end": 4}),
    ]
    segs = prompt_segments(prompt, verdicts)
    assert "".join(s.text for s in segs) == prompt
    marked = [(s.text, len(s.labels)) for s in segs if s.highlighted]
    assert marked == [("Ada ", 1), ("Lovelace", 2), ("nude", 1)]
    assert prompt_segments(None, verdicts) == []


def test_near_duplicate_matches() -> None:
    v = _v(
        "copyright",
        Target.output_image(0),
        {
            "source_id": "s1",
            "index": "art",
            "distance": 4,
            "method": "phash",
            "similarity": None,
            "path": "/x.png",
            "licence": "CC-BY",
        },
    )
    [m] = near_duplicates([v, _v("sexual", Target.output_image(0), {})])
    assert (m.source_id, m.distance, m.similarity, m.method, m.number) == ("s1", 4.0, None, "phash", 0)


def test_language_choice_and_complete_translations() -> None:
    assert pick_lang(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert pick_lang(None, "en-US,en;q=0.9,zh;q=0.8") == "en"
    assert pick_lang(None, "fr-FR, zh;q=0.5") == "zh"
    assert pick_lang(None, None) == "en"
    assert pick_lang("en", "zh-CN") == "en" and pick_lang("xx", "zh") == "zh"
    assert all(en and zh for en, zh in MESSAGES.values())
    assert Translator("zh")("approve") == "通过" and Translator("zh")("no-such-key") == "no-such-key"
    # every state, reason code and category the page can show has both languages
    from gateway.review.models import ReasonCode, ReviewAction, ReviewState

    for key in (
        [f"state_{s.value}" for s in ReviewState]
        + [f"code_{c.value}" for c in ReasonCode]
        + [f"cat_{c.value}" for c in Category]
        + [f"action_{a.value}" for a in ReviewAction]
    ):
        assert key in MESSAGES, key
