"""The prompt.persons check: protected names (EN/ZH, evasions), operator lists, tenant scoping."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from safety.prompt.persons import PersonsCheck, PersonsOptions
from safety.verdict import Category


def people(check: PersonsCheck, make_item, prompt: str, **kw) -> list[str]:
    return [v.evidence["person"] for v in check.run(make_item(prompt, **kw))]


@pytest.mark.parametrize(
    "prompt, person",
    [
        ("Donald Trump in prison", "donald-trump"),
        ("D0nald Trump dancing", "donald-trump"),
        ("T r u m p dancing", "donald-trump"),
        ("特朗普穿囚服", "donald-trump"),
        ("習近平的漫画", "xi-jinping"),  # Traditional
        ("习进平的漫画", "xi-jinping"),  # homophone (pinyin: true for this entry)
        ("ＴＡＹＬＯＲ　ＳＷＩＦＴ on stage", "taylor-swift"),
    ],
)
def test_builtin_list(persons: PersonsCheck, make_item, prompt: str, person: str) -> None:
    assert people(persons, make_item, prompt) == [person]


@pytest.mark.parametrize(
    "prompt", ["a trump card game", "一条鱼变成龙", "梅西百货门口", "a swift river", "musk perfume"]
)
def test_allow_phrases_and_common_words(persons: PersonsCheck, make_item, prompt: str) -> None:
    assert people(persons, make_item, prompt) == []


def test_one_verdict_per_name_with_span(persons: PersonsCheck, make_item) -> None:
    prompt = "Elon Musk kissing Mark Zuckerberg"
    vs = persons.run(make_item(prompt))
    assert [v.evidence["person"] for v in vs] == ["elon-musk", "mark-zuckerberg"]
    for v in vs:
        assert v.category is Category.REAL_PERSON and v.score == 0.75
        assert prompt[v.evidence["start"] : v.evidence["end"]] == v.evidence["text"]


def test_operator_list_tenants_and_data_dir(tmp_path: Path, make_item) -> None:
    (tmp_path / "protected_persons.yaml").write_text(
        "persons:\n"
        "  - id: ceo\n    names: [Jane Roe, 罗简]\n    severity: high\n    tenants: [acme]\n"
        "  - id: mayor\n    names: [Max Mustermann]\n    category: political\n",
        encoding="utf-8",
    )
    check = PersonsCheck(tmp_path)
    assert people(check, make_item, "Jane Roe at the beach", tenant="acme") == ["ceo"]
    assert people(check, make_item, "Jane Roe at the beach", tenant="other") == []
    (v,) = check.run(make_item("罗简的照片", tenant="acme"))
    assert v.score == 0.9
    (v,) = check.run(make_item("Max Mustermann", tenant="x"))
    assert v.category is Category.POLITICAL
    assert (
        people(
            check,
            make_item,
            "Jane Roe",
            tenant="acme",
            options=PersonsOptions.model_validate({"data_dir_list": False}),
        )
        == []
    )
    assert (
        people(check, make_item, "Donald Trump", options=PersonsOptions.model_validate({"builtin": False}))
        == []
    )
    extra = tmp_path / "more.yaml"
    extra.write_text("persons:\n  - id: x\n    names: [Zed Zedson]\n", encoding="utf-8")
    assert people(
        check, make_item, "Zed Zedson", options=PersonsOptions.model_validate({"files": ["more.yaml"]})
    ) == ["x"]


@pytest.mark.parametrize(
    "body, message",
    [
        ("persons:\n  - id: x\n    names: [A]\n", "too short"),
        ("persons:\n  - id: x\n    names: []\n", "invalid"),
        ("persons:\n  - id: x\n    names: [Ann Lee]\n    severity: context\n", "invalid"),
        ("persons: [\n", "not valid YAML"),
        ("people: []\n", "invalid"),
    ],
)
def test_bad_operator_list(tmp_path: Path, make_item, body: str, message: str) -> None:
    (tmp_path / "bad.yaml").write_text(body, encoding="utf-8")
    check = PersonsCheck(tmp_path)
    with pytest.raises(ConfigError, match=message):
        check.run(make_item("hello", options=PersonsOptions.model_validate({"files": ["bad.yaml"]})))
