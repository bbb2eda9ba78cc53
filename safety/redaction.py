"""Keeping the prompt out of logs and failure records when a component's error message quotes it.

Why: third-party code often puts its input into an exception message (``cannot tokenize 'a
photo of ...'``). Such a message must not carry the prompt into the logs (never allowed) or into
a ``failed`` ledger record (where the policy may allow only the prompt's digest). Operators still
need to know what broke, so the message is kept with the prompt taken out, not thrown away:
``ValueError: cannot tokenize input '[prompt]'``.

It lives in ``safety`` because it reads the prompt as the prompt checks do (their normaliser's
views) and because both runners below the gateway use it (:mod:`safety.runner`,
:mod:`provenance.runner`); it imports only ``safety``.

What is taken out: every occurrence of the prompt in any of its usual forms (as given, stripped,
NFKC, case-folded, ``repr``/JSON-escaped, and the prompt normaliser's views), and every fragment
of the message that also occurs in one of those forms and is long enough to say something: at
least :data:`MIN_FRAGMENT` characters, or two CJK characters (a Chinese name is two or three).
Matching ignores case. Over-redaction (an ordinary word run that happens to be in the prompt) only
costs a little diagnostic text; the prompt itself is in the record where the policy allows it.
"""

from __future__ import annotations

import json
import traceback
import unicodedata
from collections.abc import Callable, Iterable

REDACTED = "[prompt]"
#: shortest run of a message (in characters, CJK aside) that counts as quoting the prompt
MIN_FRAGMENT = 8
#: the longest prompt any policy accepts (``limits.max_prompt_chars``); longer ones reach no component
MAX_PROMPT_CHARS = 100_000
#: longest message kept (a component's message can be huge); the rest is cut
MAX_MESSAGE = 2000


def _fold(text: str) -> str:
    """Lower case, one character for one, so that positions in the folded text are positions in ``text``."""
    return "".join(low if len(low := c.lower()) == 1 else c for c in text)


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FA1F


def _forms(prompt: str) -> set[str]:
    forms = {
        prompt,
        prompt.strip(),
        " ".join(prompt.split()),
        unicodedata.normalize("NFKC", prompt),
        prompt.casefold(),
        repr(prompt)[1:-1],
        json.dumps(prompt)[1:-1],
        json.dumps(prompt, ensure_ascii=False)[1:-1],
    }
    try:  # what the prompt checks see (and may quote): the normaliser's views
        from safety.prompt.normalize import get_normalizer

        forms.update(v.text for v in get_normalizer().normalize(prompt).views())
    except Exception:  # noqa: BLE001, S110 - a normaliser that fails here must not hide the failure being reported
        pass
    return {f for f in forms if f}


class PromptRedactor:
    """``redactor(text)`` is ``text`` with the prompt(s) given at construction taken out.

    The forms are worked out on the first call (most failures are never described). A prompt
    longer than any policy accepts (:data:`MAX_PROMPT_CHARS`) was refused before a component saw
    it, so it is not searched for: that keeps a 25 MB prompt from costing minutes here.
    """

    def __init__(self, prompts: Iterable[str | None]) -> None:
        self._prompts = [
            p for p in prompts if isinstance(p, str) and 2 <= len(p.strip()) and len(p) <= MAX_PROMPT_CHARS
        ]
        self._forms: list[str] | None = None

    def _folded_forms(self) -> list[str]:
        if self._forms is None:
            forms: set[str] = set()
            for p in self._prompts:
                forms |= _forms(p)
            self._forms = sorted({_fold(f) for f in forms}, key=len, reverse=True)
        return self._forms

    def __call__(self, text: str) -> str:
        if len(text) > MAX_MESSAGE:
            text = text[:MAX_MESSAGE] + "…"
        forms = self._folded_forms() if text else []
        if not forms:
            return text
        folded = _fold(text)
        hidden = [False] * len(text)
        for form in forms:  # the whole prompt, in any form, wherever it occurs
            start = folded.find(form)
            while start >= 0:
                hidden[start : start + len(form)] = [True] * len(form)
                start = folded.find(form, start + 1)
        i = 0
        while i < len(text):  # fragments: the longest run from i that is part of some form
            if hidden[i]:
                i += 1
                continue
            length = 0
            while i + length < len(text) and any(folded[i : i + length + 1] in f for f in forms):
                length += 1
            run = text[i : i + length]
            if len(run) >= MIN_FRAGMENT or sum(map(_is_cjk, run)) >= 2:
                hidden[i : i + length] = [True] * length
                i += length
            else:
                i += 1
        out: list[str] = []
        for j, ch in enumerate(text):
            if not hidden[j]:
                out.append(ch)
            elif j == 0 or not hidden[j - 1]:
                out.append(REDACTED)
        return "".join(out)


def describe(exc: BaseException, redact: Callable[[str], str]) -> str:
    """``"ValueError: <message, redacted>"``: what a log line or a failure record may say of ``exc``."""
    message = redact(str(exc))
    return f"{exc.__class__.__name__}: {message}" if message else exc.__class__.__name__


def frames(exc: BaseException) -> str:
    """The traceback of ``exc`` without any exception message (file, line, function, source line)."""
    return "".join(traceback.format_tb(exc.__traceback__)).rstrip()
