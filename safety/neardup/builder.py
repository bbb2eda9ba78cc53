"""Building and changing indexes: ``build``, incremental ``add`` and ``remove`` (take-downs).

Codes are computed in worker processes (one per core by default; images decode with the same
:func:`core.images.decode_image` limits the gateway uses), in batches that are appended to a
staging folder and checkpointed (fsync, then an atomic ``progress.json``). An interrupted build or
add run again with the same source resumes after the last checkpoint; files that do not decode are
skipped and listed, never fatal, and so are images with too little detail to compare (see
:mod:`safety.neardup.information`: a blank or noise-like work would match everything blank). With
local features on (the default of ``assay index build``), each work's ORB keypoints are stored too
and the candidate tables of :mod:`safety.neardup.local` are rebuilt for every new generation. A
change becomes visible in one step (see
:mod:`safety.neardup.store`); the optional ``on_change`` hook runs after the new generation is
written and *before* it is activated, so a failure to record the change (the ledger) leaves the
index as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Literal

import numpy as np
from ulid import ULID

from core.errors import AssayError, CheckFailed, InvalidRequest
from core.images import DecodeLimits, decode_image
from safety.neardup.codes import ALL_CODE_TYPES, CODE_BYTES, CODE_SPECS, CodeType, image_codes
from safety.neardup.errors import CodeTypeMismatch, IndexCorrupt, IndexExists, SourceError
from safety.neardup.information import measure
from safety.neardup.sources import SourceItem, SourceListing
from safety.neardup.store import (
    FRAME_FIELDS,
    EmbeddingSpec,
    FileInfo,
    IndexData,
    IndexManifest,
    IndexStore,
    LastOperation,
    LocalSpec,
    file_sha256,
    fsync_dir,
    utcnow,
)

#: source images may be larger than uploads; the pixel limits still refuse decompression bombs
SOURCE_LIMITS = DecodeLimits(max_bytes=64 * 1024 * 1024, max_pixels=64 * 1024 * 1024, max_side=16384)
BATCH_ITEMS = 512  # items per checkpoint
CHUNK_ITEMS = 16  # items per task sent to a worker
MIN_PARALLEL_ITEMS = 64  # below this, starting worker processes costs more than it saves
_COPY_ROWS = 1 << 20


# --- results -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SkippedFile:
    id: str
    path: str
    reason: str


@dataclass(frozen=True)
class IndexChange:
    """One change of an index, as recorded in the ledger (kind ``index``)."""

    op: str  # build | add | remove
    name: str
    generation: str
    digest: str
    previous_digest: str | None
    count: int
    added: int
    removed: int
    skipped: int
    code_types: list[str]
    embedding_model: str | None
    seconds: float
    local_keypoints: int | None = None
    removed_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ChangeReport:
    """What a build/add/remove did. ``change`` is None when nothing changed (nothing new, nothing found)."""

    change: IndexChange | None
    skipped: list[SkippedFile] = field(default_factory=list)
    already_indexed: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    resumed_at: int = 0  # source items done by an earlier, interrupted run


OnChange = Callable[[IndexChange], None]


# --- workers -----------------------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(
    code_types: tuple[CodeType, ...], clip_dir: str | None, threads: int | None, local: dict | None = None
) -> None:
    _WORKER["code_types"] = code_types
    _WORKER["embedder"] = None
    _WORKER["local"] = LocalSpec(**local) if local else None
    if clip_dir is not None:
        from safety.neardup.embed import load_embedder

        _WORKER["embedder"] = load_embedder(clip_dir, threads=threads)


#: one work's local features as staged: descriptors, positions, angles (bytes) and its frame
LocalRow = tuple[bytes, bytes, bytes, tuple[float, ...]]


def local_row(img, spec: LocalSpec) -> LocalRow:
    """The local features of one work, as the index stores them."""
    from safety.neardup.local import encode_pts, extract

    (f,) = extract(img, spec, spec.ref_keypoints)
    frame = (float(f.size[0]), float(f.size[1]), float(f.scale), float(img.width), float(img.height))
    return f.desc.tobytes(), encode_pts(f.pts).tobytes(), f.ang.tobytes(), frame


def _process_chunk(
    paths: Sequence[str],
) -> tuple[list[bytes | None], list[str | None], np.ndarray | None, list[LocalRow]]:
    """Codes (all types concatenated) or an error per path; embeddings and local features of those kept."""
    code_types = _WORKER["code_types"]
    embedder = _WORKER["embedder"]
    local: LocalSpec | None = _WORKER.get("local")
    codes: list[bytes | None] = []
    errors: list[str | None] = []
    locals_: list[LocalRow] = []
    images = []
    for p in paths:
        try:
            size = os.stat(p).st_size
            if size > SOURCE_LIMITS.max_bytes:
                raise SourceError(f"{size} bytes exceeds the limit of {SOURCE_LIMITS.max_bytes}")
            with open(p, "rb") as f:
                data = f.read()
            img = decode_image(data, limits=SOURCE_LIMITS, name=os.path.basename(p))
            why = measure(img).reason
            if why is not None:
                raise SourceError(f"not enough detail to index: {why}")
            c = image_codes(img, code_types)
            row = local_row(img, local) if local is not None else None
            codes.append(b"".join(c[ct].tobytes() for ct in code_types))
            errors.append(None)
            if row is not None:
                locals_.append(row)
            if embedder is not None:
                images.append(img)
        except AssayError as exc:
            codes.append(None)
            errors.append(exc.message)
        except OSError as exc:
            codes.append(None)
            errors.append(f"cannot read: {exc.strerror or exc}")
    emb = embedder.embed(images) if embedder is not None else None
    return codes, errors, emb, locals_


class _Runner:
    """Runs chunks inline or on a process pool (spawned, so no forked torch/OpenMP state)."""

    def __init__(
        self,
        workers: int,
        remaining: int,
        code_types: tuple[CodeType, ...],
        embedder,
        local: dict | None = None,
    ) -> None:
        self.pool = None
        if workers > 1 and remaining >= MIN_PARALLEL_ITEMS:
            clip_dir = str(embedder.folder) if embedder is not None else None
            self.pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=get_context("spawn"),
                initializer=_init_worker,
                initargs=(code_types, clip_dir, 1, local),
            )
        else:
            _WORKER.update(
                code_types=code_types, embedder=embedder, local=LocalSpec(**local) if local else None
            )

    def map(self, chunks: list[list[str]]) -> Iterable:
        if self.pool is None:
            return map(_process_chunk, chunks)
        return self.pool.map(_process_chunk, chunks)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


# --- staging -----------------------------------------------------------------------------------
class _Staging:
    """A resumable, append-only set of rows (codes, embeddings, entries) for one build or add."""

    def __init__(self, folder: Path, plan: dict, restart: bool) -> None:
        self.folder = folder
        self.code_types = [CodeType(c) for c in plan["code_types"]]
        self.dim = plan["dim"]
        self.local = plan.get("local")
        if restart and folder.exists():
            shutil.rmtree(folder)
        self.progress = {"done": 0, "rows": 0, "entries_bytes": 0, "skipped_bytes": 0, "skipped": 0, "kp": 0}
        if folder.exists() and (folder / "plan.json").is_file():
            old = json.loads((folder / "plan.json").read_text())
            if old.get("fingerprint") != plan["fingerprint"]:
                raise SourceError(
                    f"an interrupted {plan['op']} of index "
                    f"{plan['name']!r} from another source (or of another "
                    f"version of the index) is waiting in {folder}",
                    hint="run the same command with the same source "
                    "to resume it, or pass --restart to discard it",
                )
            if (folder / "progress.json").is_file():
                self.progress = json.loads((folder / "progress.json").read_text())
        else:
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            self._write_json("plan.json", plan)
        self.paths = {ct.value: folder / f"{ct.value}.u8" for ct in self.code_types}
        if self.dim:
            self.paths["clip"] = folder / "clip.f32"
        self.paths["entries"] = folder / "entries.jsonl"
        self.paths["offsets"] = folder / "offsets.u64"
        self.paths["skipped"] = folder / "skipped.jsonl"
        if self.local:
            for role in ("local.desc", "local.pts", "local.ang", "local.kpcount", "local.frame"):
                self.paths[role] = folder / f"{role}.bin"
        rows = self.progress["rows"]
        kp = self.progress.get("kp", 0)
        sizes = {ct.value: rows * CODE_BYTES for ct in self.code_types}
        sizes.update(
            clip=rows * (self.dim or 0) * 4,
            offsets=rows * 8,
            entries=self.progress["entries_bytes"],
            skipped=self.progress["skipped_bytes"],
        )
        sizes.update(
            {
                "local.desc": kp * 32,
                "local.pts": kp * 4,
                "local.ang": kp,
                "local.kpcount": rows * 4,
                "local.frame": rows * FRAME_FIELDS * 4,
            }
        )
        self.files = {}
        for role, p in self.paths.items():
            f = open(p, "ab")
            f.truncate(sizes[role])  # drop rows written after the last checkpoint
            self.files[role] = f

    def _write_json(self, name: str, doc: dict) -> None:
        tmp = self.folder / (name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.folder / name)

    @property
    def done(self) -> int:
        return self.progress["done"]

    @property
    def rows(self) -> int:
        return self.progress["rows"]

    def append(
        self,
        items: Sequence[SourceItem],
        codes: list[bytes | None],
        errors: list[str | None],
        emb: np.ndarray | None,
        locals_: Sequence[LocalRow] = (),
    ) -> None:
        ok = 0
        for item, code, err in zip(items, codes, errors, strict=True):
            if code is None:
                raw = (
                    json.dumps({"id": item.id, "path": str(item.path), "reason": err}, ensure_ascii=False)
                    + "\n"
                ).encode("utf-8")
                self.files["skipped"].write(raw)
                self.progress["skipped_bytes"] += len(raw)
                self.progress["skipped"] += 1
                continue
            for i, ct in enumerate(self.code_types):
                self.files[ct.value].write(code[i * CODE_BYTES : (i + 1) * CODE_BYTES])
            doc = {"id": item.id, "path": str(item.path), "licence": item.licence, "owner": item.owner}
            line = (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
            self.files["offsets"].write(np.uint64(self.progress["entries_bytes"]).tobytes())
            self.files["entries"].write(line)
            self.progress["entries_bytes"] += len(line)
            ok += 1
        if self.dim:
            if emb is None or emb.shape != (ok, self.dim):
                raise CheckFailed(
                    f"embedding batch has shape {None if emb is None else emb.shape}, "
                    f"expected {(ok, self.dim)}"
                )
            self.files["clip"].write(np.ascontiguousarray(emb, dtype=np.float32).tobytes())
        if self.local:
            if len(locals_) != ok:
                raise CheckFailed(f"local-feature batch has {len(locals_)} rows, expected {ok}")
            for desc, pts, ang, frame in locals_:
                n = len(ang)
                self.files["local.desc"].write(desc)
                self.files["local.pts"].write(pts)
                self.files["local.ang"].write(ang)
                self.files["local.kpcount"].write(np.uint32(n).tobytes())
                self.files["local.frame"].write(np.asarray(frame, dtype=np.float32).tobytes())
                self.progress["kp"] = self.progress.get("kp", 0) + n
        self.progress["rows"] += ok
        self.progress["done"] += len(items)

    def checkpoint(self) -> None:
        for f in self.files.values():
            f.flush()
            os.fsync(f.fileno())
        self._write_json("progress.json", self.progress)

    def skipped(self) -> list[SkippedFile]:
        out = []
        with open(self.paths["skipped"], encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                out.append(SkippedFile(d["id"], d["path"], d["reason"]))
        return out

    def close(self) -> None:
        for f in self.files.values():
            f.close()

    def discard(self) -> None:
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _fingerprint(
    op: str,
    name: str,
    base: str | None,
    code_types: Sequence[CodeType],
    emb: str | None,
    items: Sequence[SourceItem],
    local: dict | None = None,
) -> str:
    h = hashlib.sha256(json.dumps([op, name, base, [c.value for c in code_types], emb]).encode())
    if local is not None:
        h.update(json.dumps(local, sort_keys=True).encode())
    for it in items:
        h.update(json.dumps([it.id, str(it.path), it.licence, it.owner], ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()


def _stage(staging: _Staging, items: Sequence[SourceItem], *, workers: int, embedder, progress: bool) -> None:
    """Code ``items`` from where the staging left off; on any failure the files are closed, progress kept."""
    try:
        _stage_batches(staging, items, workers=workers, embedder=embedder, progress=progress)
    except BaseException:
        staging.close()
        raise


def _stage_batches(
    staging: _Staging, items: Sequence[SourceItem], *, workers: int, embedder, progress: bool
) -> None:
    from tqdm import tqdm

    code_types = tuple(staging.code_types)
    remaining = items[staging.done :]
    runner = _Runner(workers, len(remaining), code_types, embedder, staging.local)
    bar = tqdm(
        total=len(items),
        initial=staging.done,
        unit="img",
        disable=not progress,
        file=sys.stderr,
        desc="indexing",
    )
    try:
        for start in range(staging.done, len(items), BATCH_ITEMS):
            batch = items[start : start + BATCH_ITEMS]
            chunks = [
                [str(it.path) for it in batch[i : i + CHUNK_ITEMS]] for i in range(0, len(batch), CHUNK_ITEMS)
            ]
            pos = 0
            for codes, errors, emb, locals_ in runner.map(chunks):
                part = batch[pos : pos + len(codes)]
                staging.append(part, codes, errors, emb, locals_)
                pos += len(codes)
                bar.update(len(codes))
            staging.checkpoint()
    finally:
        bar.close()
        runner.close()


# --- generations -------------------------------------------------------------------------------
def _info(folder: Path, file: str) -> FileInfo:
    p = folder / file
    return FileInfo(file=file, bytes=p.stat().st_size, sha256=file_sha256(p))


def _new_manifest(
    folder: Path,
    *,
    name: str,
    gen: str,
    count: int,
    code_types: list[CodeType],
    embedding: EmbeddingSpec | None,
    files: dict[str, str],
    op: LastOperation,
    created_at=None,
    local: LocalSpec | None = None,
) -> IndexManifest:
    infos = {role: _info(folder, f) for role, f in files.items()}
    for p in (folder / f for f in files.values()):
        with open(p, "rb") as fh:
            os.fsync(fh.fileno())
    fsync_dir(folder)
    specs = {ct: CODE_SPECS[ct] for ct in code_types}
    import imagehash

    tools = {"imagehash": imagehash.__version__, "numpy": np.__version__}
    if local is not None:
        tools["opencv"] = local.opencv
    return IndexManifest(
        name=name,
        generation=gen,
        count=count,
        code_types=list(code_types),
        code_specs=specs,
        embedding=embedding,
        local=local,
        files=infos,
        created_at=created_at or op.at,
        updated_at=op.at,
        last_operation=op,
        tools=tools,
        digest=IndexManifest.content_digest(
            name=name,
            count=count,
            code_types=list(code_types),
            code_specs=specs,
            embedding=embedding,
            files=infos,
            local=local,
        ),
    )


def _activate(
    store: IndexStore, manifest: IndexManifest, change: IndexChange, on_change: OnChange | None
) -> None:
    folder = store.folder(manifest.name)
    try:
        if on_change is not None:
            on_change(change)
    except BaseException:
        for info in manifest.files.values():
            (folder / info.file).unlink(missing_ok=True)
        raise
    store.activate(manifest)


def _gen_files(
    gen: str, code_types: Sequence[CodeType], dim: int | None, local: bool = False
) -> dict[str, str]:
    files = {ct.value: f"{gen}.{ct.value}.u8" for ct in code_types}
    if dim:
        files["clip"] = f"{gen}.clip.f32"
    if local:
        from safety.neardup.store import LOCAL_ROLES

        files.update({role: f"{gen}.{role}" for role in LOCAL_ROLES})
    files["entries"] = f"{gen}.entries.jsonl"
    files["offsets"] = f"{gen}.offsets.u64"
    return files


def _write_local_tables(
    folder: Path, files: dict[str, str], spec: LocalSpec, keypoints: int, *, progress: bool = False
) -> LocalSpec:
    """Write the inverted file over the generation's keypoints; the spec with what it derives."""
    from safety.neardup.local import (
        SIG_BITS,
        build_postings,
        lsh_bits_for,
        lsh_positions,
        sig_positions_for,
        stop_bucket_for,
    )

    bits = lsh_bits_for(keypoints)
    t = spec.lsh_tables
    stop = stop_bucket_for(keypoints, bits)
    kpoff = np.fromfile(folder / files["local.kpoff"], dtype=np.uint64)

    def mapped(role: str, dtype: type, shape: tuple[int, ...], mode: Literal["r", "w+"] = "r") -> np.ndarray:
        if int(np.prod(shape)) == 0:
            if mode != "r":
                (folder / files[role]).write_bytes(b"")
            return np.zeros(shape, dtype=dtype)
        return np.memmap(folder / files[role], dtype=dtype, mode=mode, shape=shape)

    desc = mapped("local.desc", np.uint8, (keypoints, 32))
    ang = mapped("local.ang", np.uint8, (keypoints,))
    step = max(1, keypoints // 200_000)
    sample = np.asarray(desc[::step])
    positions = lsh_positions(t, bits, spec.lsh_seed, sample)
    sig_pos = sig_positions_for(positions, spec.lsh_seed, sample, SIG_BITS)
    off = mapped("local.lsh_off", np.uint32, (t, (1 << bits) + 1), "w+")
    with (
        open(folder / files["local.lsh_post"], "wb") as fpost,
        open(folder / files["local.lsh_sig"], "wb") as fsig,
    ):
        postings = build_postings(
            desc, ang, kpoff, positions, sig_pos, fpost, fsig, off, stop=stop, progress=progress
        )
    if isinstance(off, np.memmap):
        off.flush()
    del desc, ang, off
    return spec.model_copy(
        update={
            "keypoints": keypoints,
            "lsh_bits": bits,
            "lsh_positions": positions,
            "sig_positions": sig_pos,
            "lsh_stop": stop,
            "lsh_postings": postings,
        }
    )


def _kpoff(counts_file: Path, base: int = 0) -> np.ndarray:
    counts = np.fromfile(counts_file, dtype=np.uint32).astype(np.uint64)
    out = np.empty(len(counts) + 1, dtype=np.uint64)
    out[0] = base
    np.cumsum(counts, out=out[1:])
    out[1:] += np.uint64(base)
    return out


def _concat(out_path: Path, parts: Sequence[Path]) -> None:
    with open(out_path, "wb") as out:
        for p in parts:
            with open(p, "rb") as src:
                shutil.copyfileobj(src, out)


def _local_plan(local: bool | LocalSpec | None) -> LocalSpec | None:
    if local is None or local is False:
        return None
    if local is True:
        from safety.neardup.local import default_spec

        return default_spec()
    return local


def _load_embedder(clip_model: str | Path | None):
    """Load the model here first: a bad folder fails before any worker starts."""
    if clip_model is None:
        return None
    from safety.neardup.embed import load_embedder

    return load_embedder(clip_model)


# --- operations --------------------------------------------------------------------------------
def build_index(
    store: IndexStore,
    name: str,
    listing: SourceListing,
    *,
    code_types: Sequence[CodeType] = ALL_CODE_TYPES,
    clip_model: str | Path | None = None,
    local: bool | LocalSpec | None = False,
    workers: int | None = None,
    replace: bool = False,
    restart: bool = False,
    progress: bool = False,
    on_change: OnChange | None = None,
) -> ChangeReport:
    """Build index ``name`` from ``listing`` (resuming an interrupted build of the same source).

    ``local``: True (the default parameters) or a :class:`LocalSpec` also stores local features.
    """
    t0 = time.perf_counter()
    code_types = _ordered(code_types)
    local_spec = _local_plan(local)
    workers = workers or os.cpu_count() or 1
    with store.lock(name) as folder:
        previous = None
        if store.exists(name):
            try:
                previous = store.manifest(name)
            except (IndexCorrupt, CodeTypeMismatch):
                if not replace:
                    raise
                # --replace is the documented repair of a corrupt or foreign index: build over it
        if previous is not None and not replace:
            raise IndexExists(
                f"index {name!r} already exists ({previous.count} rows)",
                hint=f"add to it with `assay index add --name {name} SOURCE`, or rebuild it with --replace",
            )
        embedder = _load_embedder(clip_model)
        spec = embedder.spec if embedder is not None else None
        items = listing.items
        plan = {
            "op": "build",
            "name": name,
            "code_types": [c.value for c in code_types],
            "dim": spec.dim if spec else None,
            "local": local_spec.params() if local_spec else None,
            "fingerprint": _fingerprint(
                "build",
                name,
                None,
                code_types,
                spec.model_digest if spec else None,
                items,
                local_spec.params() if local_spec else None,
            ),
        }
        staging = _Staging(folder / ".staging-build", plan, restart)
        resumed_at = staging.done
        _stage(staging, items, workers=workers, embedder=embedder, progress=progress)
        skipped = staging.skipped()
        if staging.rows == 0:
            staging.discard()
            first = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:3])
            raise SourceError(f"none of the {len(items)} files in {listing.origin} could be read ({first})")
        staging.close()
        gen = str(ULID())
        files = _gen_files(gen, code_types, spec.dim if spec else None, local_spec is not None)
        derived = {"offsets", "local.kpoff", "local.lsh_post", "local.lsh_sig", "local.lsh_off"}
        for role, f in files.items():
            if role in derived:
                continue
            os.link(staging.paths[role], folder / f)
        with open(folder / files["offsets"], "wb") as out:
            with open(staging.paths["offsets"], "rb") as src:
                shutil.copyfileobj(src, out)
            out.write(np.uint64(staging.progress["entries_bytes"]).tobytes())
        if local_spec is not None:
            _kpoff(staging.paths["local.kpcount"]).tofile(folder / files["local.kpoff"])
            local_spec = _write_local_tables(
                folder, files, local_spec, staging.progress["kp"], progress=progress
            )
        op = LastOperation(
            op="build",
            at=utcnow(),
            seconds=round(time.perf_counter() - t0, 3),
            added=staging.rows,
            skipped=len(skipped),
        )
        manifest = _new_manifest(
            folder,
            name=name,
            gen=gen,
            count=staging.rows,
            code_types=list(code_types),
            embedding=spec,
            files=files,
            op=op,
            local=local_spec,
        )
        change = _change(manifest, previous, op, [])
        _activate(store, manifest, change, on_change)
        shutil.rmtree(staging.folder, ignore_errors=True)
    return ChangeReport(change, skipped, [], [], listing.ignored, resumed_at)


