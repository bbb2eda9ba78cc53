"""Real reference photographs for the copy-detection and watermark benchmarks.

Why: a near-duplicate or watermark benchmark run on the ~17 photographs that ship with
scikit-image and scikit-learn measures those 17 pictures, not photographs. This module gathers a
few hundred distinct real photographs (people, places, objects, animals, textures) from packages
that the ordinary package clients install, each with the licence its package states, so that a
benchmark can draw its reference set from them. Nothing is downloaded at run time.

Install the sources first (benchmarks need it; CI does not): ``make photos``. That runs
``apt-get install --no-install-recommends gcompris-qt-data lomiri-wallpapers-16.04
lomiri-wallpapers-20.04 mate-backgrounds plasma-workspace-wallpapers palapeli-data
enlightenment-data`` (about 620 MB of downloads, 400 MB of it enlightenment-data, none of them
with dependencies; skipped quietly where apt is absent). scikit-image and scikit-learn come with
the ``dev`` extra (``make install``). A source that is not installed is skipped with a one-line
note on stderr.

Sources (the licence is read from each package's own metadata where it gives one per file):

- ``gcompris`` -- Debian ``gcompris-qt-data`` (GCompris educational suite). Its Qt resource
  archives (``/usr/share/gcompris-qt/rcc/*.rcc``) hold the photographs of the activities
  erase, explore_monuments, explore_world_animals, explore_farm_animals, explore_world_music,
  categorization, clickgame (its sea backgrounds) and details (its ``*_background`` pictures;
  those its README calls paintings are left out), most from Wikimedia Commons; the README beside
  each folder in the archive names every file's author, source and licence (public domain,
  CC0-1.0, CC-BY-2.0/3.0/4.0, CC-BY-SA-2.0 to 4.0). A file that no README gives a licence is not
  used; photographs whose README gives the same source URL are one photograph.
- ``lomiri`` -- Debian ``lomiri-wallpapers-16.04`` and ``-20.04`` (Ubuntu Touch wallpapers,
  ``/usr/share/backgrounds``): CC-BY-4.0, CC-BY-SA-3.0/4.0 and CC0-1.0 per file, read from
  ``/usr/share/doc/<package>/copyright``.
- ``mate`` -- Debian ``mate-backgrounds``, its ``nature`` folder: GPL-2+ per file (copyright file).
- ``plasma`` -- Debian ``plasma-workspace-wallpapers`` (KDE): the licence in each wallpaper's
  ``metadata.json`` (LGPLv3 or CC-BY-SA-4.0); the package's copyright file says GPL-2+.
- ``palapeli`` -- Debian ``palapeli-data`` (KDE jigsaw puzzles, Wikimedia Commons photographs):
  the licence in each puzzle's ``.desktop`` file (public domain, GFDL).
- ``enlightenment`` -- Debian ``enlightenment-data``: the photographic desktop backgrounds, JPEG
  streams inside ``/usr/share/enlightenment/data/backgrounds/*.edj``; BSD-2-clause, the licence
  its copyright file gives all of Enlightenment (no stanza names the backgrounds).
- ``skimage`` -- scikit-image's bundled sample data: astronaut, rocket, hubble_deep_field (public
  domain), chelsea, coffee, retina (CC0), as its docstrings state.
- ``sklearn`` -- scikit-learn's ``load_sample_images``: china.jpg and flower.jpg (CC-BY-2.0, per
  its README).
- ``assay`` -- ``tests/safety/image/data/grace_hopper.jpg`` (public domain, see SOURCES.md there).

Which files are photographs: each source names the folders or files that hold photographs (the
wallpaper packages also hold drawings and renders: ``_PLASMA_PHOTOS``, ``_ENLIGHTENMENT_PHOTOS``
and ``_LOMIRI_NOT_PHOTOS`` were set by looking at every picture). Every candidate then passes
``reject``, which drops it when

- its shorter side is under ``min_side`` pixels (256 unless told);
- it is greyscale: the mean spread between its channels is under ``GREY_SPREAD`` levels;
- it is a cut-out: over ``CUTOUT_SHARE`` of its pixels are transparent;
- it is flat like a graphic: over ``FLAT_SHARE`` of the pixels of its 256-pixel thumbnail equal
  their right and lower neighbours exactly (clipped white and black not counted). This only
  catches flat graphics: WebP-compressed photographs with much sky reach 0.43 on it, so the
  named folders and lists above are what keep drawings and renders out.

Near-identical photographs (the same Commons photograph in two GCompris activities) are dropped
by perceptual hash: a 64-bit pHash within ``DUP_DISTANCE`` bits of one already kept. The order is
fixed: sources take turns, each in name order, so the first ``n`` are varied.

    .venv/bin/python benchmarks/photos.py            # counts per source and licence
    .venv/bin/python benchmarks/photos.py --list     # and every photograph's name and licence
"""

