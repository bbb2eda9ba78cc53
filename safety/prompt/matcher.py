"""Aho–Corasick matching of terms and allow-phrases over the normalised views of a prompt.

Why it exists: a policy may carry thousands of terms in two languages; one pass of an Aho–Corasick
automaton (pyahocorasick, C) per view finds all of them in time linear in the prompt. This module
owns the rules that make a raw substring hit a real hit:

* English patterns match whole words (the characters around the match are not letters or digits),
  unless the term ends in ``*``;
* Chinese patterns match anywhere, because Chinese has no spaces — but a hit whose characters an
  allow-phrase claims for another word (``吃鸡巴黎``: ``巴黎`` is Paris) is cancelled; that is the
  segmentation step, driven by data the operator can extend;
* every hit is reported on the ORIGINAL prompt: start, end and the text the user typed.

The same matcher serves the lexicon check (risky terms) and the protected-persons check (names).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import ahocorasick

from safety.prompt.normalize import (
    NormalizedPrompt,
    Normalizer,
    View,
    is_cjk,
    leet_skeleton,
    mask_skeleton,
    pinyin_of,
)

__all__ = ["Hit", "Pattern", "TermMatcher"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Pattern(Generic[T]):
    """Something to find: the text as written, whether the word may go on, what it stands for."""

    text: str
    payload: T
    prefix: bool = False
    #: also match Chinese homophones and typed pinyin of the pattern
    pinyin: bool = False
    #: also match the pattern in masked words (``p*rn``; single words only)
    mask: bool = False
    #: match only through its sound: the pinyin view and typed pinyin, never the written characters
    sound_only: bool = False


@dataclass(frozen=True, slots=True)
class Hit(Generic[T]):
    """A pattern found in the prompt: ``start:end`` and ``text`` are in the ORIGINAL prompt."""

    payload: T
    start: int
    end: int
    text: str
    view: str  # base | leet | pinyin
    pattern: str  # the normalised pattern that matched


@dataclass(frozen=True, slots=True)
class _Entry:
    allow: bool
    index: int
    prefix: bool
    left_word: bool  # the pattern starts with a letter/digit: check the word boundary on the left
    right_word: bool
    length: int


def _word(ch: str) -> bool:
    return ch.isalnum() and not is_cjk(ch)


class TermMatcher(Generic[T]):
    """Finds ``patterns`` (minus what ``allow`` cancels) in normalised prompts. Immutable, thread-safe."""

    def __init__(
        self, patterns: Sequence[Pattern[T]], allow: Sequence[Pattern[None]], normalizer: Normalizer
    ) -> None:
        self._patterns = list(patterns)
        self._allow = list(allow)
        self._normalizer = normalizer
        keys: dict[str, dict[str, list[_Entry]]] = {"base": {}, "leet": {}, "pinyin": {}, "mask": {}}
        groups: tuple[tuple[bool, Sequence[Pattern[Any]]], ...] = (
            (False, self._patterns),
            (True, self._allow),
        )
        for allow_flag, items in groups:
            for i, p in enumerate(items):
                for view, key in self._keys(p):
                    entry = _Entry(allow_flag, i, p.prefix, _word(key[0]), _word(key[-1]), len(key))
                    keys[view].setdefault(key, []).append(entry)
        self._automata: dict[str, ahocorasick.Automaton | None] = {}
        for view, table in keys.items():
            if not table:
                self._automata[view] = None
                continue
            auto = ahocorasick.Automaton()
            for key, entries in table.items():
                auto.add_word(key, tuple(entries))
            auto.make_automaton()
            self._automata[view] = auto

    def __len__(self) -> int:
        return len(self._patterns)

    def _keys(self, p: Pattern[Any]) -> list[tuple[str, str]]:
        """The normalised keys a pattern is looked up under, per view."""
        base = self._normalizer.base_text(p.text)
        if not base:
            return []
        out = [] if p.sound_only else [("base", base)]
        has_latin = any(_word(c) for c in base)
        has_cjk = any(is_cjk(c) for c in base)
        if has_latin and not has_cjk:
            skel = leet_skeleton(base)
            out.append(("leet", skel))
            joined = skel.replace(" ", "").replace("-", "")
            if joined != skel:
                out.append(("leet", joined))  # "child porn" written "child-p0rn" → "chiidporn"
            masked = mask_skeleton(base)
            if p.mask and " " not in base and masked.isalnum() and sum(c != "0" for c in masked) >= 2:
                out.append(("mask", masked))  # "porn" written "p*rn": both "p0rn" (masked words only)
        if p.pinyin and has_cjk:
            spaced = pinyin_of(base)
            out.append(("pinyin", spaced))
            # typed pinyin in a prompt with no Chinese characters at all: matched in the base view
            out.append(("base", spaced))
            out.append(("base", spaced.replace(" ", "")))
        return list(dict.fromkeys(out))

    def find(self, prompt: NormalizedPrompt) -> list[Hit[T]]:
        """All pattern hits in ``prompt`` that no allow-phrase cancels, one per pattern and span."""
        hits: dict[tuple[int, int, int], Hit[T]] = {}
        allowed: list[tuple[int, int]] = []
        for view in prompt.views():
            auto = self._automata.get(view.name)
            if auto is None:
                continue
            for end_incl, entries in auto.iter(view.text):
                for e in entries:
                    start = end_incl - e.length + 1
                    end = end_incl + 1
                    if not self._bounded(view, start, end, e):
                        continue
                    if e.prefix and e.right_word:  # "porn*": the evidence is the whole word typed
                        while end < len(view.text) and _word(view.text[end]):
                            end += 1
                    ostart, oend = view.to_original(start, end)
                    if e.allow:
                        allowed.append((ostart, oend))
                        continue
                    key = (e.index, ostart, oend)
                    if key not in hits:  # the base view comes first and wins
                        hits[key] = Hit(
                            self._patterns[e.index].payload,
                            ostart,
                            oend,
                            prompt.original[ostart:oend],
                            view.name,
                            view.text[start:end],
                        )
        if not allowed:
            return list(hits.values())
        return [h for h in hits.values() if not _cancelled(h, allowed)]

    @staticmethod
    def _bounded(view: View, start: int, end: int, e: _Entry) -> bool:
        text = view.text
        if e.left_word and start > 0 and _word(text[start - 1]):
            return False
        if e.right_word and not e.prefix and end < len(text) and _word(text[end]):
            return False
        return True


def _cancelled(hit: Hit[Any], allowed: list[tuple[int, int]]) -> bool:
    """An allow-phrase overlapping the hit cancels it, unless the phrase lies inside a longer hit."""
    for a_start, a_end in allowed:
        if a_start < hit.end and hit.start < a_end:
            inside = hit.start <= a_start and a_end <= hit.end and (a_end - a_start) < (hit.end - hit.start)
            if not inside:
                return True
    return False