def add_to_index(
    store: IndexStore,
    name: str,
    listing: SourceListing,
    *,
    clip_model: str | Path | None = None,
    workers: int | None = None,
    restart: bool = False,
    progress: bool = False,
    on_change: OnChange | None = None,
) -> ChangeReport:
    """Add the works of ``listing`` whose ids are not indexed yet, with the index's code types and model."""
    t0 = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    with store.lock(name) as folder:
        base = store.open(name)
        try:
            m = base.manifest
            embedder, spec = None, None
            if m.embedding is not None:
                embedder = _load_embedder(clip_model or m.embedding.model_dir)
                spec = embedder.spec
                if spec.model_digest != m.embedding.model_digest:
                    raise CodeTypeMismatch(
                        f"index {name!r} holds embeddings of model {m.embedding.model_digest}; the model in "
                        f"{embedder.folder} is {spec.model_digest}",
                        hint="add with the model the index was built "
                        "with (--clip-model), or rebuild the index",
                    )
            elif clip_model is not None:
                raise InvalidRequest(
                    f"index {name!r} was built without embeddings; --clip-model does not apply",
                    hint="rebuild it with --clip-model to add embeddings",
                )
            local_spec = m.local
            if local_spec is not None:
                from safety.neardup.local import LOCAL_SPEC

                if local_spec.spec != LOCAL_SPEC:
                    raise CodeTypeMismatch(
                        f"index {name!r} holds local features computed otherwise ({local_spec.spec!r})",
                        hint=f"rebuild it: assay index build --replace --name {name} SOURCE",
                    )
            existing = {e.id for e in base.iter_entries()}
            items = [it for it in listing.items if it.id not in existing]
            already = [it.id for it in listing.items if it.id in existing]
            if not items:
                return ChangeReport(None, [], already, [], listing.ignored, 0)
            plan = {
                "op": "add",
                "name": name,
                "code_types": [c.value for c in m.code_types],
                "dim": m.embedding.dim if m.embedding else None,
                "local": local_spec.params() if local_spec else None,
                "fingerprint": _fingerprint(
                    "add",
                    name,
                    m.generation,
                    m.code_types,
                    spec.model_digest if spec else None,
                    items,
                    local_spec.params() if local_spec else None,
                ),
            }
            staging = _Staging(folder / ".staging-add", plan, restart)
            resumed_at = staging.done
            _stage(staging, items, workers=workers, embedder=embedder, progress=progress)
            skipped = staging.skipped()
            staging.close()
            if staging.rows == 0:
                staging.discard()
                return ChangeReport(None, skipped, already, [], listing.ignored, resumed_at)
            gen = str(ULID())
            files = _gen_files(
                gen, m.code_types, m.embedding.dim if m.embedding else None, local_spec is not None
            )
            derived = {"offsets", "local.kpoff", "local.lsh_post", "local.lsh_sig", "local.lsh_off"}
            for role, f in files.items():
                if role in derived:
                    continue
                _concat(folder / f, [folder / m.files[role].file, staging.paths[role]])
            if local_spec is not None:
                old_kp = local_spec.keypoints
                new_off = _kpoff(staging.paths["local.kpcount"], old_kp)
                with open(folder / files["local.kpoff"], "wb") as out:
                    out.write(np.asarray(base.local("local.kpoff")[:-1], dtype=np.uint64).tobytes())
                    out.write(new_off.tobytes())
                local_spec = _write_local_tables(
                    folder, files, local_spec, old_kp + staging.progress["kp"], progress=progress
                )
            old_size = m.files["entries"].bytes
            new_off = np.fromfile(staging.paths["offsets"], dtype=np.uint64) + np.uint64(old_size)
            with open(folder / files["offsets"], "wb") as out:
                out.write(np.asarray(base.offsets()[:-1], dtype=np.uint64).tobytes())
                out.write(new_off.tobytes())
                out.write(np.uint64(old_size + staging.progress["entries_bytes"]).tobytes())
            op = LastOperation(
                op="add",
                at=utcnow(),
                seconds=round(time.perf_counter() - t0, 3),
                added=staging.rows,
                skipped=len(skipped),
            )
            manifest = _new_manifest(
                folder,
                name=name,
                gen=gen,
                count=m.count + staging.rows,
                code_types=m.code_types,
                embedding=m.embedding,
                files=files,
                op=op,
                created_at=m.created_at,
                local=local_spec,
            )
            change = _change(manifest, m, op, [])
            _activate(store, manifest, change, on_change)
            shutil.rmtree(staging.folder, ignore_errors=True)
        finally:
            base.close()
    return ChangeReport(change, skipped, already, [], listing.ignored, resumed_at)


