"""verify's lookup of released images by local features: reposts found, strangers not, and its cost.

    .venv/bin/python benchmarks/verify_features.py [--draws 3] [--procedural 300] [--distractors 400]

The released set is what a gateway would have released: the real photographs of
``benchmarks/neardup_local.py`` (``REFERENCES``) at 512 px, with the visible label and the
watermark the default policy applies, plus ``--procedural`` pictures of shapes on plain or
textured backgrounds (what the built-in model draws). Each released photo goes into a fresh SQLite
released-image index exactly as the gateway writes it (``provenance.released_features``).

Each photo is edited by every attack of ``neardup_local.attacks()`` (albumentations and Pillow;
``--draws`` random draws each) plus the repost of issue 18's acceptance (70% of each side,
mirrored, captioned, blurred until the watermark is gone, JPEG without metadata), and each copy is
verified with ``provenance.verify.Verifier`` on that index. Recall counts a copy as found when its
own record comes first; "by features" counts those the feature lookup alone found (the watermark
or the pHash found the others). The distractors (``neardup_local.distractors``: held-out photos'
crops, faces, procedural pictures, low-information images) must match no record.

Prints the recall per attack, false matches per query, the lookup's latency (p50/p95, one thread)
and what recording costs per released image (time, rows, bytes).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.neardup_local import REFERENCES, _procedural, attacks, distractors, load  # noqa: E402
from provenance.testing import repost  # noqa: E402


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--procedural", type=int, default=300)
    ap.add_argument("--distractors", type=int, default=400)
    ap.add_argument("--seed", type=int, default=20261202)
    ap.add_argument("--only", default="", help="run only the attacks whose name contains this")
    args = ap.parse_args()

    from core.settings import Settings
    from core.store import Database, add_rows
    from provenance.label.visible import VisibleLabel
    from provenance.marks import Artifact
    from provenance.released import release_row, system_name
    from provenance.released_features import feature_rows
    from provenance.tables import ReleasedFeatureKey, ReleasedFeatures, ReleasedImage
    from provenance.testing import mark_context
    from provenance.verify import Verifier
    from provenance.watermark.mark import build as build_watermark

    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="assay-vf-") as tmp:
        db = Database(f"sqlite:///{tmp}/index.db")
        tables = [ReleasedImage.__table__, ReleasedFeatures.__table__, ReleasedFeatureKey.__table__]
        ReleasedImage.metadata.create_all(db.engine, tables=tables)
        settings = Settings(data_dir=Path(tmp) / "data")
        verifier = Verifier(settings, db)  # reads the watermark under the data dir's key

        watermark = build_watermark(settings)  # the same key the verifier reads
        photos = {}
        for name in REFERENCES:
            im = load(name)
            s = 512 / max(im.size)
            photos[name] = im.resize((round(im.width * s), round(im.height * s)), Image.Resampling.LANCZOS)
        released: dict[str, tuple[str, Image.Image]] = {}
        rec_ms, rows_per, bytes_per = [], [], []
        items = list(photos.items()) + [
            (f"procedural {i}", _procedural(rng, 512)) for i in range(args.procedural)
        ]
        for i, (name, im) in enumerate(items):
            ctx = mark_context(
                record_id=f"01JF0000000000000000{i:06d}", content_id=f"01JF0000000000000000{i:06d}-0"
            )
            art = VisibleLabel().apply(Artifact(image=im.convert("RGB")), ctx)
            art = watermark.apply(art, ctx)
            t0 = time.perf_counter()
            feats = feature_rows(ctx.content_id, ctx.record_id, art.image)
            rec_ms.append((time.perf_counter() - t0) * 1000)
            if feats:
                rows_per.append(1 + len(feats[1]))
                bytes_per.append(
                    len(feats[0].desc) + len(feats[0].pts) + len(feats[0].ang) + 12 * (len(feats) - 1)
                )
            with db.session() as s:
                s.add(
                    release_row(
                        ctx.record_id,
                        ctx.content_id,
                        art.image,
                        tenant="bench",
                        created_at=ctx.created_at,
                        system=system_name(ctx.model),
                        watermark=art.facts["watermark"]["payload"],
                    )
                )
                add_rows(s, feats)
            released[name] = (ctx.record_id, art.image)
        print(
            f"released {len(items)} images ({len(photos)} photos, {args.procedural} procedural); recording "
            f"features p50 {statistics.median(rec_ms):.1f} ms, p95 {pct(rec_ms, 0.95):.1f} ms; "
            f"{statistics.mean(rows_per):.0f} rows and ~{statistics.mean(bytes_per) / 1024:.1f} kB per image"
        )

        table = attacks()
        table["repost: crop 70% + mirror + caption + blur (issue 18)"] = lambda im, rng: Image.open(
            io.BytesIO(repost(im))
        )
        lat: list[float] = []
        print(f"\n{'attack':56} {'recall':>8} {'by features':>12} {'n':>4}")
        chains_ok, chains_n = 0, 0
        singles_min = 1.0
        for attack, f in table.items():
            if args.only not in attack:
                continue
            found = by_feat = n = 0
            for name in photos:
                record_id, im = released[name]
                for _ in range(args.draws):
                    copy = f(im, rng)
                    t0 = time.perf_counter()
                    rep = verifier.verify(_png(copy))
                    lat.append((time.perf_counter() - t0) * 1000)
                    n += 1
                    if rep.record_id == record_id:
                        found += 1
                        by_feat += any(m.method == "features" for m in rep.records[0].methods) and all(
                            m.method != "watermark" for m in rep.records[0].methods
                        )
            r = found / n
            if attack.startswith("chain"):
                chains_ok, chains_n = chains_ok + found, chains_n + n
            else:
                singles_min = min(singles_min, r)
            print(f"{attack:56} {r:8.1%} {by_feat / n:12.1%} {n:4d}")

        false = 0
        dis = distractors(args.distractors, args.seed + 1)
        for _, im in dis:
            rep = verifier.verify(_png(im))
            false += rep.record_id is not None
        print(
            f"\nsingle edits: lowest recall {singles_min:.1%}; chains {chains_ok / max(1, chains_n):.1%}"
            f"\nfalse matches: {false} of {len(dis)} distractor queries ({false / len(dis):.2%})"
            f"\nverify (all methods, features included) p50 {statistics.median(lat):.0f} ms, "
            f"p95 {pct(lat, 0.95):.0f} ms over {len(lat)} queries, index of {len(items)} released images"
        )
        db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
