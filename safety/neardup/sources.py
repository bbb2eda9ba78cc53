"""What an index is built from: a folder of images, or a CSV/JSONL manifest of local files.

A manifest row names a local ``path`` (relative to the manifest's folder or absolute) and may give
an ``id`` (default: the path as written), a ``licence`` (``license`` is accepted too) and an
``owner``; other columns are ignored, so training-data manifests can be used as they are. Nothing
is downloaded: a URL as path or id is refused with the line that holds it. Listing only reads the
folder or the manifest; whether each file decodes is found out (and reported) during the build.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from safety.neardup.errors import SourceError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
MANIFEST_SUFFIXES = frozenset({".csv", ".jsonl"})
MAX_ID_CHARS = 512
MAX_META_CHARS = 256
_URL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


@dataclass(frozen=True)
class SourceItem:
    """One work to index: a stable id (what take-downs name), the file, and its rights metadata."""

    id: str
    path: Path
    licence: str | None = None
    owner: str | None = None


@dataclass(frozen=True)
class SourceListing:
    origin: Path
    kind: str  # "folder" | "manifest"
    items: list[SourceItem]
    #: files in a folder source that were not read because their suffix is not an image suffix
    ignored: list[str] = field(default_factory=list)


def read_source(source: str | Path, *, licence: str | None = None, owner: str | None = None) -> SourceListing:
    """List the works of a folder or manifest. ``licence``/``owner`` fill rows that do not give their own."""
    src = Path(source).expanduser()
    if not src.exists():
        raise SourceError(
            f"index source not found: {src}", hint="give a folder of images or a .csv/.jsonl manifest"
        )
    if src.is_dir():
        listing = _read_folder(src, licence, owner)
    elif src.suffix.lower() in MANIFEST_SUFFIXES:
        listing = _read_manifest(src, licence, owner)
    else:
        raise SourceError(f"index source {src} is neither a folder nor a .csv/.jsonl manifest")
    if not listing.items:
        extra = f" ({len(listing.ignored)} other files ignored: not image files)" if listing.ignored else ""
        raise SourceError(
            f"no images to index in {src}{extra}",
            hint=f"image suffixes read: {', '.join(sorted(IMAGE_SUFFIXES))}",
        )
    _refuse_duplicates(listing)
    return listing


def _check_meta(value: str | None, what: str, where: str) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    if len(value) > MAX_META_CHARS:
        raise SourceError(f"{where}: {what} is longer than {MAX_META_CHARS} characters")
    return value


def _read_folder(folder: Path, licence: str | None, owner: str | None) -> SourceListing:
    items, ignored = [], []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            ignored.append(rel.as_posix())
            continue
        rid = rel.as_posix()
        if len(rid) > MAX_ID_CHARS:
            raise SourceError(f"{p}: path longer than {MAX_ID_CHARS} characters cannot be an index id")
        items.append(
            SourceItem(
                rid, p, _check_meta(licence, "licence", str(folder)), _check_meta(owner, "owner", str(folder))
            )
        )
    return SourceListing(folder, "folder", items, ignored)


def _rows(manifest: Path) -> list[tuple[int, dict]]:
    try:
        text = manifest.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read manifest {manifest}: {exc}") from exc
    rows: list[tuple[int, dict]] = []
    if manifest.suffix.lower() == ".jsonl":
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SourceError(f"{manifest}:{n}: not a JSON object: {exc.msg}") from exc
            if not isinstance(row, dict):
                raise SourceError(f'{manifest}:{n}: each line must be a JSON object with a "path"')
            rows.append((n, row))
    else:
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or "path" not in [f.strip() for f in reader.fieldnames]:
            raise SourceError(
                f'{manifest}:1: the CSV header must name a "path" column',
                hint="columns read: path (required), id, licence (or license), owner",
            )
        for n, row in enumerate(reader, start=2):
            rows.append((n, {(k or "").strip(): v for k, v in row.items()}))
    return rows


def _read_manifest(manifest: Path, licence: str | None, owner: str | None) -> SourceListing:
    base = manifest.parent
    items = []
    for n, row in _rows(manifest):
        where = f"{manifest}:{n}"
        raw_path = row.get("path")
        if not isinstance(raw_path, str) or not raw_path.strip():
            raise SourceError(f'{where}: row has no "path"')
        raw_path = raw_path.strip()
        if _URL_RE.match(raw_path):
            raise SourceError(
                f"{where}: path {raw_path!r} is a URL; Assay does not download sources",
                hint="download the files first and list their local paths",
            )
        rid = row.get("id")
        rid = raw_path if rid is None or (isinstance(rid, str) and not rid.strip()) else str(rid).strip()
        if _URL_RE.match(rid):
            raise SourceError(
                f"{where}: id {rid!r} is a URL; give a URL-less id (e.g. the dataset's row key)"
            )
        if len(rid) > MAX_ID_CHARS:
            raise SourceError(f"{where}: id longer than {MAX_ID_CHARS} characters")
        lic = row.get("licence", row.get("license"))
        items.append(
            SourceItem(
                id=rid,
                path=(base / raw_path) if not Path(raw_path).is_absolute() else Path(raw_path),
                licence=_check_meta(lic, "licence", where) or _check_meta(licence, "licence", where),
                owner=_check_meta(row.get("owner"), "owner", where) or _check_meta(owner, "owner", where),
            )
        )
    return SourceListing(manifest, "manifest", items)


def _refuse_duplicates(listing: SourceListing) -> None:
    seen: set[str] = set()
    dupes: list[str] = []
    for it in listing.items:
        if it.id in seen:
            dupes.append(it.id)
        seen.add(it.id)
    if dupes:
        shown = ", ".join(repr(d) for d in dupes[:5])
        raise SourceError(
            f"{listing.origin}: {len(dupes)} duplicate ids ({shown}{', ...' if len(dupes) > 5 else ''})",
            hint="ids identify works for take-downs and must be unique",
        )
