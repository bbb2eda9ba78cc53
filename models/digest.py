"""Weights digests: what exactly produced an image, as a hash over the model's weight files.

The digest is sha256 over ``relative path NUL sha256(file) NL`` for every weight/config file in the
folder, sorted by path. Hashing several GB takes seconds, so results are cached in the data dir
keyed by (path, size, mtime) of each file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

WEIGHT_SUFFIXES = (
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".ckpt",
    ".onnx",
    ".gguf",
    ".json",
    ".txt",
    ".model",
)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def folder_digest(folder: Path, cache_file: Path | None = None) -> str:
    folder = Path(folder)
    cache: dict[str, dict] = {}
    if cache_file is not None and cache_file.exists():
        try:
            cache = json.loads(cache_file.read_text())
        except (OSError, ValueError):
            cache = {}
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix in WEIGHT_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    outer = hashlib.sha256()
    changed = False
    for p in files:
        st = p.resolve().stat()
        key = str(p.resolve())
        ent = cache.get(key)
        if ent and ent.get("size") == st.st_size and ent.get("mtime") == st.st_mtime_ns:
            digest = ent["sha256"]
        else:
            digest = _file_sha256(p)
            cache[key] = {"size": st.st_size, "mtime": st.st_mtime_ns, "sha256": digest}
            changed = True
        outer.update(f"{p.relative_to(folder).as_posix()}\0{digest}\n".encode())
    if cache_file is not None and changed:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            cache_file.write_text(json.dumps(cache))
        except OSError:  # pragma: no cover - a read-only data dir only costs time
            pass
    return "sha256:" + outer.hexdigest()