def remove_from_index(
    store: IndexStore, name: str, ids: Iterable[str], *, on_change: OnChange | None = None
) -> ChangeReport:
    """Remove the rows of ``ids`` (a rights holder's take-down): they are not in the new generation's
    files."""
    t0 = time.perf_counter()
    wanted = list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
    if not wanted:
        raise InvalidRequest(
            "no ids to remove", hint="name the source ids to take down (as `index query` shows them)"
        )
    with store.lock(name) as folder:
        base = store.open(name)
        try:
            m = base.manifest
            wanted_set = set(wanted)
            keep = np.ones(m.count, dtype=bool)
            found: list[str] = []
            for e in base.iter_entries():
                if e.id in wanted_set:
                    keep[e.row] = False
                    found.append(e.id)
            not_found = [i for i in wanted if i not in set(found)]
            if not found:
                return ChangeReport(None, not_found=not_found)
            gen = str(ULID())
            files = _gen_files(
                gen, m.code_types, m.embedding.dim if m.embedding else None, m.local is not None
            )
            for ct in m.code_types:
                _write_rows(folder / files[ct.value], base.codes(ct), keep)
            if m.embedding is not None:
                _write_rows(folder / files["clip"], base.embeddings(), keep)
            local_spec = _remove_local(folder, files, base, keep) if m.local is not None else None
            offsets = [0]
            with open(folder / files["entries"], "wb") as out:
                for row in np.flatnonzero(keep):
                    line = base.entry_bytes(int(row))
                    out.write(line)
                    offsets.append(offsets[-1] + len(line))
            np.asarray(offsets, dtype=np.uint64).tofile(folder / files["offsets"])
            op = LastOperation(
                op="remove", at=utcnow(), seconds=round(time.perf_counter() - t0, 3), removed=len(found)
            )
            manifest = _new_manifest(
                folder,
                name=name,
                gen=gen,
                count=int(keep.sum()),
                code_types=m.code_types,
                embedding=m.embedding,
                files=files,
                op=op,
                created_at=m.created_at,
                local=local_spec,
            )
            change = _change(manifest, m, op, found)
            _activate(store, manifest, change, on_change)
        finally:
            base.close()
    return ChangeReport(change, not_found=not_found)


