"""The pipeline checks: verdicts with evidence, fail-closed on a missing required index, policies."""

import pytest

from core.errors import CheckFailed
from core.settings import Settings
from gateway.policy import parse_policy
from safety.check import CheckInput
from safety.neardup.builder import build_index, remove_from_index
from safety.neardup.check import ClipCheck, HashCheck
from safety.neardup.errors import CodeTypeMismatch, IndexNotFound
from safety.neardup.options import ClipCheckOptions, HashCheckOptions
from safety.neardup.sources import read_source
from safety.neardup.testing import crop, jpeg, noise_images, photo
from safety.registry import CheckRegistry
from safety.verdict import Category, Target


def _item(image, **options):
    """An output image with neardup.hash options, parsed as a policy would."""
    return CheckInput(
        target=Target.output_image(0),
        tenant="t",
        image=image,
        options=HashCheckOptions.model_validate(options),
    )


def _clip_item(image, **options):
    """An output image with neardup.clip options, parsed as a policy would."""
    return CheckInput(
        target=Target.output_image(0),
        tenant="t",
        image=image,
        options=ClipCheckOptions.model_validate(options),
    )


@pytest.fixture
def settings(built):
    return Settings(data_dir=built.root.parent)


def test_registry_builds_the_checks_from_settings(settings):
    reg = CheckRegistry(settings)
    check = reg.get("neardup.hash")
    assert isinstance(check, HashCheck) and check.name == "neardup.hash"
    assert isinstance(reg.get("neardup.clip"), ClipCheck)


def test_match_is_a_copyright_verdict_with_evidence(settings):
    check = HashCheck(settings)
    (v,) = check.run(_item(jpeg(crop(photo("coffee"))), indexes=["train"]))
    assert (
        v.check == "neardup.hash" and v.category is Category.COPYRIGHT and v.target == Target.output_image(0)
    )
    ev = v.evidence
    assert (ev["index"], ev["source_id"], ev["licence"], ev["owner"]) == (
        "train",
        "coffee.png",
        "CC-BY-4.0",
        "scikit-image",
    )
    assert 0 <= ev["distance"] <= 8 and v.score == pytest.approx(1 - ev["distance"] / 64)
    assert "coffee.png" in v.reason


def test_mirror_is_found_only_with_the_mirrored_query(settings):
    from PIL import ImageOps

    check = HashCheck(settings)
    mirrored = ImageOps.mirror(photo("rocket"))
    (v,) = check.run(_item(mirrored, indexes=["train"]))
    assert v.evidence["mirrored"] is True and v.evidence["distance"] == 0
    assert check.run(_item(mirrored, indexes=["train"], mirror=False)) == []


def test_unrelated_and_noise_are_not_matched(settings):
    check = HashCheck(settings)
    for im in [photo("moon"), photo("page")]:
        assert check.run(_item(im, indexes=["train"])) == []
    for im in noise_images(3):  # noise is not compared at all: "not enough detail", with the measure
        (v,) = check.run(_item(im, indexes=["train"]))
        assert v.score == 0.0 and v.evidence["decision"] == "undecided" and "source_id" not in v.evidence
        assert v.evidence["information"]["structure"] < 0.15 and "noise-like" in v.reason
        assert check.run(_item(im, indexes=["train"], report_undecided=False)) == []


def test_missing_required_index_fails_closed(settings):
    check = HashCheck(settings)
    with pytest.raises(IndexNotFound, match="'licensed-stock' not found"):
        check.run(_item(photo("coffee"), indexes=["train", "licensed-stock"]))
    # an index the policy marks optional is skipped
    (v,) = check.run(_item(photo("coffee"), indexes=["train", {"name": "licensed-stock", "required": False}]))
    assert v.evidence["source_id"] == "coffee.png"
    assert check.run(_item(photo("coffee"), indexes=["licensed-stock"], required=False)) == []


def test_warm_loads_at_start_up_and_fails_on_a_missing_index(settings):
    check = HashCheck(settings)
    check.warm(HashCheckOptions.model_validate({"indexes": ["train"], "radius": 8}))
    loaded = check._cache.get("train")
    assert {(ct.value, kind) for ct, kind in loaded._hamming} == {
        ("phash", "multihash"),
        ("dhash", "multihash"),
    }
    with pytest.raises(IndexNotFound):
        check.warm(HashCheckOptions.model_validate({"indexes": ["train", "stock"]}))
    check.warm(HashCheckOptions.model_validate({"indexes": ["train", {"name": "stock", "required": False}]}))


def test_radius_above_8_uses_the_flat_scan(settings):
    check = HashCheck(settings)
    (v,) = check.run(_item(photo("coffee"), indexes=["train"], radius=12))
    assert v.evidence["distance"] == 0
    assert ("phash", "flat") in {(ct.value, k) for ct, k in check._cache.get("train")._hamming}


