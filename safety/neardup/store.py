"""The on-disk index: memory-mappable code files, a row metadata file, and one manifest that binds them.

Layout of ``<index_dir>/<name>/``::

    manifest.json                the active generation: count, code types and specs, file sizes and
                                 SHA-256s, build time, and a content digest over all of it
    <gen>.phash.u8               count x 8 bytes, one 64-bit code per row (np.memmap-able, no header)
    <gen>.dhash.u8               same for dHash
    <gen>.clip.f32               count x dim float32, L2-normalised image embeddings (optional)
    <gen>.entries.jsonl          one JSON object per row: id, path, licence, owner
    <gen>.offsets.u64            count + 1 byte offsets into the entries file (random access by row)
    .staging-<op>/               a resumable build or add in progress (see :mod:`safety.neardup.builder`)

Why generations: the data files of a generation are written once and never changed. A change
(build, add, remove) writes a new generation beside the old one and then switches
``manifest.json`` with one atomic rename, so a gateway replica that memory-maps the index never
sees a half-written file, and a crash leaves either the old or the new index, never a mix.

Every open checks the files against the manifest (sizes always, SHA-256 unless ``verify=False``),
and the code specs against :data:`safety.neardup.codes.CODE_SPECS`: a corrupt or foreign index is
refused with the command that repairs it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import mmap
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import InvalidRequest
from safety.neardup.codes import CODE_BITS, CODE_BYTES, CODE_SPECS, CodeType
from safety.neardup.errors import CodeTypeMismatch, IndexBusy, IndexCorrupt, IndexNotFound

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_HASH_CHUNK = 8 * 1024 * 1024


def check_name(name: str) -> str:
    """Index names become folder names: a short lower-case token, nothing that walks the tree."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidRequest(
            f"index name {name!r} is not valid",
            param="name",
            hint="use 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit",
        )
    return name


# --- manifest ----------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileInfo(_Strict):
    file: str
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class EmbeddingSpec(_Strict):
    """Which model produced the ``clip`` rows; a query with another model is refused."""

    model_digest: str
    model_dir: str
    dim: int = Field(ge=1)
    spec: str


class LastOperation(_Strict):
    op: Literal["build", "add", "remove"]
    at: datetime
    seconds: float = Field(ge=0)
    added: int = Field(default=0, ge=0)
    removed: int = Field(default=0, ge=0)
    skipped: int = Field(default=0, ge=0)


