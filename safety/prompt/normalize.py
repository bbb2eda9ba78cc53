"""Prompt normalisation that undoes common filter evasions and keeps a map back to the original text.

Why it exists: users who want a filter to miss a word write it so that a naive matcher does not
see it — ``ｎｕｄｅ`` (full width), ``nսde`` (Armenian look-alike), ``n\u200bude`` (zero-width space),
``n.u.d.e`` / ``p o r n`` / ``裸 体`` (separators), ``s3x`` / ``pr0n`` (leetspeak), ``裸體``
(Traditional characters), ``落体`` / ``luoti`` (homophones and pinyin). Every check on the prompt
matches against the *normalised* text, yet the evidence a reviewer sees must point at the characters
the user actually typed. So each normalised character carries the ``[start, end)`` span of the
original characters it came from, through every step.

The normaliser produces up to three *views* of one prompt:

``base``
    NFKC (full width → half width, ligatures, circled letters...), zero-width / control / format
    characters dropped, diacritics stripped from Latin letters, case folded, look-alike letters mapped
    to Latin (``data/confusables.tsv``), Traditional → Simplified Chinese (OpenCC ``t2s``), white space
    collapsed, separators removed inside runs of single letters (``n.u.d.e`` → ``nude``) and between
    Chinese characters (``裸 体`` → ``裸体``; clause punctuation such as ``，`` stays). This is
    idempotent: normalising a base text again gives the same text (a property test checks it).
``leet``
    the base view with leetspeak decoded inside words that contain a Latin letter (``s3x`` → ``sex``,
    ``$ex`` → ``sex``), punctuation removed inside words (``nu-de`` → ``nude``) and the ambiguous
    ``l``/``1``/``i`` folded to one letter (``i``) — a *skeleton* that term patterns are folded into
    the same way. Present only where it differs from the base view.
``pinyin``
    the base view with every Chinese character replaced by its toneless pinyin syllable, separated by
    spaces (``落体`` → ``luo ti``), so Chinese homophones and Latin-typed pinyin match one pattern.
    Present only for text with Chinese characters, and only when enabled.
``mask``
    words in which the user masked letters with ``*`` or ``#`` (``p*rn``, ``n*k*d``, ``f#ck``), each
    written as its shape — consonants kept, every vowel or mask one slot ``0`` (``p0rn``, ``n0k0d``),
    leetspeak decoded first — and
    nothing else (so only a masked word can match there). Term patterns are folded the same way
    (:func:`mask_skeleton`), so a masked vowel no longer hides a word. Present only where a word is masked,
    and only with the leet view enabled.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from array import array
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

__all__ = [
    "NormalizedPrompt",
    "Normalizer",
    "NormalizerConfig",
    "View",
    "get_normalizer",
    "is_cjk",
    "leet_skeleton",
    "mask_skeleton",
]

# --- character classes ---------------------------------------------------------------------------
#: invisible characters that are letters or symbols by category (so category tests miss them) but
#: are used as blank separators: Hangul fillers, the braille blank, the combining grapheme joiner
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f\u17b4\u17b5")
#: control characters that stand for white space
_SPACE_CONTROLS = frozenset("\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85")
#: characters that may separate single letters in an evasion (``n.u.d.e``, ``p o r n``, ``裸-体``)
_SEPARATORS = frozenset(" .,-_*·•‧∙/\\|~+:;'\"`^=#、，。．・")
#: separators that carry no meaning between two Chinese characters (Chinese clause punctuation —
#: ，。、；：！？, which NFKC partly maps to ASCII — is not among them: it ends a word)
_CJK_SEPARATORS = frozenset(" .-_*·•‧∙/\\|~+'\"`^=#")
#: the longest run of separators between two single letters that still counts as one separator
_MAX_SEPARATOR_RUN = 3
#: leetspeak digits and symbols and the letters they stand for
_LEET = {
    "0": "o",
    "1": "i",
    "3": "e",
    "4": "a",
    "5": "s",
    "7": "t",
    "8": "b",
    "9": "g",
    "@": "a",
    "$": "s",
    "€": "e",
    "!": "i",
    "|": "i",
    "+": "t",
}
#: leet symbols that stand for a letter only between two word characters (``k!ll``, not ``wow!``)
_LEET_INTERIOR_ONLY = frozenset("!|+")
#: punctuation removed inside a word in the leet view (``nu-de`` → ``nude``)
_JOINERS = frozenset(".-_'·‧`~^*")
#: the skeleton folds letters that leetspeak makes ambiguous (``1`` is ``i`` or ``l``)
_SKELETON = str.maketrans({"l": "i"})

#: prompts longer than this are normalised without caching
_CACHE_MAX_CHARS = 8192

_CJK_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2EBEF),
    (0x30000, 0x3134F),
)


def is_cjk(ch: str) -> bool:
    """True for a Chinese (Han) character."""
    o = ord(ch)
    if o < 0x3400:
        return False
    return any(lo <= o <= hi for lo, hi in _CJK_RANGES)


def _is_word(ch: str) -> bool:
    """A letter or digit that is not Chinese: the characters English word boundaries look at."""
    return ch.isalnum() and not is_cjk(ch)


def _load_confusables() -> dict[str, str]:
    table: dict[str, str] = {}
    text = resources.files("safety.prompt").joinpath("data/confusables.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        src, _, dst = line.partition("\t")
        if len(src) != 1 or not dst:
            raise ValueError(f"confusables.tsv: bad line {line!r}")
        table[src] = dst
    return table


_CONFUSABLES = _load_confusables()


def _strips_marks(ch: str) -> bool:
    o = ord(ch)
    return o < 0x0530 or 0x1D00 <= o <= 0x1FFF or 0x2100 <= o <= 0x22FF or is_cjk(ch)


@lru_cache(maxsize=65536)
def _fold_cluster(cluster: str) -> str:
    """Fold one base character with its combining marks to the normalised text it stands for.

    Returns ``""`` for characters that carry nothing (zero-width, format, control, private use,
    unassigned, orphan combining marks) and ``" "`` for every kind of white space.
    """
    base = cluster[0]
    if base in _INVISIBLE:
        return ""
    cat = unicodedata.category(base)
    if cat == "Cc":
        return " " if base in _SPACE_CONTROLS else ""
    if cat in ("Cf", "Cs", "Co", "Cn", "Mn", "Me", "Mc"):
        return ""
    if cat in ("Zs", "Zl", "Zp"):
        return " "
    # case folding can decompose (Greek ὐ → ὐ), so fold first and compose again before stripping
    s = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", cluster).casefold())
    if not s:
        return ""
    # Map look-alikes and strip diacritics and stacked marks ("Zalgo") from Latin, Greek, Cyrillic and
    # Chinese — keep marks where they are part of the spelling (kana voicing, Indic vowel signs). The
    # two steps feed each other (ά → α → a; ᴄ́ → ć → c), so repeat them until nothing changes.
    for _ in range(4):
        t = "".join(_CONFUSABLES.get(c, c) for c in s)
        if t and _strips_marks(t[0]):
            d = unicodedata.normalize("NFD", t)
            t = unicodedata.normalize(
                "NFC", "".join(c for c in d if unicodedata.category(c) not in ("Mn", "Me"))
            )
        if t == s:
            break
        s = t
    out: list[str] = []
    for c in s:
        if c in _INVISIBLE:
            continue
        c_cat = unicodedata.category(c)
        if c_cat in ("Zs", "Zl", "Zp"):
            out.append(" ")
        elif c_cat in ("Mn", "Me", "Mc") and (not out or out[-1] == " "):
            continue  # NFKC may put a mark first (Thai sara am): it would be an orphan on the next pass
        elif c_cat not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append(c)
    return "".join(out)


#: characters that stand for a hidden letter inside a word (``p*rn``); vowels dropped around them
_MASKS = frozenset("*#")
_VOWELS = frozenset("aeiouy")


#: what a vowel or a mask becomes in the mask view ("0" cannot occur otherwise: leetspeak decodes it)
_MASK_SLOT = "0"


def mask_skeleton(word: str) -> str:
    """The shape of a (base-normalised, leet-decoded) word: consonants kept, each vowel or mask one slot.

    ``porn`` and ``p*rn`` are both ``p0rn``; ``proana`` is ``pr00n0`` and does not collide with them:
    a mask stands for exactly one letter.
    """
    return "".join(_MASK_SLOT if c in _VOWELS or c in _MASKS else c for c in word)


def leet_skeleton(text: str) -> str:
    """Fold a (base-normalised) pattern into the leet view's alphabet, so patterns and text agree."""
    return text.translate(_SKELETON)


