"""The prompt.lexicon check: terms through evasions, near-misses allowed, evidence on the original text."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.errors import CheckFailed, ConfigError, PayloadTooLarge
from safety.check import Check, CheckInput
from safety.prompt.lexicon import LexiconCheck, LexiconOptions
from safety.verdict import Category, Target


def cats(check: LexiconCheck, make_item, prompt: str, **kw) -> dict[str, float]:
    return {v.category.value: v.score for v in check.run(make_item(prompt, **kw))}


def test_is_a_check(lexicon: LexiconCheck) -> None:
    assert isinstance(lexicon, Check)
    assert lexicon.name == "prompt.lexicon"


@pytest.mark.parametrize(
    "prompt, category",
    [
        ("a nude woman on the beach", "sexual"),
        ("Ｎｕｄｅ photo", "sexual"),
        ("n.u.d.e photo", "sexual"),
        ("p o r n scene", "sexual"),
        ("a n\u200bude model", "sexual"),
        ("a nսde model", "sexual"),
        ("a s3x scene", "sexual"),
        ("pr0n", "sexual"),
        ("一个裸体女人", "sexual"),
        ("一个裸 体女人", "sexual"),
        ("一个裸-体女人", "sexual"),
        ("一個裸體女人", "sexual"),
        ("生成luoti美女", "sexual"),
        ("生成涩情图片", "sexual"),
        ("graphic gore", "violence"),
        ("how to kill myself", "self_harm"),
        ("gas the jews", "hate"),
        ("isis flag", "extremism"),
        ("cook meth at home", "illegal"),
        ("child porn", "minors"),
    ],
)
def test_finds_terms_through_evasions(lexicon: LexiconCheck, make_item, prompt: str, category: str) -> None:
    found = cats(lexicon, make_item, prompt)
    assert category in found, found
    assert found[category] >= 0.7  # blocks under the default policy


@pytest.mark.parametrize(
    "prompt",
    [
        "breast cancer awareness poster",
        "chicken breast recipe",
        "a photo shoot in a garden",
        "裸眼3D效果",
        "sussex countryside",
        "a therapist's office",
        "nude lipstick swatches",
        "the egyptian goddess isis",
        "anti-nazi poster",
        "我爱吃鸡，巴黎很美",
        "吃鸡巴黎",
        "自由落体运动",
        "做爱心便当",
        "形形色色的人",
        "a sperm whale",
        "magna cum laude",
        "suicide prevention hotline poster",
        "跳楼价大甩卖",
        "a killer whale",
    ],
)
def test_near_misses_do_not_fire(lexicon: LexiconCheck, make_item, prompt: str) -> None:
    assert cats(lexicon, make_item, prompt) == {}


def test_evidence_points_at_the_original_characters(lexicon: LexiconCheck, make_item) -> None:
    prompt = "a lovely Ｎ.ｕ.ｄ.ｅ portrait"
    (v,) = lexicon.run(make_item(prompt))
    ev = v.evidence
    assert prompt[ev["start"] : ev["end"]] == ev["text"] == "Ｎ.ｕ.ｄ.ｅ"
    assert ev["term"] == "nude" and ev["severity"] == "medium" and re.search(r"en\.tsv:\d+$", ev["source"])
    assert ev["matches"][0]["text"] == "Ｎ.ｕ.ｄ.ｅ"
    assert v.target == Target.prompt() and "nude" in v.reason


def test_homophone_evidence_names_the_pinyin_view(lexicon: LexiconCheck, make_item) -> None:
    (v,) = lexicon.run(make_item("生成落体美女照片"))
    assert v.evidence["view"] == "pinyin" and v.evidence["text"] == "落体" and v.evidence["term"] == "裸体"


def test_co_occurrence_rule(lexicon: LexiconCheck, make_item) -> None:
    found = cats(lexicon, make_item, "a sexy 12 year old girl")
    assert found["minors"] == 1.0 and found["sexual"] < 0.7  # "sexy" alone would only be reviewed
    (minors,) = [
        v for v in lexicon.run(make_item("a sexy 12 year old girl")) if v.category is Category.MINORS
    ]
    assert minors.evidence["rule"] == "sexual-with-minor"
    assert {m["text"] for m in minors.evidence["matches"]} == {"sexy", "12 year old"}
    assert cats(lexicon, make_item, "a 12 year old girl playing chess") == {}  # context alone is nothing


def test_several_terms_raise_the_score_a_little(lexicon: LexiconCheck, make_item) -> None:
    one = cats(lexicon, make_item, "sexy")["sexual"]
    two = cats(lexicon, make_item, "sexy lingerie")["sexual"]
    assert one < two < 0.7


def test_empty_and_blank_prompts(lexicon: LexiconCheck, make_item) -> None:
    assert lexicon.run(make_item("")) == []
    assert lexicon.run(make_item(None)) == []
    assert lexicon.run(make_item(" \u200b\t\n")) == []


def test_control_characters_and_huge_prompt(lexicon: LexiconCheck, make_item) -> None:
    assert "sexual" in cats(lexicon, make_item, "\x00\x1bnude\x07")
    big = "a quiet landscape, " * 5000 + "nude"
    assert len(big) > 95_000
    t = time.perf_counter()
    found = lexicon.run(make_item(big[:100_000]))
    assert time.perf_counter() - t < 5
    assert [v.category for v in found] == [Category.SEXUAL]
    with pytest.raises(PayloadTooLarge):
        lexicon.run(make_item("x" * 100_001))
    with pytest.raises(PayloadTooLarge):
        lexicon.run(make_item("x" * 11, options=LexiconOptions.model_validate({"max_chars": 10})))


def test_wrong_target_fails_closed(lexicon: LexiconCheck) -> None:
    with pytest.raises(CheckFailed):
        lexicon.run(CheckInput(target=Target.output_image(0), tenant="t", prompt="nude"))


def test_options(lexicon: LexiconCheck, make_item) -> None:
    assert cats(lexicon, make_item, "s3x", options=LexiconOptions.model_validate({"leet": False})) == {}
    assert (
        cats(lexicon, make_item, "生成落体美女", options=LexiconOptions.model_validate({"pinyin": False}))
        == {}
    )
    assert set(
        cats(
            lexicon,
            make_item,
            "nude gore",
            options=LexiconOptions.model_validate({"categories": ["violence"]}),
        )
    ) == {"violence"}
    with pytest.raises(ValidationError, match="no_such_option"):  # a policy file naming it is refused at load
        LexiconOptions.model_validate({"no_such_option": 1})
    LexiconOptions(extra_terms=["a.tsv"])  # paths are plain strings in YAML


def test_operator_files_extend_and_reload(tmp_path: Path, make_item) -> None:
    check = LexiconCheck(tmp_path)
    (tmp_path / "ops.tsv").write_text(
        "illegal\thigh\twidget smuggling\nsexual\tmedium\tfoo*\n", encoding="utf-8"
    )
    (tmp_path / "ops-allow.txt").write_text("foobar\n", encoding="utf-8")
    opts = {"extra_terms": ["ops.tsv"], "extra_allow": ["ops-allow.txt"]}
    assert cats(check, make_item, "widget smuggling", options=LexiconOptions.model_validate(opts)) == {
        "illegal": 0.9
    }
    (v,) = check.run(
        make_item("foos and fools", options=LexiconOptions.model_validate(opts))
    )  # one term, two hits: no bonus
    assert v.score == 0.75 and [m["text"] for m in v.evidence["matches"]] == ["foos", "fools"]
    assert cats(check, make_item, "foobar", options=LexiconOptions.model_validate(opts)) == {}
    (v,) = check.run(make_item("widget smuggling", options=LexiconOptions.model_validate(opts)))
    assert v.evidence["source"] == f"{tmp_path / 'ops.tsv'}:1"
    # the operator edits the file: the next call sees it
    time.sleep(0.01)
    (tmp_path / "ops.tsv").write_text("illegal\tlow\twidget smuggling\n", encoding="utf-8")
    assert cats(check, make_item, "widget smuggling", options=LexiconOptions.model_validate(opts)) == {
        "illegal": 0.55
    }
    # only operator terms
    assert cats(
        check,
        make_item,
        "nude widget smuggling",
        options=LexiconOptions.model_validate({**opts, "builtin": False}),
    ) == {"illegal": 0.55}
    with pytest.raises(ConfigError, match="not found"):
        check.run(make_item("x", options=LexiconOptions.model_validate({"extra_terms": ["missing.tsv"]})))


def test_thread_safe(lexicon: LexiconCheck, make_item) -> None:
    prompts = ["a nude woman", "一个裸体女人", "breast cancer poster", "graphic gore", "s3x"] * 40
    expected = [lexicon.run(make_item(p)) for p in prompts]
    results: list = [None] * len(prompts)

    def work(k: int) -> None:
        for i in range(k, len(prompts), 4):
            results[i] = lexicon.run(make_item(prompts[i]))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == expected
