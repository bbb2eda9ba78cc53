"""The normaliser: each evasion family folds to the plain word, and every character maps back."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safety.prompt.normalize import Normalizer, NormalizerConfig, get_normalizer, pinyin_of


@pytest.fixture(scope="module")
def norm() -> Normalizer:
    return get_normalizer()


@pytest.mark.parametrize(
    "typed, base",
    [
        ("Ｎｕｄｅ", "nude"),  # full width
        ("nսde", "nude"),  # Armenian u
        ("nudе", "nude"),  # Cyrillic e
        ("n\u200bu\u200cd\u200de", "nude"),  # zero-width characters
        ("n\u00adude", "nude"),  # soft hyphen
        ("n.u.d.e", "nude"),
        ("p o r n", "porn"),
        ("n-u-d-e photo", "nude photo"),
        ("ＮＵＤＥ", "nude"),
        ("Naïve café", "naive cafe"),
        ("n̸̡u̷d̶e", "nude"),  # stacked combining marks
        ("ⓝⓤⓓⓔ", "nude"),  # circled letters
        ("ɴᴜᴅᴇ", "nude"),  # small capitals
        ("裸 体", "裸体"),
        ("裸.体", "裸体"),
        ("裸體", "裸体"),  # Traditional
        ("  a   b  ", "a b"),
        ("\x00bad\x07", "bad"),
    ],
)
def test_base_view_folds_evasions(norm: Normalizer, typed: str, base: str) -> None:
    assert norm.normalize(typed).base.text == base


def test_single_letters_join_only_in_runs(norm: Normalizer) -> None:
    assert norm.normalize("a b").base.text == "a b"  # two English letters are just two letters
    assert norm.normalize("x x x video").base.text == "xxx video"
    # a long word ends the run: the comma between 鸡 and 巴 is a real boundary
    assert norm.normalize("我爱吃鸡，巴黎很美").base.text == "我爱吃鸡,巴黎很美"


def test_leet_view(norm: Normalizer) -> None:
    p = norm.normalize("s3x pr0n nu-de $ex k!ll wow!")
    assert p.leet is not None
    assert p.leet.text.split() == ["sex", "pron", "nude", "sex", "kiii", "wow!"]  # l/1/i fold to i
    assert norm.normalize("plain words").leet is None
    assert norm.normalize("size 1024 2024").leet is None  # digits alone are numbers, not leetspeak


def test_pinyin_view(norm: Normalizer) -> None:
    p = norm.normalize("生成落体美女")
    assert p.pinyin is not None and p.pinyin.text == "sheng cheng luo ti mei nv"
    assert norm.normalize("no chinese here").pinyin is None
    assert Normalizer(NormalizerConfig(pinyin=False)).normalize("落体").pinyin is None
    assert pinyin_of("裸体") == "luo ti"


def test_offsets_point_at_what_was_typed(norm: Normalizer) -> None:
    text = "a Ｎ.ｕ.ｄ.ｅ photo"
    p = norm.normalize(text)
    i = p.base.text.index("nude")
    s, e = p.base.to_original(i, i + 4)
    assert text[s:e] == "Ｎ.ｕ.ｄ.ｅ"
    with pytest.raises(ValueError):
        p.base.to_original(0, len(p.base.text) + 1)


def test_cache_returns_same_object_and_can_be_cleared() -> None:
    n = Normalizer()
    a = n.normalize("hello")
    assert n.normalize("hello") is a
    n.clear_cache()
    assert n.normalize("hello") is not a
    with pytest.raises(TypeError):
        n.normalize(b"bytes")  # type: ignore[arg-type]


def test_large_prompt_is_linear(norm: Normalizer) -> None:
    text = ("a Ｆｕｌｌ width n.u.d.e 裸 体 s3x prompt; " * 2500)[:100_000]
    p = norm.normalize(text)
    assert len(p.base.starts) == len(p.base.text)
    assert p.base.ends[-1] <= len(text)


# --- properties -------------------------------------------------------------------------------------
_ALPHABET = st.sampled_from(
    list(
        "abcdeilnoprstuxyz013457@$!|+ .,-_*'\u200b\u200d\ufeff\u00adÀéüñ"
        "ＡＢｎｕｄｅ１２"
        "аеорсі"
        "裸体體色情鸡巴黎自由落"
        "，。、 \t\n\x00\x1b"
        "ﬁ①ⓝᴜ"
        "\u0301\u0308"
    )
)
_TEXT = st.one_of(st.text(alphabet=_ALPHABET, max_size=80), st.text(max_size=60))


def _check_view(view, original: str) -> None:
    assert len(view.starts) == len(view.text) == len(view.ends)
    prev = 0
    for s, e in zip(view.starts, view.ends, strict=True):
        assert 0 <= s < e <= len(original)
        assert s >= prev  # the map never goes backwards
        prev = s


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_offset_map_always_inside_the_original(text: str) -> None:
    p = Normalizer().normalize(text)
    for view in p.views():
        _check_view(view, text)
        if view.text:
            s, e = view.to_original(0, len(view.text))
            assert 0 <= s < e <= len(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_base_view_is_idempotent(text: str) -> None:
    n = Normalizer()
    once = n.normalize(text).base.text
    assert n.normalize(once).base.text == once


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_base_view_has_no_invisible_or_control_characters(text: str) -> None:
    import unicodedata

    base = Normalizer().normalize(text).base.text
    assert base == base.strip()
    assert "  " not in base
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Cs") for c in base)
