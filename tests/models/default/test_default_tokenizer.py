import numpy as np
import pytest

from models.default.concepts import Attributes
from models.default.data import make_example
from models.default.tokenizer import parse_prompt


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a red circle on a white background", Attributes("red", "circle", None, None, "white")),
        ("白色背景上的红色圆形", Attributes("red", "circle", None, None, "white")),
        ("白色背景上的紅色圓形", Attributes("red", "circle", None, None, "white")),
        (
            "the background is white, a big blue star at the left",
            Attributes("blue", "star", "large", "left", "white"),
        ),
        ("背景是黑色的，右边有一个小的粉红色心形", Attributes("pink", "heart", "small", "right", "black")),
        ("a tiny grey ring on black, top", Attributes("gray", "ring", "small", "top", "black")),
        (
            "on a yellow backdrop a green triangle at the bottom",
            Attributes("green", "triangle", None, "bottom", "yellow"),
        ),
    ],
)
def test_prompts_resolve_to_slots(prompt: str, expected: Attributes) -> None:
    parsed = parse_prompt(prompt)
    assert parsed.attributes == expected
    assert parsed.notes == ()


def test_english_and_chinese_share_concept_ids() -> None:
    en = parse_prompt("a purple square on an orange background").attributes.slot_ids()
    zh = parse_prompt("橙色背景上的紫色正方形").attributes.slot_ids()
    assert en == zh
    assert en[0] != 0 and en[4] != 0


def test_unknown_words_are_ignored_and_reported() -> None:
    parsed = parse_prompt("a red circle, photorealistic, 8k 杰作")
    assert parsed.attributes == Attributes(colour="red", shape="circle")
    assert parsed.unknown_words == ("photorealistic", "k", "杰作")
    assert parsed.notes[0].startswith("unknown words ignored: photorealistic")


def test_prompt_without_known_attribute_says_so() -> None:
    parsed = parse_prompt("a portrait of a cat")
    assert parsed.attributes.is_empty()
    assert any("no known attribute" in n for n in parsed.notes)


def test_conflicting_values_keep_the_first() -> None:
    parsed = parse_prompt("a red circle square")
    assert parsed.attributes.shape == "circle"
    assert "conflicting" in parsed.notes[0]


def test_every_generated_caption_parses_to_what_it_states() -> None:
    rng = np.random.default_rng(7)
    for _ in range(1500):
        _, caption, stated = make_example(rng, size=8)
        parsed = parse_prompt(caption)
        assert parsed.attributes == stated, caption
        assert not parsed.unknown_words, caption