# --- views -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class View:
    """One normalised form of the prompt; ``starts[i]:ends[i]`` is the original span of ``text[i]``."""

    name: str
    text: str
    starts: array
    ends: array

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original ``[start, end)`` span of the normalised characters ``text[start:end]``."""
        if not 0 <= start < end <= len(self.text):
            raise ValueError(f"span {start}:{end} is outside the {self.name} view (length {len(self.text)})")
        return self.starts[start], max(self.ends[start:end])


@dataclass(frozen=True, slots=True)
class NormalizedPrompt:
    """The views of one prompt. ``leet``, ``pinyin`` and ``mask`` are ``None`` where they add nothing."""

    original: str
    base: View
    leet: View | None
    pinyin: View | None
    mask: View | None = None

    def views(self) -> list[View]:
        return [v for v in (self.base, self.leet, self.pinyin, self.mask) if v is not None]


@dataclass(frozen=True, slots=True)
class NormalizerConfig:
    """Which optional views to build. The base view is always built the same way."""

    leet: bool = True
    pinyin: bool = True


class _Buf:
    """A growing view: characters and the original span of each."""

    __slots__ = ("chars", "starts", "ends")

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, text: str, start: int, end: int) -> None:
        for c in text:
            self.chars.append(c)
            self.starts.append(start)
            self.ends.append(end)

    def view(self, name: str) -> View:
        return View(name, "".join(self.chars), array("i", self.starts), array("i", self.ends))


class Normalizer:
    """Builds the views of a prompt (see the module docstring). Thread-safe; results are cached."""

    def __init__(self, config: NormalizerConfig | None = None, *, cache_size: int = 512) -> None:
        self.config = config or NormalizerConfig()
        self._t2s = None
        self._t2s_lock = threading.Lock()
        self._cached = lru_cache(maxsize=cache_size)(self._normalize)

    # -- public ----------------------------------------------------------------------------------
    def normalize(self, text: str) -> NormalizedPrompt:
        """Normalise ``text``. Results are cached, so the checks of one request normalise once."""
        if not isinstance(text, str):
            raise TypeError(f"a prompt must be str, got {type(text).__name__}")
        if len(text) > _CACHE_MAX_CHARS:  # a rare long prompt is not worth megabytes of cache
            return self._normalize(text)
        return self._cached(text)

    def clear_cache(self) -> None:
        """Forget cached prompts (benchmarks time cold normalisation this way)."""
        self._cached.cache_clear()

    def base_text(self, text: str) -> str:
        """Only the base view's text: how a term or allow-phrase is folded before matching."""
        return self.normalize(text).base.text

    # -- steps -----------------------------------------------------------------------------------
    def _normalize(self, text: str) -> NormalizedPrompt:
        folded = self._fold(text)
        converted = self._to_simplified(folded)
        spaced = self._collapse_space(converted)
        mask = self._mask(spaced) if self.config.leet else None
        base = self._join_single_letters(spaced).view("base")
        leet = self._leet(base) if self.config.leet else None
        pinyin = self._pinyin(base) if self.config.pinyin else None
        return NormalizedPrompt(text, base, leet, pinyin, mask)

    @staticmethod
    def _fold(text: str) -> _Buf:
        out = _Buf()
        n = len(text)
        i = 0
        while i < n:
            j = i + 1
            # keep combining marks with their base so NFKC can compose them, then fold the cluster
            while j < n and text[j] > "\u02ff" and unicodedata.category(text[j]) in ("Mn", "Me", "Mc"):
                j += 1
            ch = text[i:j]
            if j - i == 1 and ch.isascii() and ch.isprintable():
                out.add(ch.lower(), i, j)
            else:
                out.add(_fold_cluster(ch), i, j)
            i = j
        return out

    def _converter(self):
        if self._t2s is None:
            with self._t2s_lock:
                if self._t2s is None:
                    import opencc

                    self._t2s = opencc.OpenCC("t2s")
        return self._t2s

    def _to_simplified(self, buf: _Buf) -> _Buf:
        if not any(is_cjk(c) for c in buf.chars):
            return buf
        cc = self._converter()
        text = "".join(buf.chars)
        converted = cc.convert(cc.convert(text))  # twice: a few variants convert in two steps (薴 → 苧 → 苎)
        if len(converted) == len(text):
            buf.chars = list(converted)
            return buf
        # a phrase changed length: convert character by character so each keeps its own span
        out = _Buf()
        for c, s, e in zip(buf.chars, buf.starts, buf.ends, strict=True):
            out.add(_t2s_char(cc, c) if is_cjk(c) else c, s, e)
        return out

    @staticmethod
    def _collapse_space(buf: _Buf) -> _Buf:
        out = _Buf()
        pending: tuple[int, int] | None = None
        for c, s, e in zip(buf.chars, buf.starts, buf.ends, strict=True):
            if c == " ":
                pending = (pending[0], e) if pending else (s, e)
                continue
            if pending is not None and out.chars:
                out.add(" ", *pending)
            pending = None
            out.add(c, s, e)
        return out

    @staticmethod
    def _join_single_letters(buf: _Buf) -> _Buf:
        """Remove separators the user put inside words: ``n.u.d.e`` → ``nude``,
        ``一个裸 体女人`` → ``一个裸体女人``.

        English: separators inside a run of at least three single letters (``a b`` stays two letters).
        Chinese has no spaces between words, so a space or symbol (``.-_*·/|``...) between two Chinese
        characters is always dropped; clause punctuation (``，。、``) is kept, so ``吃鸡，巴黎`` never
        becomes ``鸡巴``.
        """
        chars = buf.chars
        n = len(chars)
        drop: set[int] = set()
        i = 0
        while i < n:
            if is_cjk(chars[i]):
                j = i + 1
                while j < n and j - i - 1 < _MAX_SEPARATOR_RUN and chars[j] in _CJK_SEPARATORS:
                    j += 1
                if j > i + 1 and j < n and is_cjk(chars[j]):
                    drop.update(range(i + 1, j))
                i = j if j > i + 1 else i + 1
            else:
                i += 1
        # tokens: maximal runs of letters/digits of one script (Chinese or not)
        tokens: list[tuple[int, int]] = []
        i = 0
        while i < n:
            if chars[i].isalnum():
                cjk = is_cjk(chars[i])
                j = i + 1
                while j < n and chars[j].isalnum() and is_cjk(chars[j]) == cjk:
                    j += 1
                tokens.append((i, j))
                i = j
            else:
                i += 1
        run: list[int] = []  # indices into tokens: consecutive single letters
        gaps: list[str] = []  # the separator between run[k] and run[k + 1]

        def join(first: int, last: int) -> None:
            """Drop the separators between run[first] and run[last] when they make a word."""
            letters = last - first + 1
            cjk = all(is_cjk(chars[tokens[run[t]][0]]) for t in range(first, last + 1))
            # "a p o r n": an English one-letter word before a spaced-out word is a word of its own
            if letters >= 4 and gaps[first] == " " and chars[tokens[run[first]][0]] in ("a", "i"):
                first += 1
                letters -= 1
            if letters >= 3 or (letters == 2 and cjk):
                for t in range(first, last):
                    drop.update(range(tokens[run[t]][1], tokens[run[t + 1]][0]))

        def flush() -> None:
            # a run may change separator ("a n-u-d-e", "n.u.d.e, p o r n"): each stretch with one
            # separator is joined on its own; a letter between two stretches belongs to both
            k = 0
            while k < len(gaps):
                m = k
                while m + 1 < len(gaps) and gaps[m + 1] == gaps[k]:
                    m += 1
                join(k, m + 1)
                k = m + 1
            run.clear()
            gaps.clear()

        for t, (s, e) in enumerate(tokens):
            if e - s != 1:
                flush()
                continue
            if run:
                gap = "".join(chars[tokens[run[-1]][1] : s])
                if 0 < len(gap) <= _MAX_SEPARATOR_RUN and all(c in _SEPARATORS for c in gap):
                    gaps.append(gap)
                else:
                    flush()
            run.append(t)
        flush()
        if not drop:
            return buf
        out = _Buf()
        for idx, (c, s, e) in enumerate(zip(buf.chars, buf.starts, buf.ends, strict=True)):
            if idx not in drop:
                out.add(c, s, e)
        return out

    @staticmethod
    def _leet(base: View) -> View | None:
        text = base.text
        out = _Buf()
        changed = False
        pos = 0
        for m in _LEET_WORD.finditer(text):
            for k in range(pos, m.start()):
                out.add(text[k], base.starts[k], base.ends[k])
            word = m.group(0)
            if any("a" <= c <= "z" for c in word) and any(c in _LEET or c in _JOINERS for c in word):
                last = len(word) - 1
                for k, c in enumerate(word):
                    g = m.start() + k
                    if c in _JOINERS and 0 < k < last:
                        changed = True
                        continue
                    if c in _LEET and not (c in _LEET_INTERIOR_ONLY and (k == 0 or k == last)):
                        out.add(_LEET[c], base.starts[g], base.ends[g])
                        changed = True
                    else:
                        out.add(c, base.starts[g], base.ends[g])
            else:
                for k in range(m.start(), m.end()):
                    out.add(text[k], base.starts[k], base.ends[k])
            pos = m.end()
        for k in range(pos, len(text)):
            out.add(text[k], base.starts[k], base.ends[k])
        if not changed:
            return None
        v = out.view("leet")
        return View("leet", leet_skeleton(v.text), v.starts, v.ends)

    @staticmethod
    def _mask(buf: _Buf) -> View | None:
        """Masked words (a ``*`` or ``#`` between letters) as their shapes, and nothing else (so
        a mask key can only match a masked word); built before the single-letter join, which would
        otherwise turn ``n*k*d`` into ``nkd`` and lose the masks."""
        chars = buf.chars
        if not any(c in _MASKS for c in chars):
            return None
        text = "".join(chars)
        out = _Buf()
        for m in _MASK_WORD.finditer(text):
            word = m.group(0)
            if not any(c in _MASKS for c in word[1:-1]) or not any("a" <= c <= "z" for c in word):
                continue
            if out.chars:  # only masked words are in this view, one space apart
                out.add(" ", m.start(), m.start())
            for k, c in enumerate(word):
                c = _LEET.get(c, c) if c not in _MASKS else c
                if c in _JOINERS and c not in _MASKS:
                    continue
                g = m.start() + k
                out.add(mask_skeleton(c), buf.starts[g], buf.ends[g])
        if not out.chars:
            return None
        return out.view("mask")

    @staticmethod
    def _pinyin(base: View) -> View | None:
        text = base.text
        if not any(is_cjk(c) for c in text):
            return None
        out = _Buf()
        for k, c in enumerate(text):
            s, e = base.starts[k], base.ends[k]
            if is_cjk(c):
                if out.chars and out.chars[-1] != " ":
                    out.add(" ", s, e)
                out.add(_pinyin_of(c), s, e)
                out.add(" ", s, e)
            elif c == " " and out.chars and out.chars[-1] == " ":
                continue
            else:
                out.add(c, s, e)
        while out.chars and out.chars[-1] == " ":
            out.chars.pop(), out.starts.pop(), out.ends.pop()
        return out.view("pinyin")