class IndexManifest(_Strict):
    format: Literal[1] = FORMAT_VERSION
    name: str
    generation: str
    count: int = Field(ge=0)
    code_bits: Literal[64] = CODE_BITS
    code_types: list[CodeType]
    code_specs: dict[CodeType, str]
    embedding: EmbeddingSpec | None = None
    files: dict[str, FileInfo]
    created_at: datetime
    updated_at: datetime
    last_operation: LastOperation
    tools: dict[str, str] = Field(default_factory=dict)
    digest: str

    @staticmethod
    def content_digest(
        *,
        name: str,
        count: int,
        code_types: list[CodeType],
        code_specs: dict[CodeType, str],
        embedding: EmbeddingSpec | None,
        files: dict[str, FileInfo],
    ) -> str:
        """SHA-256 over what the index holds (not when it was made): equal content, equal digest."""
        doc = {
            "format": FORMAT_VERSION,
            "name": name,
            "count": count,
            "code_bits": CODE_BITS,
            "code_types": [str(c) for c in code_types],
            "code_specs": {str(k): v for k, v in sorted(code_specs.items())},
            "embedding": None
            if embedding is None
            else {"model_digest": embedding.model_digest, "dim": embedding.dim, "spec": embedding.spec},
            "files": {role: {"bytes": f.bytes, "sha256": f.sha256} for role, f in sorted(files.items())},
        }
        canon = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(canon.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IndexEntry:
    """What a row of the index says about its source work (shown to reviewers, used by take-downs)."""

    row: int
    id: str
    path: str | None
    licence: str | None
    owner: str | None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- reading -----------------------------------------------------------------------------------
class IndexData:
    """One generation of one index, opened read-only and memory-mapped. Thread-safe for reads."""

    def __init__(self, folder: Path, manifest: IndexManifest, *, verify: bool) -> None:
        self.folder = folder
        self.manifest = manifest
        self._check_files(verify)
        n = manifest.count
        self._codes: dict[CodeType, np.ndarray] = {}
        for ct in manifest.code_types:
            self._codes[ct] = self._map(manifest.files[ct.value].file, np.uint8, (n, CODE_BYTES))
        self._embeddings = None
        if manifest.embedding is not None:
            self._embeddings = self._map(manifest.files["clip"].file, np.float32, (n, manifest.embedding.dim))
        self._offsets = self._map(manifest.files["offsets"].file, np.uint64, (n + 1,))
        entries = folder / manifest.files["entries"].file
        self._entries_file = open(entries, "rb")
        size = manifest.files["entries"].bytes
        self._entries = mmap.mmap(self._entries_file.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        if n and (int(self._offsets[0]) != 0 or int(self._offsets[-1]) != size):
            raise self._corrupt("entries offsets do not span the entries file")

    def _corrupt(self, what: str) -> IndexCorrupt:
        return IndexCorrupt(
            f"index {self.manifest.name!r} is corrupt: {what}",
            hint=f"rebuild it: assay index build --replace --name {self.manifest.name} SOURCE",
        )

    def _check_files(self, verify: bool) -> None:
        m = self.manifest
        n = m.count
        expected = {"offsets": (n + 1) * 8}
        for ct in m.code_types:
            expected[ct.value] = n * CODE_BYTES
        if m.embedding is not None:
            expected["clip"] = n * m.embedding.dim * 4
        roles = set(expected) | {"entries"}
        if set(m.files) != roles:
            raise self._corrupt(f"manifest lists files {sorted(m.files)}, expected {sorted(roles)}")
        for role, info in m.files.items():
            p = self.folder / info.file
            if not p.is_file():
                raise self._corrupt(f"{role} file {info.file} is missing")
            size = p.stat().st_size
            if size != info.bytes or (role in expected and size != expected[role]):
                raise self._corrupt(
                    f"{role} file {info.file} has {size} bytes, the manifest says "
                    f"{expected.get(role, info.bytes)} for {n} rows"
                )
            if verify and file_sha256(p) != info.sha256:
                raise self._corrupt(f"{role} file {info.file} does not match its SHA-256 in the manifest")

    def _map(self, file: str, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
        if int(np.prod(shape)) == 0:
            return np.zeros(shape, dtype=dtype)
        return np.memmap(self.folder / file, dtype=dtype, mode="r", shape=shape)

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def count(self) -> int:
        return self.manifest.count

    def codes(self, code_type: CodeType) -> np.ndarray:
        """The ``(count, 8)`` uint8 codes of one type (a read-only memory map)."""
        try:
            return self._codes[code_type]
        except KeyError:
            raise CodeTypeMismatch(
                f"index {self.name!r} holds "
                f"{', '.join(c.value for c in self.manifest.code_types) or 'no'} codes, "
                f"not {code_type.value}",
                hint=f"rebuild it with --codes {code_type.value}, or query the code types it holds",
            ) from None

    def embeddings(self) -> np.ndarray:
        if self._embeddings is None:
            raise CodeTypeMismatch(
                f"index {self.name!r} holds no image embeddings",
                hint=f"rebuild it with --clip-model FOLDER: assay index build --replace "
                f"--name {self.name} --clip-model FOLDER SOURCE",
            )
        return self._embeddings

    def offsets(self) -> np.ndarray:
        """``count + 1`` byte offsets of the rows in the entries file."""
        return self._offsets

    def entry_bytes(self, row: int) -> bytes:
        """The raw JSON line of one row (copying rows into a new generation needs no parsing)."""
        if not 0 <= row < self.count:
            raise IndexError(row)
        return bytes(self._entries[int(self._offsets[row]) : int(self._offsets[row + 1])])

    def entry(self, row: int) -> IndexEntry:
        try:
            doc = json.loads(self.entry_bytes(row))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self._corrupt(f"entry of row {row} is not JSON: {exc}") from exc
        return IndexEntry(row, doc["id"], doc.get("path"), doc.get("licence"), doc.get("owner"))

    def iter_entries(self) -> Iterator[IndexEntry]:
        for row in range(self.count):
            yield self.entry(row)

    def close(self) -> None:
        if isinstance(self._entries, mmap.mmap):
            self._entries.close()
        self._entries_file.close()


class IndexStore:
    """All indexes under one folder (``settings.index_dir``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def folder(self, name: str) -> Path:
        return self.root / check_name(name)

    def exists(self, name: str) -> bool:
        return (self.folder(name) / MANIFEST).is_file()

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if NAME_RE.match(p.name) and (p / MANIFEST).is_file()
        )

    def manifest(self, name: str) -> IndexManifest:
        path = self.folder(name) / MANIFEST
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            known = ", ".join(self.names()) or "none"
            raise IndexNotFound(
                f"near-duplicate index {name!r} not found in {self.root}",
                hint=f"build it: assay index build --name {name} SOURCE (indexes here: {known})",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise IndexCorrupt(f"index {name!r}: cannot read {path}: {exc}") from exc
        try:
            manifest = IndexManifest.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(top level)"
            raise IndexCorrupt(
                f"index {name!r}: {path} is not a valid index manifest ({where}: {first['msg']})",
                hint=f"rebuild it: assay index build --replace --name {name} SOURCE",
            ) from exc
        if manifest.name != name:
            raise IndexCorrupt(f"index folder {name!r} holds the manifest of index {manifest.name!r}")
        for ct in manifest.code_types:
            if manifest.code_specs.get(ct) != CODE_SPECS[ct]:
                raise CodeTypeMismatch(
                    f"index {name!r} was built with a different "
                    f"{ct.value} ({manifest.code_specs.get(ct)!r}); "
                    f"this gateway computes {CODE_SPECS[ct]!r}",
                    hint=f"rebuild it with this version: assay index build --replace --name {name} SOURCE",
                )
        recomputed = IndexManifest.content_digest(
            name=manifest.name,
            count=manifest.count,
            code_types=manifest.code_types,
            code_specs=manifest.code_specs,
            embedding=manifest.embedding,
            files=manifest.files,
        )
        if recomputed != manifest.digest:
            raise IndexCorrupt(
                f"index {name!r}: the manifest digest does not match its content (edited by hand?)",
                hint=f"rebuild it: assay index build --replace --name {name} SOURCE",
            )
        return manifest

    def open(self, name: str, *, verify: bool = True) -> IndexData:
        """Open the active generation; retries once if a writer switched generations meanwhile."""
        for attempt in (0, 1):
            manifest = self.manifest(name)
            try:
                return IndexData(self.folder(name), manifest, verify=verify)
            except IndexCorrupt:
                if attempt == 0 and self.manifest(name).generation != manifest.generation:
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[Path]:
        """Exclusive writer lock of one index (build, add, remove); refuses rather than waits."""
        folder = self.folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexBusy(
                    f"index {name!r} is being changed by another process",
                    hint="wait for that build/add/remove to finish, then retry",
                ) from None
            yield folder
        finally:
            os.close(fd)

    def activate(self, manifest: IndexManifest) -> None:
        """Switch the index to ``manifest``'s generation (atomic) and delete older generations' files."""
        folder = self.folder(manifest.name)
        tmp = folder / (MANIFEST + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(manifest.model_dump_json(indent=2))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / MANIFEST)
        fsync_dir(folder)
        keep = {info.file for info in manifest.files.values()}
        for p in folder.iterdir():
            if (
                p.is_file()
                and p.name.split(".", 1)[0] != manifest.generation
                and p.name not in keep
                and re.match(r"^[0-9A-Z]{26}\.", p.name)
            ):
                p.unlink(missing_ok=True)


def utcnow() -> datetime:
    return datetime.now(UTC)
