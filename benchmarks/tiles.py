"""Benchmark of the ledger served as C2SP tlog-tiles: the cost of one tile and one entry bundle.

    .venv/bin/python benchmarks/tiles.py [--size 20000] [--repeats 50]

A SQLite ledger of ``--size`` records (batches of 1000), then ``--repeats`` reads each of a full
level-0 tile (256 leaf hashes), the partial level-1 tile of the current size (stored level-8
nodes) and a full entry bundle (256 leaves rebuilt from their rows, uint16-prefixed). Printed:
milliseconds per read, the mean of the repeats. What a mirror pays per 256 records is one tile
and one bundle.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime

from ulid import ULID

from core.store import Database
from gateway.store import migrate
from provenance.ledger import Ledger, LedgerRecord
from provenance.ledger.tiles import TILE_WIDTH, LogTiles, TileRef


def _ms(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args()
    if args.size < 2 * TILE_WIDTH:
        raise SystemExit("--size must be at least 512")
    with tempfile.TemporaryDirectory() as d:
        db = Database(f"sqlite:///{d}/tiles.db")
        migrate(db)
        led = Ledger(db)
        now = datetime.now(UTC)
        recs = [
            LedgerRecord(
                record_id=str(ULID()),
                kind="generation",
                tenant="acme",
                decision="allow",
                created_at=now,
                body={"i": i},
            )
            for i in range(args.size)
        ]
        for i in range(0, args.size, 1000):
            led.append_many(recs[i : i + 1000])
        tiles = LogTiles(led)
        full = args.size // TILE_WIDTH - 1
        width1 = args.size // TILE_WIDTH % TILE_WIDTH
        t0 = _ms(lambda: tiles.tile(TileRef(0, full)), args.repeats)
        t1 = _ms(lambda: tiles.tile(TileRef(1, 0, width1)), args.repeats) if width1 else float("nan")
        tb = _ms(lambda: tiles.bundle(TileRef(None, full)), args.repeats)
        print(
            f"tiles on SQLite, {args.size} records: level-0 full tile {t0:.2f} ms, level-1 partial tile "
            f"(width {width1}) {t1:.2f} ms, entry bundle of 256 {tb:.2f} ms"
        )
        led.close()
        db.dispose()


if __name__ == "__main__":
    main()
