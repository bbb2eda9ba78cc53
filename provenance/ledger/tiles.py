"""The ledger as a C2SP tiled transparency log (https://c2sp.org/tlog-tiles): paths and tile bytes.

Why: with the log served as standard tiles, anyone can mirror and audit it with existing tools
(Go's ``golang.org/x/mod/sumdb/tlog``, Sigsum and Tessera clients, the witness network) instead of
Assay's own verifier. Nothing is computed for this: a tile at level ``L`` is 256 consecutive
hashes of tree level ``8 L``, and the ledger already stores the leaf hashes and every
``TILE_HEIGHT``-th (4th) level of inner nodes, so every tile is one range read of stored rows.
An entry bundle is the records' leaf bytes (the canonical JSON each leaf hash hashes), each
prefixed by its length as a big-endian uint16.

Tiles and bundles are immutable: a full tile never changes, and a partial tile of width ``W`` is
the first ``W`` hashes of its full tile, which never change either. Only what is stored is
served (a hash of level ``8 L`` is stored once its subtree is complete), so nothing is served
for sizes the log has not reached.

Imports: ``core`` and ``provenance.ledger`` (log, merkle) only.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from core.errors import IntegrityError, NotFound
from provenance.ledger.log import Ledger
from provenance.ledger.merkle import HASH_SIZE, TILE_HEIGHT

#: tlog-tiles' fixed tile height: 2**8 = 256 hashes per full tile
TILE_BITS = 8
TILE_WIDTH = 1 << TILE_BITS
#: the highest tile level the spec allows
MAX_LEVEL = 63
#: an entry in a bundle carries a uint16 length
MAX_ENTRY_BYTES = 0xFFFF

# every tile level maps onto a stored level of the ledger
assert TILE_BITS % TILE_HEIGHT == 0

_ELEM = re.compile(r"^(x\d{3}/)*\d{3}$")
_DECIMAL = re.compile(r"^(0|[1-9]\d*)$")


@dataclass(frozen=True)
class TileRef:
    """One tile (``level`` 0..63) or entry bundle (``level`` None), full (width 256) or partial."""

    level: int | None
    index: int
    width: int = TILE_WIDTH

    @property
    def partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def path(self) -> str:
        """The path below the log prefix, e.g. ``tile/0/x001/234`` or ``tile/entries/000.p/17``."""
        head = "entries" if self.level is None else str(self.level)
        tail = f".p/{self.width}" if self.partial else ""
        return f"tile/{head}/{encode_index(self.index)}{tail}"


def encode_index(n: int) -> str:
    """``1234067`` -> ``x001/x234/067``: zero-padded 3-digit elements, all but the last with ``x``."""
    if n < 0:
        raise ValueError(f"tile index {n} is negative")
    parts = []
    while True:
        parts.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    parts.reverse()
    return "/".join(["x" + p for p in parts[:-1]] + [parts[-1]])


def parse_tile_path(path: str) -> TileRef:
    """Parse ``<L>/<N>[.p/<W>]`` or ``entries/<N>[.p/<W>]`` (the part after ``tile/``).

    Strict, as the spec is: a level 0..63 without leading zeroes, 3-digit index elements with
    ``x`` on all but the last, a width 1..255 without leading zeroes. Anything else is NotFound
    naming what is wrong (a static tile server has no such file either).
    """
    head, sep, rest = path.partition("/")
    if not sep:
        raise NotFound(f"tile path {path!r} has no index", hint="tile/<L>/<N>[.p/<W>] or tile/entries/<N>")
    if head == "entries":
        level: int | None = None
    elif _DECIMAL.match(head) and int(head) <= MAX_LEVEL:
        level = int(head)
    else:
        raise NotFound(f"tile level {head!r} is not a decimal 0..{MAX_LEVEL} (or 'entries')")
    width = TILE_WIDTH
    index_text, dot, w_text = rest.partition(".p/")
    if dot:
        if not _DECIMAL.match(w_text) or not 1 <= int(w_text) < TILE_WIDTH:
            raise NotFound(f"partial tile width {w_text!r} is not a decimal 1..{TILE_WIDTH - 1}")
        width = int(w_text)
    if not _ELEM.match(index_text):
        raise NotFound(f"tile index {index_text!r} is not zero-padded 3-digit elements (e.g. x001/x234/067)")
    elems = index_text.split("/")
    if len(elems) > 1 and elems[0] == "x000":
        raise NotFound(f"tile index {index_text!r} has a leading x000 element")
    index = int("".join(e.lstrip("x") for e in elems))
    return TileRef(level, index, width)


class LogTiles:
    """Reads tiles and entry bundles of one ledger from its stored rows."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def tile(self, ref: TileRef) -> bytes:
        """The ``ref.width`` hashes of a Merkle tile, concatenated; NotFound if not all are stored."""
        if ref.level is None:
            raise NotFound("an entry bundle is not a hash tile")
        start = ref.index * TILE_WIDTH
        hashes = self.ledger.stored_hashes(ref.level * TILE_BITS, start, start + ref.width)
        if len(hashes) < ref.width:
            raise NotFound(
                f"{ref.path}: the log holds {len(hashes)} of its {ref.width} hashes",
                hint="fetch the tiles a verified checkpoint's size needs",
            )
        for h in hashes:
            if len(h) != HASH_SIZE:  # pragma: no cover - the columns hold 64 hex digits
                raise IntegrityError(f"{ref.path}: a stored hash is not {HASH_SIZE} bytes")
        return b"".join(hashes)

    def bundle(self, ref: TileRef) -> bytes:
        """The entry bundle: each record's leaf bytes with a big-endian uint16 length before it."""
        if ref.level is not None:
            raise NotFound("a hash tile is not an entry bundle")
        start = ref.index * TILE_WIDTH
        leaves = self.ledger.leaves(start, start + ref.width)
        if len(leaves) < ref.width:
            raise NotFound(
                f"{ref.path}: the log holds {len(leaves)} of its {ref.width} entries",
                hint="fetch the bundles a verified checkpoint's size needs",
            )
        out = bytearray()
        for i, leaf in enumerate(leaves):
            if len(leaf) > MAX_ENTRY_BYTES:
                raise IntegrityError(
                    f"record {start + i} has {len(leaf)} leaf bytes, more than an entry bundle's "
                    f"uint16 length can carry ({MAX_ENTRY_BYTES})",
                    hint="fetch it through the audit API (GET /v1/audit/records/<id>/proof)",
                )
            out += struct.pack(">H", len(leaf)) + leaf
        return bytes(out)


def split_bundle(data: bytes) -> list[bytes]:
    """The entries of an entry bundle (for mirrors and tests); IntegrityError if it is truncated."""
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise IntegrityError(f"entry bundle truncated in a length prefix at byte {pos}")
        (n,) = struct.unpack_from(">H", data, pos)
        pos += 2
        if pos + n > len(data):
            raise IntegrityError(f"entry bundle truncated inside an entry at byte {pos}")
        out.append(data[pos : pos + n])
        pos += n
    return out
