"""One registry style for checks and marks (core.plugins): entries, options parsed once, describe()."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from core.errors import ConfigError, PolicyError
from core.plugins import Catalogue, Entry, NoOptions, typed_options
from gateway.policy import OpenOptions, Policy, parse_policy
from provenance.mark_registry import BUILTIN_MARKS, MARK_ORDER
from safety.image.faces import FaceOptions
from safety.registry import BUILTIN_CHECKS, describe_verdict
from safety.verdict import Category, Target, Verdict

REPO = Path(__file__).resolve().parents[2]


def test_every_entry_has_an_options_model_and_every_check_a_describe() -> None:
    for catalogue in (BUILTIN_CHECKS, BUILTIN_MARKS):
        for name, entry in catalogue.items():
            assert entry.name == name and entry.description
            model = entry.options_model()
            assert issubclass(model, BaseModel) and model is not NoOptions, name
    for entry in BUILTIN_CHECKS.values():
        assert callable(entry.describer()), entry.name
    # a mark the pipeline could not place would be applied after c2pa's signature
    assert set(BUILTIN_MARKS) <= set(MARK_ORDER) and MARK_ORDER[-1] == "c2pa"


def test_catalogue_refuses_twins_and_names_the_known_ones() -> None:
    cat = Catalogue("gadget", [Entry("a", factory="x:y")])
    with pytest.raises(ConfigError, match="registered twice"):
        cat.register(Entry("a", factory="x:z"))
    with pytest.raises(ConfigError, match="unknown gadget 'b'") as info:
        cat.entry("b")
    assert info.value.hint == "known: a"
    assert isinstance(cat["a"].parse_options({}), NoOptions)
    with pytest.raises(ValueError):
        cat["a"].parse_options({"anything": 1})  # a plug-in without options takes none
    assert cat.describe("a", object()) is None and cat.describe("zz", object()) is None


def test_typed_options_are_the_parsed_ones_or_the_defaults() -> None:
    parsed = FaceOptions(upsample=1)
    assert typed_options(parsed, FaceOptions) is parsed
    assert typed_options(None, FaceOptions) == FaceOptions()
    with pytest.raises(ConfigError, match="FaceOptions"):
        typed_options({"upsample": 1}, FaceOptions)  # type: ignore[arg-type]


def test_a_policy_parses_each_steps_options_once_at_load() -> None:
    pol = parse_policy((REPO / "policies" / "default.yaml").read_text(encoding="utf-8"), "default.yaml")
    for kind_steps in (pol.checks.prompt, pol.checks.input_image, pol.checks.output_image):
        for step in kind_steps:
            assert isinstance(step.parsed, BUILTIN_CHECKS[step.name].options_model())
    for step in pol.marks:
        assert isinstance(step.parsed, BUILTIN_MARKS[step.name].options_model())


def test_bad_options_and_unknown_steps_name_file_key_and_line() -> None:
    text = (
        "id: p\nunsafe_allow_unmarked: true\nchecks:\n  output_image:\n"
        "    - image.nsfw\n    - {name: image.faces, options: {upsample: 9, colour: red}}\n"
        "    - image.nudity\nmarks:\n  - {name: label.visible, options: {text: 'AI生成', opacity: 2}}\n"
    )
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "p.yaml")
    lines = info.value.details["errors"]
    assert any(line.startswith("p.yaml:6: checks.output_image.1.options.upsample:") for line in lines)
    assert "p.yaml:6: checks.output_image.1.options.colour: unknown key" in lines
    assert any(
        line.startswith("p.yaml:7: checks.output_image.2: unknown check 'image.nudity'") for line in lines
    )
    assert any(line.startswith("p.yaml:9: marks.0.options.opacity:") for line in lines)


def test_a_policy_built_in_code_may_name_a_plug_in_installed_in_code() -> None:
    pol = Policy.model_validate(
        {
            "id": "p",
            "unsafe_allow_unmarked": True,
            "checks": {"prompt": [{"name": "test.fake", "options": {"k": 1}}]},
        }
    )
    parsed = pol.checks.prompt[0].parsed
    assert isinstance(parsed, OpenOptions) and parsed.k == 1  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="upsample"):  # a known one is still checked
        Policy.model_validate(
            {
                "id": "p",
                "unsafe_allow_unmarked": True,
                "checks": {"output_image": [{"name": "image.faces", "options": {"upsample": "x"}}]},
            }
        )


def test_describe_is_the_checks_own_line_and_survives_bad_evidence() -> None:
    face = Verdict(
        check="image.faces",
        category=Category.REAL_PERSON,
        score=0.9,
        target=Target.output_image(0),
        evidence={"count": 1, "faces": [{"box": [1, 2, 3, 4]}]},
    )
    assert describe_verdict(face) == "faces: 1 at (1,2,3,4) (real_person 0.90)"
    broken = face.model_copy(update={"evidence": {"faces": [{"no": "box"}]}})
    assert describe_verdict(broken) == "image.faces: real_person 0.90"
    other = face.model_copy(update={"check": "test.other", "reason": "seen"})
    assert describe_verdict(other) == "test.other: real_person 0.90 — seen"