def test_a_take_down_reaches_a_running_check(settings, built):
    check = HashCheck(settings)
    assert check.run(_item(photo("chelsea"), indexes=["train"]))
    remove_from_index(built, "train", ["chelsea.png"])
    assert check.run(_item(photo("chelsea"), indexes=["train"])) == []


def test_check_needs_an_image(settings):
    with pytest.raises(CheckFailed, match="looks at images"):
        HashCheck(settings).run(
            CheckInput(
                target=Target.prompt(), tenant="t", prompt="x", options=HashCheckOptions(indexes=["train"])
            )
        )


def test_policy_options_are_validated(settings):
    base = "id: p\nunsafe_allow_unmarked: true\nchecks:\n  output_image:\n"
    ok = parse_policy(
        base + "    - name: neardup.hash\n      options: {indexes: [train, {name: stock, required: false}],"
        " radius: 6}\n"
    )
    assert ok.checks.output_image[0].options["radius"] == 6
    parsed = ok.checks.output_image[0].parsed
    assert isinstance(parsed, HashCheckOptions) and parsed.radius == 6 and not parsed.indexes[1].required
    from core.errors import PolicyError

    with pytest.raises(PolicyError, match="radius"):
        parse_policy(base + "    - name: neardup.hash\n      options: {indexes: [train], radius: 40}\n")
    with pytest.raises(PolicyError, match="indexes"):
        parse_policy(base + "    - name: neardup.hash\n")
    with pytest.raises(PolicyError, match="threshold"):
        parse_policy(base + "    - name: neardup.clip\n      options: {indexes: [train], threshold: 1.5}\n")


# --- the robust option ------------------------------------------------------------------------
@pytest.fixture
def clip_index(store, photo_dir, tiny_clip):
    build_index(store, "robust", read_source(photo_dir), clip_model=tiny_clip, workers=1)
    return store


def test_clip_index_stores_unit_embeddings(clip_index, tiny_clip):
    import numpy as np

    m = clip_index.manifest("robust")
    assert m.embedding.dim == 32 and m.embedding.model_dir == str(tiny_clip)
    emb = clip_index.open("robust").embeddings()
    assert emb.shape == (m.count, 32) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)


def test_clip_check_matches_copies_and_mirrors(clip_index):
    from PIL import ImageOps

    check = ClipCheck(Settings(data_dir=clip_index.root.parent))
    (v,) = check.run(_clip_item(photo("astronaut"), indexes=["robust"], threshold=0.999))
    assert v.evidence["source_id"] == "astronaut.png" and v.evidence["method"] == "clip"
    assert v.evidence["similarity"] > 0.999 and v.score == pytest.approx(v.evidence["similarity"])
    (m,) = check.run(_clip_item(ImageOps.mirror(photo("coffee")), indexes=["robust"], threshold=0.999))
    assert m.evidence["source_id"] == "coffee.png" and m.evidence["mirrored"] is True
    assert check.run(_clip_item(photo("moon"), indexes=["robust"], threshold=0.999)) == []
    (u,) = check.run(_clip_item(noise_images(1)[0], indexes=["robust"], threshold=0.999))
    assert u.score == 0.0 and u.evidence["decision"] == "undecided"
    # the closest indexed work of an edited copy is its original
    (top, *_) = check.run(_clip_item(crop(photo("coffee"), 0.1), indexes=["robust"], threshold=0.5))
    assert top.evidence["source_id"] == "coffee.png"


def test_clip_with_another_model_or_without_embeddings_is_refused(clip_index, tmp_path):
    from safety.neardup.testing import save_tiny_clip

    other = save_tiny_clip(tmp_path / "other", seed=1)
    check = ClipCheck(Settings(data_dir=clip_index.root.parent))
    with pytest.raises(CodeTypeMismatch, match="embeddings of model"):
        check.run(_clip_item(photo("coffee"), indexes=["robust"], model=str(other)))
    build_index(clip_index, "plain", read_source(_one_photo(tmp_path)), workers=1)
    with pytest.raises(CodeTypeMismatch, match="no image embeddings"):
        check.run(_clip_item(photo("coffee"), indexes=["plain"]))


def _one_photo(tmp_path):
    d = tmp_path / "one"
    d.mkdir()
    photo("coffee").save(d / "coffee.png")
    return d


def test_model_folder_without_weights_is_refused(tmp_path, tiny_clip):
    import shutil

    from core.errors import ConfigError
    from safety.neardup.embed import ClipEmbedder

    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(tiny_clip / "open_clip_config.json", bare)
    with pytest.raises(ConfigError, match="has no weights"):
        ClipEmbedder(bare)
    with pytest.raises(ConfigError, match="open_clip_config.json"):
        ClipEmbedder(tmp_path)