from __future__ import annotations

import argparse
import fnmatch
import functools
import io
import json
import re
import struct
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

GREY_SPREAD = 3.0  # mean |R-G| + |G-B| + |B-R| / 3 over the thumbnail, in 8-bit levels
FLAT_SHARE = 0.5  # share of thumbnail pixels equal to both their right and lower neighbour
DUP_DISTANCE = 8  # pHash bits (of 64) within which two photographs are the same one
CUTOUT_SHARE = 0.02  # share of pixels with alpha < 250 above which an image is a cut-out

_GCOMPRIS_RCC = Path("/usr/share/gcompris-qt/rcc")
_GCOMPRIS_FOLDERS = (
    "erase/resource",
    "explore_monuments/resource/",
    "explore_world_animals/resource/animals",
    "explore_farm_animals/resource/animals",
    "explore_world_music/resource/music",
    "categorization/resource/images/fishes",
    "categorization/resource/images/monuments",
    "categorization/resource/images/renewable",
    "categorization/resource/images/tools",
    "categorization/resource/images/others",
    "clickgame/resource",  # the six underwater photographs behind the fish
    "details/resource/image",  # only the *_background files: the rest are crops of them
)
_BACKGROUNDS = Path("/usr/share/backgrounds")
_LOMIRI_PACKAGES = ("lomiri-wallpapers-16.04", "lomiri-wallpapers-20.04")
# Not photographs (a pattern, a gradient, renders, a composite), seen one by one.
_LOMIRI_NOT_PHOTOS = frozenset({"analogpattern", "umang", "Fossa", "Painting-Colors", "Infinite-Sea"})
_MATE_NATURE = Path("/usr/share/backgrounds/mate/nature")
_PLASMA = Path("/usr/share/wallpapers")
# The photographs among plasma-workspace-wallpapers' 30 wallpapers (the rest are renders).
_PLASMA_PHOTOS = (
    "BytheWater",
    "ColdRipple",
    "ColorfulCups",
    "DarkestHour",
    "EveningGlow",
    "FallenLeaf",
    "Grey",
    "Kite",
    "OneStandsOut",
    "Path",
    "summer_1am",
)
_PALAPELI = Path("/usr/share/palapeli/collection")
_ENLIGHTENMENT = Path("/usr/share/enlightenment/data/backgrounds")
# The photographs among enlightenment-data's 23 backgrounds (Dunes, Flat-*, Paper-Flower,
# Squiggle* and Sunset-Hills are drawings or renders).
_ENLIGHTENMENT_PHOTOS = (
    "Bamboo",
    "Foggy-Trees",
    "God-Rays",
    "Green-Maple",
    "Lichen-Branches",
    "Mountain",
    "Peaks",
    "Red-Maple",
    "Sea-of-Lanterns",
    "Snow-Trees",
    "Spruce-Needles",
    "Sunset-Clouds",
    "White-Flower",
    "Yellow-Flower",
)
_SKIMAGE = {
    "astronaut": "public domain (NASA)",
    "rocket": "public domain (SpaceX)",
    "hubble_deep_field": "public domain (NASA)",
    "chelsea": "CC0-1.0",
    "coffee": "CC0-1.0",
    "retina": "CC0-1.0",
}


