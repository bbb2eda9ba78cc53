"""``assay index build|add|remove|query|list``: the near-duplicate indexes of training data and protected
works.

Every change (build, add, remove) is appended to the audit ledger as a record of kind ``index``
(name, operation, new and previous digest, counts, removed ids) *before* the new index generation
is switched on: if the ledger cannot be written, the index stays as it was. ``--unsafe-skip-ledger``
exists for building on a machine without the database, and says so in its name.

Errors are Assay errors and leave through the CLI's one exit path (:func:`gateway.cli.main.run_cli`):
an empty folder, a corrupt index, an index with other code types or a missing index exit 2.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from core.errors import InvalidRequest
from gateway.store import migrate

if TYPE_CHECKING:  # pragma: no cover
    from core.settings import Settings
    from safety.neardup.builder import ChangeReport, IndexChange
    from safety.neardup.store import IndexStore

app = typer.Typer(
    help="Near-duplicate indexes: build, add, remove (take-downs), query, list.", no_args_is_help=True
)

#: the ledger's tenant for operator-level changes that belong to no customer tenant
OPERATOR_TENANT = "operator"
#: a take-down's ids go into the ledger record in full up to this many; above, their count and digest
MAX_IDS_IN_RECORD = 1000


def _settings() -> Settings:
    from core.settings import Settings

    s = Settings()
    s.ensure_dirs()
    return s


def _store(settings: Settings) -> IndexStore:
    from safety.neardup.store import IndexStore

    return IndexStore(settings.index_dir)


def _codes(text: str) -> list:
    from safety.neardup.codes import CodeType

    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            out.append(CodeType(part))
        except ValueError:
            raise InvalidRequest(
                f"unknown code type {part!r}",
                param="codes",
                hint=f"choose from {', '.join(c.value for c in CodeType)}",
            ) from None
    if not out:
        raise InvalidRequest("--codes names no code type", param="codes", hint="e.g. --codes phash,dhash")
    return out


def ledger_body(change: IndexChange, source: str | None) -> dict:
    """The ``body`` of the ledger record for one index change."""
    body = change.to_dict()
    ids = body.pop("removed_ids")
    if ids:
        body["removed_ids_sha256"] = hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()
        if len(ids) <= MAX_IDS_IN_RECORD:
            body["removed_ids"] = ids
    if source is not None:
        body["source"] = source
    return body


def _recorder(
    settings: Settings, *, skip: bool, tenant: str, actor: str | None, source: str | None
) -> Callable[[IndexChange], None] | None:
    """The hook that appends the change to the ledger (before the new generation is switched on)."""
    if skip:
        typer.echo(
            "warning: --unsafe-skip-ledger: this index change is NOT recorded in the audit ledger", err=True
        )
        return None

    def record(change: IndexChange) -> None:
        from ulid import ULID

        from core.store import Database
        from provenance.ledger import Ledger, LedgerRecord
        from provenance.ledger.record import now_utc

        db = Database(settings.db_url)
        ledger = None
        try:
            if settings.auto_migrate:
                migrate(db)
            ledger = Ledger(db)
            entry = ledger.append(
                LedgerRecord(
                    record_id=str(ULID()),
                    kind="index",
                    tenant=tenant,
                    requester=actor,
                    decision=change.op,
                    categories=["copyright"],
                    created_at=now_utc(),
                    body=ledger_body(change, source),
                )
            )
            typer.echo(f"ledger: index change recorded as entry {entry.index} ({entry.record_id})", err=True)
        finally:
            if ledger is not None:
                ledger.close()
            db.dispose()

    return record


def _print_report(report: ChangeReport, as_json: bool, what: str) -> None:
    change = report.change
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "change": change.to_dict() if change else None,
                    "skipped": [s.__dict__ for s in report.skipped],
                    "already_indexed": report.already_indexed,
                    "not_found": report.not_found,
                    "ignored": report.ignored,
                    "resumed_at": report.resumed_at,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if report.resumed_at:
        typer.echo(f"resumed an interrupted {what} after {report.resumed_at} files", err=True)
    for s in report.skipped[:20]:
        typer.echo(f"skipped {s.path}: {s.reason}", err=True)
    if len(report.skipped) > 20:
        typer.echo(f"... and {len(report.skipped) - 20} more unreadable files", err=True)
    if report.ignored:
        typer.echo(f"ignored {len(report.ignored)} files that are not images (by suffix)", err=True)
    if report.already_indexed:
        typer.echo(
            f"{len(report.already_indexed)} ids were already indexed and were left as they are", err=True
        )
    for i in report.not_found[:20]:
        typer.echo(f"not in the index: {i}", err=True)
    if change is None:
        typer.echo("no change")
        return
    typer.echo(
        f"index {change.name}: {change.op} +{change.added} -{change.removed} -> {change.count} works "
        f"({', '.join(change.code_types)}{', clip' if change.embedding_model else ''}"
        f"{f', local ({change.local_keypoints} keypoints)' if change.local_keypoints is not None else ''}); "
        f"{change.skipped} unreadable files skipped; {change.seconds:.1f} s\n"
        f"digest {change.digest}"
    )


_NAME = typer.Option(..., "--name", help="Index name (a-z, 0-9, '.', '_', '-')")
_JSON = typer.Option(False, "--json", help="Print the result as JSON")
_WORKERS = typer.Option(None, "--workers", min=1, help="Worker processes (default: one per core)")
_SKIP = typer.Option(False, "--unsafe-skip-ledger", help="Do not record the change in the audit ledger")
_TENANT = typer.Option(OPERATOR_TENANT, "--tenant", help="Ledger tenant the change is recorded under")
_ACTOR = typer.Option(None, "--actor", help="Who asked for the change (recorded in the ledger; erasable)")


@app.command("build")
def build(
    source: Path = typer.Argument(
        ..., help="A folder of images, or a .csv/.jsonl manifest (path, id, licence, owner)"
    ),
    name: str = _NAME,
    codes: str = typer.Option("phash,dhash", help="Perceptual codes to compute (comma separated)"),
    clip_model: Path | None = typer.Option(
        None,
        "--clip-model",
        help="Embedding model folder (open_clip, or a TorchScript descriptor such as SSCD)",
    ),
    local: bool = typer.Option(
        True,
        "--local/--no-local",
        help="Also store ORB local features (the neardup.local check: crops, rotations, overlays)",
    ),
    licence: str | None = typer.Option(None, help="Licence for works whose manifest row names none"),
    owner: str | None = typer.Option(None, help="Owner for works whose manifest row names none"),
    workers: int | None = _WORKERS,
    replace: bool = typer.Option(False, "--replace", help="Rebuild an existing index from scratch"),
    restart: bool = typer.Option(
        False, "--restart", help="Discard an interrupted build instead of resuming it"
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar"),
    unsafe_skip_ledger: bool = _SKIP,
    tenant: str = _TENANT,
    actor: str | None = _ACTOR,
    as_json: bool = _JSON,
) -> None:
    """Build an index; an interrupted build resumes when run again with the same source."""
    from safety.neardup.builder import build_index
    from safety.neardup.sources import read_source
    from safety.neardup.store import check_name

    check_name(name)
    s = _settings()
    listing = read_source(source, licence=licence, owner=owner)
    report = build_index(
        _store(s),
        name,
        listing,
        code_types=_codes(codes),
        clip_model=clip_model,
        local=local,
        workers=workers,
        replace=replace,
        restart=restart,
        progress=not quiet and not as_json,
        on_change=_recorder(
            s, skip=unsafe_skip_ledger, tenant=tenant, actor=actor, source=str(listing.origin)
        ),
    )
    _print_report(report, as_json, "build")


@app.command("add")
def add(
    source: Path = typer.Argument(..., help="A folder of images, or a .csv/.jsonl manifest"),
    name: str = _NAME,
    clip_model: Path | None = typer.Option(
        None, "--clip-model", help="Model folder if it moved since the build"
    ),
    licence: str | None = typer.Option(None),
    owner: str | None = typer.Option(None),
    workers: int | None = _WORKERS,
    restart: bool = typer.Option(
        False, "--restart", help="Discard an interrupted add instead of resuming it"
    ),
    quiet: bool = typer.Option(False, "--quiet"),
    unsafe_skip_ledger: bool = _SKIP,
    tenant: str = _TENANT,
    actor: str | None = _ACTOR,
    as_json: bool = _JSON,
) -> None:
    """Add works to an index (ids already in it are left as they are)."""
    from safety.neardup.builder import add_to_index
    from safety.neardup.sources import read_source

    s = _settings()
    store = _store(s)
    store.manifest(name)  # a missing index fails before the source is read
    listing = read_source(source, licence=licence, owner=owner)
    report = add_to_index(
        store,
        name,
        listing,
        clip_model=clip_model,
        workers=workers,
        restart=restart,
        progress=not quiet and not as_json,
        on_change=_recorder(
            s, skip=unsafe_skip_ledger, tenant=tenant, actor=actor, source=str(listing.origin)
        ),
    )
    _print_report(report, as_json, "add")


@app.command("remove")
def remove(
    ids: list[str] | None = typer.Argument(None, help="Source ids to take down"),
    name: str = _NAME,
    from_file: Path | None = typer.Option(None, "--from-file", help="A file with one id per line"),
    unsafe_skip_ledger: bool = _SKIP,
    tenant: str = _TENANT,
    actor: str | None = _ACTOR,
    as_json: bool = _JSON,
) -> None:
    """Remove works from an index (a rights holder's take-down); exits 2 if none of the ids is indexed."""
    from safety.neardup.builder import remove_from_index

    wanted = list(ids or [])
    if from_file is not None:
        try:
            wanted += from_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidRequest(f"cannot read {from_file}: {exc}", param="from-file") from exc
    s = _settings()
    store = _store(s)
    report = remove_from_index(
        store,
        name,
        wanted,
        on_change=_recorder(s, skip=unsafe_skip_ledger, tenant=tenant, actor=actor, source=None),
    )
    _print_report(report, as_json, "remove")
    if report.change is None:
        raise InvalidRequest(
            f"none of the {len(report.not_found)} ids is in index {name!r}; nothing was removed",
            hint=f"ids are shown by `assay index query --name {name} IMAGE`",
        )


@app.command("query")
def query(
    image: Path = typer.Argument(..., help="Image file to look up"),
    name: str = _NAME,
    radius: int = typer.Option(8, min=0, max=32, help="Hamming radius in bits (<= 8: multi-hash index)"),
    codes: str | None = typer.Option(None, help="Code types to search (default: all the index holds)"),
    clip: bool = typer.Option(False, "--clip", help="Search the image embeddings instead of the codes"),
    local: bool = typer.Option(
        False, "--local", help="Search the local features (verified by RANSAC) instead of the codes"
    ),
    min_inliers: int = typer.Option(12, min=6, max=500, help="Inliers a local-feature match needs (--local)"),
    clip_model: Path | None = typer.Option(None, "--clip-model", help="Model folder (default: the index's)"),
    threshold: float = typer.Option(0.9, min=0.0, max=1.0, help="Cosine similarity threshold for --clip"),
    mirror: bool = typer.Option(True, help="Also look up the mirrored image"),
    as_json: bool = _JSON,
) -> None:
    """Print the indexed works an image is a near-duplicate of (source id, distance, licence, owner)."""
    from core.images import decode_image
    from safety.neardup.query import LoadedIndex

    try:
        data = image.read_bytes()
    except OSError as exc:
        raise InvalidRequest(f"{image}: cannot read: {exc.strerror or exc}", param="image") from None
    img = decode_image(data, name=str(image))
    loaded = LoadedIndex.open(_store(_settings()), name)
    if clip and local:
        raise InvalidRequest("--clip and --local are two different searches; choose one", param="local")
    from safety.neardup.information import measure

    info = measure(img)
    if info.reason is not None:
        if as_json:
            typer.echo(json.dumps({"decision": "undecided", "information": info.to_dict()}, indent=2))
        else:
            typer.echo(f"not enough detail to decide: {info.reason}")
        return
    if clip:
        from safety.neardup.embed import load_embedder

        spec = loaded.manifest.embedding
        folder = clip_model or (Path(spec.model_dir) if spec else None)
        if folder is None:
            loaded.data.embeddings()  # raises: the index holds no embeddings
            raise AssertionError("unreachable")  # pragma: no cover
        matches = loaded.match_image_embedding(img, load_embedder(folder), threshold=threshold, mirror=mirror)
    elif local:
        from safety.neardup.local import extract
        from safety.neardup.options import LocalCheckOptions

        loaded.local_tables()  # raises: the index holds no local features
        fields = LocalCheckOptions.model_fields  # the check's defaults: the CLI answers as the gateway
        views = extract(
            img,
            loaded.manifest.local,
            fields["keypoints"].default,
            mirror=mirror,
            coarse=fields["coarse_keypoints"].default,
        )
        matches = loaded.match_local(views, img.size, min_inliers=min_inliers)
    else:
        matches = loaded.match_image(
            img, code_types=_codes(codes) if codes else None, radius=radius, mirror=mirror
        )
    if as_json:
        typer.echo(json.dumps([m.to_dict() for m in matches], ensure_ascii=False, indent=2))
        return
    if not matches:
        typer.echo(f"no near-duplicate in index {name} ({loaded.data.count} works)")
    for m in matches:
        if m.geometry is not None:
            g = m.geometry
            how = (
                f"{g.inliers} inliers, rotation {g.rotation_deg:g} deg, scale {g.scale:g}, "
                f"source region {g.source_box} at {g.query_box} in the image"
            )
        elif m.similarity is not None:
            how = f"similarity {m.similarity:.3f}"
        else:
            how = f"distance {int(m.distance)}"
        typer.echo(
            f"{m.source_id}\t{m.method} {how}{' (mirrored)' if m.mirrored else ''}\t"
            f"licence={m.licence or '-'}\towner={m.owner or '-'}"
        )


@app.command("list")
def list_(as_json: bool = _JSON) -> None:
    """List the indexes with their size, code types, last change and digest."""
    from safety.neardup.errors import CodeTypeMismatch, IndexCorrupt

    store = _store(_settings())
    rows: list[dict[str, Any]] = []
    for n in store.names():
        try:
            m = store.manifest(n)
            rows.append(
                {
                    "name": n,
                    "ok": True,
                    "count": m.count,
                    "code_types": [c.value for c in m.code_types],
                    "embedding": m.embedding.model_digest if m.embedding else None,
                    "local_keypoints": m.local.keypoints if m.local else None,
                    "format": m.format,
                    "updated_at": m.updated_at.isoformat(),
                    "last_operation": m.last_operation.op,
                    "digest": m.digest,
                }
            )
        except (IndexCorrupt, CodeTypeMismatch) as exc:
            rows.append({"name": n, "ok": False, "error": exc.message})
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo(f"(no indexes in {store.root})")
    for r in rows:
        if r["ok"]:
            typer.echo(
                f"{r['name']:<24} {r['count']:>10} works  {','.join(r['code_types'])}"
                f"{'+clip' if r['embedding'] else ''}{'+local' if r['local_keypoints'] is not None else ''}"
                f"  {r['last_operation']} {r['updated_at']}  {r['digest']}"
            )
        else:
            typer.echo(f"{r['name']:<24} UNUSABLE: {r['error']}")
