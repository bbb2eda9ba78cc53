"""The operator's watermark key (ASSAY_WATERMARK_KEY_FILE): marks and verify use it; other keys read
nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image
from wm_support import jpeg, photo, scale, wm_context

from core.errors import ConfigError
from core.settings import Settings
from provenance.marks import Artifact
from provenance.verify import Verifier
from provenance.watermark import build, payload_for, payload_hex
from provenance.watermark.key import KEY_FILE, scheme_params, watermark_keys
from provenance.watermark.layout import DEFAULT_KEY


def _settings(tmp_path: Path, name: str, **kw) -> Settings:  # noqa: ANN003
    return Settings(data_dir=tmp_path / name, **kw)


def _marked(settings: Settings) -> Image.Image:
    """An image marked by the pipeline's watermark step under ``settings``, then JPEG 75 and 0.5x."""
    art = build(settings).apply(Artifact(image=photo("coffee")), wm_context())
    return scale(jpeg(art.image, 75), 0.5)


def _found(settings: Settings, image: Image.Image) -> str | None:
    return Verifier(settings, None, trust=_NoTrust())._watermark(image).payload


class _NoTrust:  # verify's C2PA trust list is not what these tests are about
    pem = ""


def test_each_operator_gets_a_private_key_and_two_keys_do_not_read_each_others_marks(tmp_path) -> None:
    a, b = _settings(tmp_path, "a"), _settings(tmp_path, "b")
    key_a, key_b = watermark_keys(a), watermark_keys(b)
    assert len(key_a) == len(key_b) == 1 and key_a != key_b and len(key_a[0]) == 64
    path = a.keys_dir / KEY_FILE
    assert os.stat(path).st_mode & 0o777 == 0o600 and watermark_keys(a) == key_a  # made once, then read
    expected = payload_hex(payload_for(wm_context().record_id, 0))
    img_a = _marked(a)
    assert _found(a, img_a) == expected
    assert _found(b, img_a) is None, "operator B's verify read operator A's mark"
    assert _found(a, _marked(b)) is None


def test_a_configured_key_file_and_a_rotation(tmp_path) -> None:
    a = _settings(tmp_path, "a")
    old = _marked(a)
    rotated = tmp_path / "wm.key"
    rotated.write_text(f"# new key first; the old one stays readable\n{'f' * 64}\n{watermark_keys(a)[0]}\n")
    rotated.chmod(0o600)
    b = _settings(tmp_path, "b", watermark_key_file=rotated)
    assert [p.key for p in scheme_params(b)] == ["f" * 64, watermark_keys(a)[0]]
    assert build(b)._params.key == "f" * 64  # new images are marked with the first key
    assert _found(b, old) is not None  # images marked under the old key still verify
    assert not (b.keys_dir / KEY_FILE).exists()


def test_bad_or_missing_key_files_are_clear_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as e:
        watermark_keys(_settings(tmp_path, "a", watermark_key_file=tmp_path / "nope"))
    assert e.value.param == "ASSAY_WATERMARK_KEY_FILE"
    prod = dict(data_dir=tmp_path / "p", env="production", database_url="sqlite:///x.db")
    with pytest.raises(ConfigError, match="no watermark key file") as e:  # refused at start-up
        Settings(**prod)
    assert "ASSAY_WATERMARK_KEY_FILE" in e.value.details["variables"]
    with pytest.raises(ConfigError, match="no watermark key"):  # production never makes one up
        watermark_keys(Settings.model_construct(**prod))
    assert not (tmp_path / "p").exists()
    for text, problem in (("# only a comment\n", "holds no key"), ("short\n", "shorter than")):
        f = tmp_path / "k"
        f.write_text(text)
        f.chmod(0o600)
        with pytest.raises(ConfigError, match=problem):
            watermark_keys(_settings(tmp_path, "a", watermark_key_file=f))
    f.write_text("x" * 64)
    f.chmod(0o644)
    with pytest.raises(ConfigError, match="watermark key .* is accessible to other users"):
        watermark_keys(_settings(tmp_path, "a", watermark_key_file=f))


def test_the_built_in_key_is_only_the_library_default() -> None:
    assert build()._params.key == DEFAULT_KEY  # benchmarks and library use without settings