def normalise_licence(text: str) -> str:
    """One spelling per licence: "CC-BY-SA 4.0" -> "CC-BY-SA-4.0", "Public domain" -> "public domain"."""
    t = re.sub(r"\b(CC-BY(?:-SA)?|CC0)[ -](\d\.\d)\b", r"\1-\2", text.strip())
    t = re.sub(r"^public domain", "public domain", t, flags=re.I)
    return {"FDL": "GFDL", "GNU-FDL": "GFDL", "Expat": "MIT"}.get(t, t)


class SourceMissing(Exception):
    """A source's package is not installed (the message says which and how to install it)."""


@dataclass(frozen=True)
class Photo:
    """One candidate photograph: where it comes from, under which licence, and how to load it."""

    name: str  # "<source>/<stem>", unique
    source: str
    licence: str  # as the package states it, spelling normalised (normalise_licence)
    origin: str  # the file (or archive member) it is read from
    load: Callable[[], Image.Image]

    def __post_init__(self) -> None:
        object.__setattr__(self, "licence", normalise_licence(self.licence))


# --- readers -------------------------------------------------------------------------------------
def _open(data: bytes | Path) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        im = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
        im.load()
        return im

    return load


def rcc_members(path: Path) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of each file in a Qt resource archive (.rcc), zlib members inflated.

    The format (header ``qres``, version, then offsets of the tree, data and names) is Qt's
    rcc binary format; zstd-compressed members (flag 4) are skipped, as this reader has no zstd.
    """
    import zlib

    b = path.read_bytes()
    if b[:4] != b"qres":
        raise ValueError(f"{path}: not a Qt resource archive (no 'qres' header)")
    version, tree, data, names = struct.unpack(">IIII", b[4:20])
    node = 14 if version == 1 else 22

    def name_at(off: int) -> str:
        (length,) = struct.unpack(">H", b[names + off : names + off + 2])
        return b[names + off + 6 : names + off + 6 + 2 * length].decode("utf-16-be")

    stack: list[tuple[int, str]] = [(0, "")]
    while stack:
        i, prefix = stack.pop()
        o = tree + i * node
        name_off, flags = struct.unpack(">IH", b[o : o + 6])
        here = prefix + (name_at(name_off) if i else "")
        if flags & 2:  # a folder: count, first child
            count, first = struct.unpack(">II", b[o + 6 : o + 14])
            stack.extend((c, here + "/") for c in range(first, first + count))
            continue
        (data_off,) = struct.unpack(">I", b[o + 10 : o + 14])
        (length,) = struct.unpack(">I", b[data + data_off : data + data_off + 4])
        blob = b[data + data_off + 4 : data + data_off + 4 + length]
        if flags & 4:
            continue
        yield here, (zlib.decompress(blob[4:]) if flags & 1 else blob)


_FILE_LINE = re.compile(r"^[\w.\-*]+\.(webp|jpe?g|png|svgz?|ogg|wav|qml)$", re.I)


def readme_licences(text: str) -> dict[str, tuple[str, str, str]]:
    """GCompris README blocks -> {file name: (licence, source URL or "", comment or "")}.

    A block is ``Copyright:``/``Source:``/``License:``/``Comment(s):`` lines and the file names,
    after ``Files:`` (on its line or the lines after) or alone on their lines, up to a blank line.
    """
    out: dict[str, tuple[str, str, str]] = {}
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        files: list[str] = []
        in_files = False
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            key = key.strip()
            if sep and key in ("Copyright", "Source", "License", "Comment", "Comments", "Files"):
                in_files = key == "Files"
                if in_files:
                    files.extend(value.split())
                else:
                    fields[key.rstrip("s")] = value.strip()
            elif line.strip() and (in_files or _FILE_LINE.match(line.strip())):
                files.extend(line.split())
        licence = fields.get("License", "")
        if licence:
            for f in files:
                out[f] = (licence, fields.get("Source", ""), fields.get("Comment", ""))
    return out


def debian_copyright(package: str) -> list[tuple[list[str], str]]:
    """The (Files globs, License) stanzas of a Debian machine-readable copyright file."""
    text = Path(f"/usr/share/doc/{package}/copyright").read_text(encoding="utf-8", errors="replace")
    stanzas: list[tuple[list[str], str]] = []
    for para in re.split(r"\n\s*\n", text):
        m_files = re.search(r"^Files:(.*(?:\n[ \t].*)*)", para, re.M)
        m_lic = re.search(r"^License:[ \t]*(\S.*)$", para, re.M)
        if m_files and m_lic and not m_files.group(1).split()[0].startswith("debian/"):
            stanzas.append((m_files.group(1).split(), m_lic.group(1).strip()))
    return stanzas


def licence_for(stanzas: list[tuple[list[str], str]], filename: str) -> str | None:
    """The licence of the last stanza whose glob matches ``filename`` by base name (DEP-5)."""
    found = None
    for globs, licence in stanzas:
        if any(g == "*" or fnmatch.fnmatch(filename, g.rsplit("/", 1)[-1]) for g in globs):
            found = licence
    return found


def _package_files(package: str) -> list[Path]:
    listing = Path(f"/var/lib/dpkg/info/{package}.list")
    if not listing.is_file():
        raise SourceMissing(f"Debian package {package} is not installed (make photos)")
    return [Path(line) for line in listing.read_text().split() if line]


# --- sources -------------------------------------------------------------------------------------
def _gcompris() -> list[Photo]:
    archives = sorted(_GCOMPRIS_RCC.glob("*.rcc"))
    if not archives:
        raise SourceMissing(f"no {_GCOMPRIS_RCC}/*.rcc: Debian package gcompris-qt-data (make photos)")
    images: dict[str, bytes] = {}
    licences: dict[str, tuple[str, str, str]] = {}
    for archive in archives:
        for member, blob in rcc_members(archive):
            folder, _, filename = member.rpartition("/")
            if not any(f in folder + "/" for f in _GCOMPRIS_FOLDERS):
                continue
            if filename.lower() == "readme":
                text = blob.decode("utf-8", errors="replace")
                for f, entry in readme_licences(text).items():
                    licences[f"{folder}/{f}"] = entry
            elif filename.lower().endswith((".webp", ".jpg", ".jpeg", ".png")):
                if "/details/" not in member or Path(filename).stem.endswith("_background"):
                    images[member] = blob
    by_source: dict[str, str] = {}  # one photograph per source URL: the largest copy
    for member in sorted(images):
        lic = licences.get(member)
        if lic is None:
            continue  # no README names its licence: not used
        licence, url, comment = lic
        if "painting" in comment.lower():
            continue  # "based on an original painting by Van Gogh": a photograph of a painting
        url = url or next(iter(re.findall(r"https?://\S+", comment)), "") or member
        other = by_source.get(url)
        if other is None or _pixels(images[member]) > _pixels(images[other]):
            by_source[url] = member
    out: list[Photo] = []
    for url, member in by_source.items():
        licence = licences[member][0]
        activity = member.split("/activities/", 1)[-1].split("/", 1)[0]
        name = f"gcompris/{activity}-{Path(member).stem}"
        out.append(Photo(name, "gcompris", licence, f"{member} ({url})", _open(images[member])))
    return out


def _pixels(blob: bytes) -> int:
    w, h = Image.open(io.BytesIO(blob)).size
    return w * h


def _lomiri() -> list[Photo]:
    out: list[Photo] = []
    missing = []
    for package in _LOMIRI_PACKAGES:
        try:
            files = _package_files(package)
        except SourceMissing as e:
            missing.append(str(e))
            continue
        stanzas = debian_copyright(package)
        for f in sorted(files):
            if f.suffix.lower() not in (".jpg", ".png") or f.parent != _BACKGROUNDS:
                continue
            stem = f.stem.split("_by_")[0]
            licence = licence_for(stanzas, f.name)
            if stem in _LOMIRI_NOT_PHOTOS or licence is None or not f.is_file():
                continue
            out.append(Photo(f"lomiri/{stem}", "lomiri", licence, str(f), _open(f)))
    if not out and missing:
        raise SourceMissing("; ".join(missing))
    return out


def _mate() -> list[Photo]:
    files = [f for f in _package_files("mate-backgrounds") if f.parent == _MATE_NATURE and f.is_file()]
    stanzas = debian_copyright("mate-backgrounds")
    out = []
    for f in sorted(files):
        licence = licence_for(stanzas, f.name)
        if licence is not None and f.suffix.lower() in (".jpg", ".png"):
            out.append(Photo(f"mate/{f.stem}", "mate", licence, str(f), _open(f)))
    return out


def _plasma() -> list[Photo]:
    if not _PLASMA.is_dir() or not any((_PLASMA / w).is_dir() for w in _PLASMA_PHOTOS):
        raise SourceMissing("Debian package plasma-workspace-wallpapers is not installed (make photos)")
    out = []
    for wallpaper in _PLASMA_PHOTOS:
        folder = _PLASMA / wallpaper
        meta_file = folder / "metadata.json"
        if not meta_file.is_file():
            continue
        licence = json.loads(meta_file.read_text()).get("KPlugin", {}).get("License")
        sizes = []
        for f in (folder / "contents" / "images").glob("*x*.*"):
            m = re.fullmatch(r"(\d+)x(\d+)", f.stem)
            if m and int(m.group(1)) >= int(m.group(2)):  # landscape ones: the same picture
                sizes.append((int(m.group(1)), f))
        if not licence or not sizes:
            continue
        # the largest up to 2560 wide (the 5120 ones are the same picture, 4x the memory)
        fitting = [s for s in sizes if s[0] <= 2560] or sizes
        _, f = max(fitting)
        out.append(Photo(f"plasma/{wallpaper}", "plasma", str(licence), str(f), _open(f)))
    return out


def _palapeli() -> list[Photo]:
    desktops = sorted(_PALAPELI.glob("*.desktop"))
    if not desktops:
        raise SourceMissing("Debian package palapeli-data is not installed (make photos)")
    out = []
    for d in desktops:
        entries = dict(
            line.split("=", 1) for line in d.read_text(encoding="utf-8").splitlines() if "=" in line
        )
        licence, image = entries.get("X-KDE-PluginInfo-License"), entries.get("Image")
        if licence and image and (_PALAPELI / image).is_file():
            origin = f"{_PALAPELI / image} ({entries.get('X-KDE-PluginInfo-Website', '')})"
            out.append(Photo(f"palapeli/{d.stem}", "palapeli", licence, origin, _open(_PALAPELI / image)))
    return out


def edj_first_jpeg(path: Path) -> Image.Image:
    """The first (largest) JPEG picture stored in an Edje theme file (.edj, an EET archive).

    The backgrounds are compiled with lossy compression, which stores each size of the picture as
    a plain JPEG stream inside the archive; the first one is the largest.
    """
    b = path.read_bytes()
    start = b.find(b"\xff\xd8\xff")
    if start < 0:
        raise ValueError(f"{path}: no JPEG picture inside")
    im = Image.open(io.BytesIO(b[start:]))
    im.load()
    return im


def _enlightenment() -> list[Photo]:
    files = [_ENLIGHTENMENT / f"{n}.edj" for n in _ENLIGHTENMENT_PHOTOS]
    if not any(f.is_file() for f in files):
        raise SourceMissing("Debian package enlightenment-data is not installed (make photos)")
    stanzas = debian_copyright("enlightenment-data")
    out = []
    for f in files:
        licence = licence_for(stanzas, f.name)
        if f.is_file() and licence is not None:
            load = functools.partial(edj_first_jpeg, f)
            out.append(Photo(f"enlightenment/{f.stem}", "enlightenment", licence, str(f), load))
    return out


def _skimage() -> list[Photo]:
    try:
        import skimage.data as sd
    except ImportError as e:
        raise SourceMissing("scikit-image is not installed (make install)") from e

    def loader(name: str) -> Callable[[], Image.Image]:
        return lambda: Image.fromarray(getattr(sd, name)())

    return [
        Photo(f"skimage/{n}", "skimage", lic, f"skimage.data.{n}()", loader(n)) for n, lic in _SKIMAGE.items()
    ]


def _sklearn() -> list[Photo]:
    try:
        from sklearn.datasets import load_sample_images
    except ImportError as e:
        raise SourceMissing("scikit-learn is not installed (make install)") from e
    images = load_sample_images()
    out = []
    for arr, filename in zip(images.images, images.filenames, strict=True):
        stem = Path(filename).stem
        load = functools.partial(Image.fromarray, np.asarray(arr))
        out.append(Photo(f"sklearn/{stem}", "sklearn", "CC-BY-2.0", filename, load))
    return out


def _assay() -> list[Photo]:
    f = ROOT / "tests" / "safety" / "image" / "data" / "grace_hopper.jpg"
    if not f.is_file():
        raise SourceMissing(f"{f} is missing")
    return [Photo("assay/grace_hopper", "assay", "public domain (U.S. Navy)", str(f), _open(f))]


SOURCES: dict[str, Callable[[], list[Photo]]] = {
    "gcompris": _gcompris,
    "lomiri": _lomiri,
    "mate": _mate,
    "plasma": _plasma,
    "palapeli": _palapeli,
    "enlightenment": _enlightenment,
    "skimage": _skimage,
    "sklearn": _sklearn,
    "assay": _assay,
}


# --- selection -----------------------------------------------------------------------------------
def _thumbnail(im: Image.Image, side: int = 256) -> np.ndarray:
    t = im.convert("RGB")
    t.thumbnail((side, side), Image.Resampling.BOX)
    return np.asarray(t, dtype=np.int16)


def reject(im: Image.Image, min_side: int = 256) -> str | None:
    """Why ``im`` is not used as a reference photograph, or None (the rule in the module doc)."""
    if min(im.size) < min_side:
        return f"smaller than {min_side} px ({im.size[0]}x{im.size[1]})"
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        alpha = np.asarray(im.convert("RGBA"))[..., 3]
        if float((alpha < 250).mean()) > CUTOUT_SHARE:
            return "a cut-out (transparent background)"
    t = _thumbnail(im)
    spread = (
        np.abs(t[..., 0] - t[..., 1]).mean()
        + np.abs(t[..., 1] - t[..., 2]).mean()
        + np.abs(t[..., 2] - t[..., 0]).mean()
    ) / 3
    if spread < GREY_SPREAD:
        return f"greyscale (channel spread {spread:.1f})"
    here = t[:-1, :-1]
    flat_px = (here == t[:-1, 1:]).all(axis=-1) & (here == t[1:, :-1]).all(axis=-1)
    # clipped white or black (a product shot's backdrop, a night sky) is flat in photographs too
    clipped = (here >= 250).all(axis=-1) | (here <= 5).all(axis=-1)
    flat = float((flat_px & ~clipped).mean())
    if flat > FLAT_SHARE:
        return f"flat like a drawing ({flat:.0%} of pixels equal their neighbours)"
    return None


def _interleave(groups: list[list[tuple[Photo, Image.Image]]]) -> list[tuple[Photo, Image.Image]]:
    out: list[tuple[Photo, Image.Image]] = []
    for i in range(max((len(g) for g in groups), default=0)):
        out.extend(g[i] for g in groups if i < len(g))
    return out


def _accepted(photos: list[Photo], min_side: int, verbose: bool) -> list[tuple[Photo, Image.Image]]:
    out = []
    for photo in sorted(photos, key=lambda p: p.name):
        try:
            im = photo.load()
        except (OSError, ValueError) as e:
            print(f"photos: {photo.name} unreadable ({e}): skipped", file=sys.stderr)
            continue
        why = reject(im, min_side)
        if why is None:
            out.append((photo, im.convert("RGB")))
        elif verbose:
            print(f"photos: {photo.name} dropped: {why}", file=sys.stderr)
    return out


def photo_records(min_side: int = 256, verbose: bool = False) -> list[tuple[Photo, Image.Image]]:
    """Every distinct photograph of the installed sources with its image (RGB), sources in turn.

    A missing source is skipped with a one-line note on stderr; ``verbose`` also names each
    rejected or duplicate candidate and why. Loading them all takes about a minute (2 cores).
    """
    import imagehash

    if min_side < 1:
        raise ValueError(f"min_side must be a positive number of pixels, got {min_side}")
    groups = []
    for name, find in SOURCES.items():
        try:
            groups.append(_accepted(find(), min_side, verbose))
        except SourceMissing as e:
            print(f"photos: source {name} skipped: {e}", file=sys.stderr)
    kept: list[tuple[Photo, Image.Image]] = []
    hashes: list[tuple[imagehash.ImageHash, str]] = []
    for photo, im in _interleave(groups):
        h = imagehash.phash(im)
        twin = next((n for other, n in hashes if h - other <= DUP_DISTANCE), None)
        if twin is not None:
            if verbose:
                print(f"photos: {photo.name} dropped: near-identical to {twin}", file=sys.stderr)
            continue
        hashes.append((h, photo.name))
        kept.append((photo, im))
    return kept


def _square(im: Image.Image, size: int) -> Image.Image:
    w, h = im.size
    s = min(w, h)
    box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
    return im.resize((size, size), Image.Resampling.LANCZOS, box=box)


def reference_photos(
    n: int | None = None, size: int | None = None, min_side: int = 256
) -> list[tuple[str, Image.Image]]:
    """(name, RGB image) of up to ``n`` distinct real photographs (all when None).

    ``size``: each image is the centred square crop resized to ``size`` x ``size``; None keeps the
    original size. Raises ValueError when fewer than ``n`` are installed (run ``make photos``).
    """
    if n is not None and n < 1:
        raise ValueError(f"n must be a positive count of photographs or None, got {n}")
    if size is not None and size < 8:
        raise ValueError(f"size must be at least 8 pixels or None, got {size}")
    records = photo_records(min_side)
    if n is not None and len(records) < n:
        raise ValueError(
            f"{n} reference photographs asked, {len(records)} installed: run `make photos` "
            "(see benchmarks/photos.py)"
        )
    chosen = records if n is None else records[:n]
    return [(p.name, im if size is None else _square(im, size)) for p, im in chosen]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Count the reference photographs installed, per source and licence."
    )
    ap.add_argument("--min-side", type=int, default=256, help="shortest side kept, in pixels (256)")
    ap.add_argument("--list", action="store_true", help="print every photograph's name, size and licence")
    ap.add_argument("--verbose", action="store_true", help="name each dropped candidate and why")
    args = ap.parse_args(argv)
    records = photo_records(args.min_side, verbose=args.verbose)
    per_source = Counter(p.source for p, _ in records)
    per_licence = Counter((p.source, p.licence) for p, _ in records)
    big = sum(min(im.size) >= 512 for _, im in records)
    print(f"{len(records)} distinct photographs ({big} with shorter side >= 512 px)")
    for source, count in per_source.items():
        print(f"  {source:14s} {count:4d}")
        for (s, licence), c in sorted(per_licence.items(), key=lambda x: -x[1]):
            if s == source:
                print(f"      {c:4d}  {licence}")
    if args.list:
        for p, im in records:
            print(f"{p.name}\t{im.size[0]}x{im.size[1]}\t{p.licence}\t{p.origin}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
