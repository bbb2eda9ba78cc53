"""The operator's watermark key: which keyed slot map the marks use and ``verify`` reads.

Why a key per operator: the scheme is public (this code), so a mark made with a key everyone has
can be read, forged or scrubbed by anyone; made with the operator's secret key it reads only for
the operator, and another operator's mark (or a forged one) reads as nothing. The key seeds the
slot layout and the pilot (:func:`provenance.watermark.layout.layout_for`).

The key file (``ASSAY_WATERMARK_KEY_FILE``, default ``<data dir>/keys/watermark.key``) holds one
key a line: the first marks new images, and ``verify`` tries every line in order, so a rotated
key stays readable by keeping the old one below the new. Lines starting with ``#`` are comments.
In development the file is created (random 256-bit key, mode 0600, the first replica wins) when
absent; in production a missing file is a start-up error, like the checkpoint key: replicas
that each made their own key could not read each other's marks.

Images marked before keys were per operator carry the built-in key
(:data:`~provenance.watermark.layout.DEFAULT_KEY`); add that line below your key to keep reading
them (it is public: anyone can make marks under it, which still have to match a released record).
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from core.errors import ConfigError
from core.settings import WATERMARK_KEY_FILE, Settings
from provenance.keys import read_private, write_private
from provenance.watermark.layout import SchemeParams

log = logging.getLogger("assay.signing")

KEY_FILE = WATERMARK_KEY_FILE
SETTING = "ASSAY_WATERMARK_KEY_FILE"
#: shortest key accepted (characters); a generated key is 64 hex digits
MIN_KEY_CHARS = 16


def key_path(settings: Settings) -> Path:
    return settings.watermark_key_path


def watermark_keys(settings: Settings) -> list[str]:
    """The operator's keys, newest first (``[0]`` marks). Creates the file in development."""
    path = key_path(settings)
    if not path.exists():
        if settings.watermark_key_file:
            raise ConfigError(
                f"the watermark key file {path} does not exist",
                param=SETTING,
                hint="point ASSAY_WATERMARK_KEY_FILE at the operator's key file, or unset it to "
                "use <data dir>/keys/watermark.key",
            )
        if settings.is_production:
            raise ConfigError(
                f"no watermark key at {path}",
                param=SETTING,
                hint="create one (e.g. `python -c 'import secrets; print(secrets.token_hex(32))' > FILE; "
                "chmod 600 FILE`), share it with every replica and keep a backup: images marked "
                "under a lost key no longer verify by their watermark",
            )
        if write_private(path, (secrets.token_hex(32) + "\n").encode()):
            log.warning("generated a development watermark key at %s", path)
    text = read_private(path, what="watermark key", setting=SETTING).decode("utf-8", errors="replace")
    keys = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not keys:
        raise ConfigError(
            f"the watermark key file {path} holds no key",
            param=SETTING,
            hint="one key a line; the first marks new images",
        )
    if len(keys[0]) < MIN_KEY_CHARS:  # the key that marks; older lines are only read
        raise ConfigError(
            f"the watermark key in {path} is shorter than {MIN_KEY_CHARS} characters",
            param=SETTING,
            hint="use 64 random hex digits (secrets.token_hex(32))",
        )
    return keys


def scheme_params(settings: Settings) -> list[SchemeParams]:
    """One :class:`SchemeParams` per key: ``[0]`` marks, all of them are tried by ``verify``."""
    return [SchemeParams(key=k) for k in watermark_keys(settings)]
