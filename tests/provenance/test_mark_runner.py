"""provenance.runner: marks apply in the fixed order, each with its own options; failures stop the release."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image

from core.errors import ComponentError, MarkError, StoreError
from models.base import ModelInfo
from provenance.mark_registry import MARK_ORDER
from provenance.marks import Artifact, MarkContext
from provenance.runner import MarkRunner, in_mark_order


@dataclass(frozen=True)
class Step:
    name: str
    parsed: Any = None


class _Mark:
    def __init__(self, name: str, seen: list[tuple[str, Any]], exc: BaseException | None = None) -> None:
        self.name, self.seen, self.exc = name, seen, exc

    def apply(self, artifact: Artifact, ctx: MarkContext) -> Artifact:
        self.seen.append((self.name, ctx.options))
        if self.exc is not None:
            raise self.exc
        artifact.facts[self.name] = ctx.record_id
        return artifact


def _ctx() -> MarkContext:
    return MarkContext(
        record_id="r1",
        content_id="r1-0",
        image_index=0,
        tenant="t",
        policy_id="p",
        policy_digest="sha256:0",
        model=ModelInfo.model_construct(model_id="m"),
        created_at=datetime.now(UTC),
    )


def _runner(*marks: _Mark, **kw: Any) -> MarkRunner:
    return MarkRunner({m.name: m for m in marks}.__getitem__, **kw)  # type: ignore[arg-type]


def test_marks_apply_in_mark_order_with_their_own_options_and_are_timed() -> None:
    seen: list[tuple[str, Any]] = []
    timed: list[str] = []
    marks = [_Mark(n, seen) for n in ("c2pa", "extra", "label.visible", "watermark")]
    runner = _runner(*marks, on_latency=lambda name, s: timed.append(name))
    steps = [Step("c2pa", "sig"), Step("extra", "x"), Step("label.visible", "lab"), Step("watermark", "wm")]
    art = runner.apply(Artifact(image=Image.new("RGB", (8, 8))), _ctx(), steps, describe=repr)
    assert seen == [("label.visible", "lab"), ("watermark", "wm"), ("c2pa", "sig"), ("extra", "x")]
    assert timed == [n for n, _ in seen] and set(art.facts) == {"label.visible", "watermark", "c2pa", "extra"}
    assert [s.name for s in in_mark_order(steps)][:3] == [n for n in MARK_ORDER if n != "label.metadata"]
    # a mark named twice applies once, with the options given last
    assert [(s.name, s.parsed) for s in in_mark_order([Step("c2pa", 1), Step("c2pa", 2)])] == [("c2pa", 2)]


def test_a_failing_mark_stops_the_rest_and_its_message_loses_the_prompt() -> None:
    seen: list[tuple[str, Any]] = []
    prompt = "a portrait of Jane Q. Example at her desk"
    boom = _Mark("watermark", seen, ValueError(f"cannot embed into {prompt!r}"))
    runner = _runner(_Mark("label.visible", seen), boom, _Mark("c2pa", seen))
    steps = [Step("label.visible"), Step("watermark"), Step("c2pa")]
    with pytest.raises(MarkError, match="^mark watermark failed: ValueError") as info:
        runner.apply(
            Artifact(image=Image.new("RGB", (8, 8))),
            _ctx(),
            steps,
            describe=lambda e: f"{type(e).__name__}: {str(e).replace(prompt, '[prompt]')}",
        )
    assert "Jane" not in info.value.message and [n for n, _ in seen] == ["label.visible", "watermark"]


def test_a_component_error_passes_as_it_is() -> None:
    runner = _runner(_Mark("c2pa", [], StoreError("key store down")))
    with pytest.raises(ComponentError) as info:
        runner.apply(Artifact(image=Image.new("RGB", (8, 8))), _ctx(), [Step("c2pa")], describe=repr)
    assert type(info.value) is StoreError