def _remove_local(folder: Path, files: dict[str, str], base: IndexData, keep: np.ndarray) -> LocalSpec:
    """The kept rows' keypoints in a new generation, with new candidate tables."""
    spec = base.manifest.local
    assert spec is not None
    kpoff = np.asarray(base.local("local.kpoff"), dtype=np.int64)
    counts = np.diff(kpoff)
    kp_keep = np.repeat(keep, counts)
    for role in ("local.desc", "local.pts", "local.ang"):
        _write_rows(folder / files[role], base.local(role), kp_keep)
    _write_rows(folder / files["local.frame"], base.local("local.frame"), keep)
    new_off = np.zeros(int(keep.sum()) + 1, dtype=np.uint64)
    np.cumsum(counts[keep], out=new_off[1:])
    new_off.tofile(folder / files["local.kpoff"])
    return _write_local_tables(folder, files, spec, int(new_off[-1]))


def _write_rows(path: Path, data: np.ndarray, keep: np.ndarray) -> None:
    with open(path, "wb") as out:
        for start in range(0, len(keep), _COPY_ROWS):
            sl = slice(start, start + _COPY_ROWS)
            out.write(np.ascontiguousarray(data[sl][keep[sl]]).tobytes())


def _ordered(code_types: Sequence[CodeType | str]) -> tuple[CodeType, ...]:
    wanted = {CodeType(c) for c in code_types}
    if not wanted:
        raise InvalidRequest(
            "at least one code type is needed",
            param="codes",
            hint=f"choose from {', '.join(c.value for c in ALL_CODE_TYPES)}",
        )
    return tuple(c for c in ALL_CODE_TYPES if c in wanted)


def _change(
    manifest: IndexManifest, previous: IndexManifest | None, op: LastOperation, removed_ids: list[str]
) -> IndexChange:
    return IndexChange(
        op=op.op,
        name=manifest.name,
        generation=manifest.generation,
        digest=manifest.digest,
        previous_digest=previous.digest if previous else None,
        count=manifest.count,
        added=op.added,
        removed=op.removed,
        skipped=op.skipped,
        code_types=[c.value for c in manifest.code_types],
        embedding_model=manifest.embedding.model_digest if manifest.embedding else None,
        seconds=op.seconds,
        local_keypoints=manifest.local.keypoints if manifest.local else None,
        removed_ids=removed_ids,
    )
