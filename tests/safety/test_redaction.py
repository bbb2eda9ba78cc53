"""safety.redaction: a component's error message, with the prompt taken out, stays useful."""

from __future__ import annotations

from safety.redaction import MAX_MESSAGE, MAX_PROMPT_CHARS, REDACTED, PromptRedactor, describe

PROMPT = "A quokka juggling seven teal lanterns on Mount Wellington"


def test_the_prompt_in_any_usual_form_is_taken_out_and_the_rest_kept() -> None:
    r = PromptRedactor([PROMPT])
    for quoted in (
        PROMPT,
        PROMPT.lower(),
        PROMPT.upper(),
        repr(PROMPT),
        f'"{PROMPT}"',
        PROMPT[:20],
        PROMPT[-15:],
        "  ".join(PROMPT.split()),
    ):
        out = r(f"cannot tokenize input {quoted} at position 3")
        assert out.startswith("cannot tokenize input ") and out.endswith(" at position 3"), out
        assert REDACTED in out and "quokka" not in out.lower() and "wellington" not in out.lower(), out
    assert (
        r("CUDA out of memory: tried to allocate 2.00 GiB")
        == "CUDA out of memory: tried to allocate 2.00 GiB"
    )


def test_normalised_views_and_short_chinese_names_are_taken_out() -> None:
    r = PromptRedactor(["Ｎ.u.d.e photo of 張三 at the beach"])  # full-width, spaced, Traditional
    assert "nude" not in r("lexicon: matched 'nude photo of 张三' in view base")  # the normaliser's base view
    out = r("无法处理 張三 的输入")
    assert "張三" not in out and out.startswith("无法处理") and out.endswith("的输入") and REDACTED in out
    assert r("a word in common: beach") == "a word in common: beach"  # a short shared word is not a quote


def test_describe_names_the_type_and_bounds_the_message() -> None:
    r = PromptRedactor([PROMPT, None])
    assert describe(ValueError(f"bad {PROMPT!r}"), r) == f"ValueError: bad '{REDACTED}'"
    assert describe(KeyError(), r) == "KeyError"
    assert len(r("x" * (MAX_MESSAGE * 3))) == MAX_MESSAGE + 1


def test_a_prompt_longer_than_any_policy_accepts_is_not_searched_for() -> None:
    huge = "lantern " * (MAX_PROMPT_CHARS // 8 + 1)
    assert PromptRedactor([huge])("prompt has too many characters") == "prompt has too many characters"
