"""Private key files: written private from their first byte, refused or flagged when others can read them.

One home for every secret the gateway keeps on disk: the C2PA signing key (and the development
CA's), the ledger checkpoint key, the watermark key, the signed-URL secret, the development API key.

Writing: the file is created with ``os.open(O_CREAT | O_EXCL, 0o600)`` under a unique temporary
name and then moved into place (``os.link`` when an existing file must win, ``os.replace`` when it
is a rotation). So there is never a moment when the secret sits in a file with the umask's mode
(the chmod-after-write pattern), never a half-written key under the real name, and two replicas
starting at once agree on one key.

Reading: :func:`check_key_file_mode` refuses a key that other users may read or write, or its group
may write; a group-readable key is allowed (a Kubernetes secret with ``fsGroup`` and mode 0440 needs
it) and logged as a warning.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from core.errors import ConfigError

log = logging.getLogger("assay.signing")

__all__ = ["check_key_file_mode", "read_private", "write_private"]


def write_private(path: Path, data: bytes, *, replace: bool = False) -> bool:
    """Write ``data`` to ``path`` with mode 0600 from creation on.

    ``replace=False`` (a key created once): if ``path`` exists, it is left alone and ``False`` is
    returned: the caller reads the key that won. ``replace=True`` (rotation): ``path`` is replaced
    atomically. Returns ``True`` when this call wrote the file.
    """
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # a new keys dir is private too
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)  # atomic, and fails if another process created the key first
        except FileExistsError:
            return False
        except OSError:  # pragma: no cover - a file system without hard links: create in place
            return _create_in_place(path, data)
        return True
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def _create_in_place(path: Path, data: bytes) -> bool:  # pragma: no cover - see write_private
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return True


def read_private(path: Path, *, what: str, setting: str | None = None) -> bytes:
    """The bytes of a private key file, after :func:`check_key_file_mode`. Errors are :class:`ConfigError`."""
    check_key_file_mode(path, env=setting, what=what)
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}", param=setting) from exc


def check_key_file_mode(path: Path, *, env: str | None, what: str = "private key") -> None:
    """Refuse a private key file that other users may read or write; flag one the group may read.

    Why: whoever reads the key can sign images (and manifests, checkpoints, watermarks) in the
    operator's name. Access for "others" is refused outright. Group read is only logged, because
    the usual way to hand a key to a non-root container user (a Kubernetes secret with ``fsGroup``
    and mode 0440) needs it; group write is refused. Checked on the file the path resolves to
    (secrets are often symlinks).
    """
    if os.name != "posix":  # pragma: no cover - POSIX modes only
        return
    try:
        mode = stat.S_IMODE(Path(path).stat().st_mode)
    except OSError as exc:
        raise ConfigError(f"cannot stat the {what} {path}: {exc.strerror or exc}", param=env) from exc
    if mode & 0o007 or mode & 0o020:
        who = "other users" if mode & 0o007 else "its group (write)"
        raise ConfigError(
            f"the {what} {path} is accessible to {who} (mode {mode:04o}); refusing to use it",
            param=env,
            hint=f"chmod 600 {path} (or 0440 with a dedicated "
            "group), and rotate the key if others could read it",
        )
    if mode & 0o040:
        log.warning(
            "the %s %s is readable by its group (mode %04o); make sure only the gateway's "
            "group is its group, or chmod 600 it",
            what,
            path,
            mode,
        )
