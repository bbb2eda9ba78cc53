"""Prompt -> attribute slots, for English and Chinese (Simplified and Traditional).

Why a rule-based parser: the default model conditions on five attribute slots (foreground colour,
shape, size, position, background colour). Knowing which colour word names the background is a
matter of grammar ("a red circle on a white background", "白色背景上的红色圆形",
"the background is white"), which a parser resolves exactly and a tiny network trained for a few
CPU hours does not. Unknown words are ignored and reported, never an error: any prompt yields an
image, and the record says what was not understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from models.default.concepts import Attributes
from models.default.lexicon import EN_FILLER, EN_WORDS, ZH_FILLER, ZH_MAX_LEN, ZH_WORDS

_RUNS = re.compile(r"[a-z]+|[\u3400-\u9fff\uf900-\ufaff]+|[,;.:!?\uff0c\uff1b\u3002\uff1a\u3001]")
_BREAK = ("break", "")


@dataclass(frozen=True)
class ParsedPrompt:
    attributes: Attributes
    unknown_words: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def _segment(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Split ``text`` into known concept tokens ``(kind, name)`` and a list of unknown words."""
    tokens: list[tuple[str, str]] = []
    unknown: list[str] = []
    for run in _RUNS.findall(text.lower()):
        if not run.isalpha():
            tokens.append(_BREAK)
            continue
        if run.isascii():
            if run in EN_WORDS:
                tokens.append(EN_WORDS[run])
            elif run not in EN_FILLER:
                unknown.append(run)
            continue
        i, pending = 0, ""
        while i < len(run):
            for n in range(min(ZH_MAX_LEN, len(run) - i), 0, -1):
                piece = run[i : i + n]
                if piece in ZH_WORDS or piece in ZH_FILLER:
                    break
            else:
                pending += run[i]
                i += 1
                continue
            if pending:
                unknown.append(pending)
                pending = ""
            if piece in ZH_WORDS:
                tokens.append(ZH_WORDS[piece])
            i += n
        if pending:
            unknown.append(pending)
    return tokens, unknown


def parse_prompt(prompt: str) -> ParsedPrompt:
    """Resolve a prompt into :class:`Attributes`; the first word given for a slot wins.

    A colour names the background when the next attribute word is "background"/"背景", or when
    it follows such a word without a shape after it ("background is white", "背景是白色的";
    punctuation counts as a pause, so "the background is white, a star" reads right), or
    when the foreground colour is already taken ("a red circle on white").
    """
    tokens, unknown = _segment(prompt)
    slots: dict[str, str] = {}
    notes: list[str] = []
    dropped: list[str] = []

    def put(slot: str, value: str) -> None:
        if slot in slots:
            if slots[slot] != value:
                dropped.append(f"{slot}={value}")
        else:
            slots[slot] = value

    for i, (kind, name) in enumerate(tokens):
        if kind in ("background", "break"):
            continue
        if kind != "colour":
            put(kind, name)
            continue
        nxt = tokens[i + 1][0] if i + 1 < len(tokens) else None
        prev = tokens[i - 1][0] if i > 0 else None
        if nxt == "background":
            put("background", name)
        elif prev == "background" and nxt != "shape" and "background" not in slots:
            put("background", name)
        elif "colour" in slots and "background" not in slots:
            put("background", name)
        else:
            put("colour", name)

    attributes = Attributes(**slots)
    if unknown:
        notes.append("unknown words ignored: " + ", ".join(dict.fromkeys(unknown)))
    if dropped:
        notes.append("conflicting attributes ignored (first one kept): " + ", ".join(dropped))
    if attributes.is_empty():
        notes.append("no known attribute in prompt: the model drew an unconditioned scene")
    return ParsedPrompt(attributes=attributes, unknown_words=tuple(unknown), notes=tuple(notes))