#: a "word" for leetspeak: Latin letters, digits, leet symbols, and joiners between them
#: a masked word: letters and digits with ``*``/``#`` (and leet symbols) between them
_MASK_WORD = re.compile(r"[a-z0-9@$€](?:[a-z0-9@$€]|[*#.\-_'](?=[a-z0-9@$€*#]))*")
_LEET_WORD = re.compile(r"[a-z0-9@$€!|+](?:[a-z0-9@$€!|+]|[.\-_'·‧`~^*](?=[a-z0-9@$€!|+]))*")


def _t2s_char(cc, c: str) -> str:  # noqa: ANN001 - opencc has no type stubs
    return _T2S_CACHE.get(c) or _T2S_CACHE.setdefault(c, cc.convert(cc.convert(c)))


_T2S_CACHE: dict[str, str] = {}


@lru_cache(maxsize=65536)
def _pinyin_of(ch: str) -> str:
    """Toneless pinyin of one Chinese character (its most common reading)."""
    from pypinyin import Style, lazy_pinyin

    syl = lazy_pinyin(ch, style=Style.NORMAL, errors="ignore")
    return (syl[0] if syl else ch).replace("ü", "v")


def pinyin_of(text: str) -> str:
    """Space-separated toneless pinyin of the Chinese characters in ``text`` (others kept)."""
    out: list[str] = []
    for c in text:
        out.append(f" {_pinyin_of(c)} " if is_cjk(c) else c)
    return " ".join("".join(out).split())


_NORMALIZERS: dict[NormalizerConfig, Normalizer] = {}
_NORMALIZERS_LOCK = threading.Lock()


def get_normalizer(config: NormalizerConfig | None = None) -> Normalizer:
    """The process-wide normaliser for ``config``: checks that share it share its cache."""
    config = config or NormalizerConfig()
    with _NORMALIZERS_LOCK:
        norm = _NORMALIZERS.get(config)
        if norm is None:
            norm = _NORMALIZERS[config] = Normalizer(config)
        return norm
