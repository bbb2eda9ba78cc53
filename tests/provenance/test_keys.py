"""provenance.keys: private key files are 0600 from creation on; loose ones are refused or flagged."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import ConfigError
from provenance.keys import check_key_file_mode, read_private, write_private

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 0: a file written and chmod-ed afterwards would be world-readable (0666) until the chmod."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_key_is_created_0600_once_and_the_first_writer_wins(tmp_path, open_umask, monkeypatch) -> None:
    created: list[tuple[str, int]] = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *a, **k):  # noqa: ANN001, ANN202
        created.append((str(path), flags, mode))
        return real_open(path, flags, mode, *a, **k)

    monkeypatch.setattr(os, "open", spy)
    path = tmp_path / "keys" / "a.key"
    assert write_private(path, b"first") is True
    assert path.read_bytes() == b"first" and _mode(path) == 0o600
    # created exclusively with mode 0600 (no chmod afterwards, no window with the umask's mode)
    assert created and all(f & os.O_CREAT and f & os.O_EXCL and m == 0o600 for _, f, m in created)
    assert write_private(path, b"second") is False  # another replica's key stays
    assert path.read_bytes() == b"first"
    assert [p.name for p in path.parent.iterdir()] == ["a.key"]  # no temporary file left behind


def test_a_rotation_replaces_a_loose_file_with_a_private_one(tmp_path, open_umask) -> None:
    path = tmp_path / "b.key"
    path.write_bytes(b"old")
    path.chmod(0o644)
    assert write_private(path, b"new", replace=True) is True
    assert path.read_bytes() == b"new" and _mode(path) == 0o600


def test_loose_modes_are_refused_and_group_read_is_flagged(tmp_path, caplog) -> None:
    path = tmp_path / "c.key"
    write_private(path, b"secret")
    assert read_private(path, what="test key") == b"secret"
    for mode, who in ((0o644, "other users"), (0o604, "other users"), (0o660, "group")):
        path.chmod(mode)
        with pytest.raises(ConfigError, match=who) as e:
            read_private(path, what="test key", setting="ASSAY_TEST_KEY")
        assert e.value.param == "ASSAY_TEST_KEY" and "test key" in e.value.message
    path.chmod(0o640)
    with caplog.at_level(logging.WARNING, logger="assay.signing"):
        check_key_file_mode(path, env=None, what="test key")
    assert any(
        "test key" in r.getMessage() and "readable by its group" in r.getMessage() for r in caplog.records
    )
