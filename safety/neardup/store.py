"""The on-disk index: memory-mappable code files, a row metadata file, and one manifest that binds them.

Layout of ``<index_dir>/<name>/``::

    manifest.json                the active generation: count, code types and specs, file sizes and
                                 SHA-256s, build time, and a content digest over all of it
    <gen>.phash.u8               count x 8 bytes, one 64-bit code per row (np.memmap-able, no header)
    <gen>.dhash.u8               same for dHash
    <gen>.clip.f32               count x dim float32, L2-normalised image embeddings (optional)
    <gen>.local.*                local features (format 2+, optional; see :mod:`safety.neardup.local`):
                                 desc (keypoints x 32 uint8 ORB descriptors), pts (x 2 uint16, 1/32
                                 work pixel), ang (x uint8), kpoff (count + 1 uint64: each row's
                                 keypoints), frame (count x 5 float32: work w, h, scale, original
                                 w, h), and the candidate stage, written at build so replicas
                                 memory-map it instead of sorting at start-up: format 4 an inverted
                                 file, lsh_post (uint32 row << 8 | angle) and lsh_sig (uint16
                                 signatures), the tables one after the other, each without its
                                 stop-word buckets (longer than local.lsh_stop), and lsh_off (tables
                                 x (2^bits + 1) uint32 bucket starts within the table); format 3
                                 the same with every keypoint in every table (tables x keypoints);
                                 format 2 lsh_ids (tables x keypoints uint32 keypoint ids), lsh_off
    <gen>.entries.jsonl          one JSON object per row: id, path, licence, owner
    <gen>.offsets.u64            count + 1 byte offsets into the entries file (random access by row)
    .staging-<op>/               a resumable build or add in progress (see :mod:`safety.neardup.builder`)

Why generations: the data files of a generation are written once and never changed. A change
(build, add, remove) writes a new generation beside the old one and then switches
``manifest.json`` with one atomic rename, so a gateway replica that memory-maps the index never
sees a half-written file, and a crash leaves either the old or the new index, never a mix.

Every open checks the files against the manifest (sizes always, SHA-256 unless ``verify=False``),
and the code specs against :data:`safety.neardup.codes.CODE_SPECS`: a corrupt or foreign index is
refused with the command that repairs it. Format 1 (hashes and embeddings only), format 2
(local candidate tables of keypoint ids) and format 3 (an inverted file with every keypoint in every
table) still load; their content digests are computed as they were written. An add or remove on
a format-2 or -3 index writes its new generation in format 4.
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

FORMAT_VERSION: Literal[4] = 4
#: formats this version reads (1: before local features; 2: local candidate tables of keypoint ids;
#: 3: an inverted file holding every keypoint in every table; 4: without the stop-word buckets)
READABLE_FORMATS = (1, 2, 3, 4)
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


class LocalSpec(_Strict):
    """How the ``local.*`` rows were computed (parameters, then what the build derived from them)."""

    spec: str
    opencv: str
    #: long side of the image the features are computed on (pixels)
    work_side: int = Field(default=512, ge=128, le=2047)
    #: keypoints kept per indexed work
    ref_keypoints: int = Field(default=384, ge=16, le=4096)
    #: keypoints are spread over grid x grid cells
    grid: int = Field(default=4, ge=1, le=16)
    fast_threshold: int = Field(default=10, ge=1, le=100)
    lsh_tables: int = Field(default=6, ge=1, le=16)
    lsh_seed: int = Field(default=0, ge=0)
    # derived by the build (0 / empty in a plan)
    keypoints: int = Field(default=0, ge=0)
    lsh_bits: int = Field(default=0, ge=0, le=24)
    lsh_positions: list[list[int]] = Field(default_factory=list)
    #: format 3: per table, the descriptor bits of each posting's signature
    sig_positions: list[list[int]] = Field(default_factory=list)
    #: format 4: buckets longer than this are stored empty (stop words a query skips)
    lsh_stop: int = Field(default=0, ge=0)
    #: format 4: postings stored per table (the tables lie one after the other in lsh_post, lsh_sig)
    lsh_postings: list[int] = Field(default_factory=list)

    def params(self) -> dict:
        """The parameters alone (what must agree between the rows of one index)."""
        return self.model_dump(
            exclude={"keypoints", "lsh_bits", "lsh_positions", "sig_positions", "lsh_stop", "lsh_postings"}
        )

    def digest_doc(self) -> dict:
        """What the manifest digest covers (formats 2 and 3 lacked later fields: their digests stay
        as written)."""
        exclude = set()
        if not self.sig_positions:
            exclude.add("sig_positions")
        if not self.lsh_postings and not self.lsh_stop:
            exclude |= {"lsh_stop", "lsh_postings"}
        return self.model_dump(mode="json", exclude=exclude or None)


#: the roles of the local-feature files an index of this format writes: keypoints (desc, pts, ang),
#: rows (kpoff, frame), and the inverted file (lsh_post, lsh_sig, lsh_off; see
#: :class:`safety.neardup.local.InvertedTables`)
LOCAL_ROLES = (
    "local.desc",
    "local.pts",
    "local.ang",
    "local.kpoff",
    "local.frame",
    "local.lsh_post",
    "local.lsh_sig",
    "local.lsh_off",
)
#: format 2's roles (candidate tables of keypoint ids): still read
LOCAL_ROLES_V2 = (*LOCAL_ROLES[:5], "local.lsh_ids", "local.lsh_off")
FRAME_FIELDS = 5


class LastOperation(_Strict):
    op: Literal["build", "add", "remove"]
    at: datetime
    seconds: float = Field(ge=0)
    added: int = Field(default=0, ge=0)
    removed: int = Field(default=0, ge=0)
    skipped: int = Field(default=0, ge=0)


class IndexManifest(_Strict):
    format: Literal[1, 2, 3, 4] = FORMAT_VERSION
    name: str
    generation: str
    count: int = Field(ge=0)
    code_bits: Literal[64] = 64
    code_types: list[CodeType]
    code_specs: dict[CodeType, str]
    embedding: EmbeddingSpec | None = None
    local: LocalSpec | None = None
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
        local: LocalSpec | None = None,
        format: int = FORMAT_VERSION,
    ) -> str:
        """SHA-256 over what the index holds (not when it was made): equal content, equal digest."""
        doc = {
            "format": format,
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
        if local is not None:
            doc["local"] = local.digest_doc()
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
        self._local: dict[str, np.ndarray] = {}
        if manifest.local is not None:
            loc = manifest.local
            k, t, b = loc.keypoints, loc.lsh_tables, loc.lsh_bits
            shapes = {
                "local.desc": (np.uint8, (k, 32)),
                "local.pts": (np.uint16, (k, 2)),
                "local.ang": (np.uint8, (k,)),
                "local.kpoff": (np.uint64, (n + 1,)),
                "local.frame": (np.float32, (n, FRAME_FIELDS)),
                "local.lsh_off": (np.uint32, (t, (1 << b) + 1)),
            }
            if manifest.format >= 4:
                n_post = sum(loc.lsh_postings)
                shapes |= {"local.lsh_post": (np.uint32, (n_post,)), "local.lsh_sig": (np.uint16, (n_post,))}
            elif manifest.format == 3:
                shapes |= {"local.lsh_post": (np.uint32, (t, k)), "local.lsh_sig": (np.uint16, (t, k))}
            else:
                shapes["local.lsh_ids"] = (np.uint32, (t, k))
            for role, (dtype, shape) in shapes.items():
                self._local[role] = self._map(manifest.files[role].file, dtype, shape)
            kpoff = self._local["local.kpoff"]
            if n and (int(kpoff[0]) != 0 or int(kpoff[-1]) != k):
                raise self._corrupt("local keypoint offsets do not span the keypoint files")
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
        if m.local is not None:
            loc = m.local
            k, t = loc.keypoints, loc.lsh_tables
            if (
                m.format < 2
                or len(loc.lsh_positions) != t
                or any(len(p) != loc.lsh_bits for p in loc.lsh_positions)
                or (m.format >= 3 and len(loc.sig_positions) != t)
                or (m.format < 3 and loc.sig_positions)
                or (m.format >= 4 and (len(loc.lsh_postings) != t or any(c > k for c in loc.lsh_postings)))
                or (m.format < 4 and (loc.lsh_postings or loc.lsh_stop))
            ):
                raise self._corrupt("the manifest's local-feature section is inconsistent")
            expected.update(
                {
                    "local.desc": k * 32,
                    "local.pts": k * 4,
                    "local.ang": k,
                    "local.kpoff": (n + 1) * 8,
                    "local.frame": n * FRAME_FIELDS * 4,
                    "local.lsh_off": t * ((1 << loc.lsh_bits) + 1) * 4,
                }
            )
            if m.format >= 4:
                n_post = sum(loc.lsh_postings)
                expected |= {"local.lsh_post": n_post * 4, "local.lsh_sig": n_post * 2}
            elif m.format == 3:
                expected |= {"local.lsh_post": t * k * 4, "local.lsh_sig": t * k * 2}
            else:
                expected["local.lsh_ids"] = t * k * 4
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

    def local(self, role: str) -> np.ndarray:
        """One local-feature array (a read-only memory map); raises if the index has none."""
        if role not in self._local:
            raise CodeTypeMismatch(
                f"index {self.name!r} holds no local features",
                hint=f"rebuild it with local features: assay index build --replace --name {self.name} SOURCE",
            )
        return self._local[role]

    @property
    def has_local(self) -> bool:
        return bool(self._local)

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
            fmt = json.loads(text).get("format")
        except (ValueError, AttributeError):
            fmt = None
        if isinstance(fmt, int) and fmt not in READABLE_FORMATS:
            raise IndexCorrupt(
                f"index {name!r}: {path} has index format {fmt}; this version of Assay reads formats "
                f"{', '.join(map(str, READABLE_FORMATS))}",
                hint=f"upgrade Assay, or rebuild it: assay index build --replace --name {name} SOURCE",
            )
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
            local=manifest.local,
            format=manifest.format,
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
