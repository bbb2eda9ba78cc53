"""Image bytes live in a blob store behind a small interface, so an S3-compatible store can follow.

Keys are content-addressed (``sha256/<hex>``): writing the same bytes twice is idempotent and a
key can be checked against its bytes. The filesystem store writes to a temporary file, fsyncs and
renames, so a crash never leaves a half-written blob under a valid key.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from core.errors import NotFound, StoreError


class BlobStore(Protocol):
    def put(self, data: bytes) -> str: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...


def blob_key(data: bytes) -> str:
    return "sha256/" + hashlib.sha256(data).hexdigest()


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        algo, _, hexd = key.partition("/")
        if algo != "sha256" or len(hexd) != 64 or not all(c in "0123456789abcdef" for c in hexd):
            raise NotFound(f"not a blob key: {key!r}")
        return self.root / hexd[:2] / hexd

    def put(self, data: bytes) -> str:
        key = blob_key(data)
        path = self._path(key)
        if path.exists():
            return key
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StoreError(f"blob store write failed: {exc.strerror or exc}") from exc
        return key

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no blob {key}") from None
        except OSError as exc:
            raise StoreError(f"blob store read failed: {exc}") from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()
