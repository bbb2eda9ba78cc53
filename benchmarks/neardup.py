"""Near-duplicate search at scale, and robustness on real photographs.

Part 1 builds N synthetic 64-bit codes and, in the same run, times single-query radius search with
Assay's searcher (its own numpy multi-index hash, exact up to radius 8), FAISS IndexBinaryFlat and a
numpy popcount scan (np.bitwise_count); checks that all three return the same (row, distance)
sets; and reports build time, memory and query p50/p95. Half of the queries have planted
neighbours at distances 0..radius+2 (so the radius boundary is exercised), half are random.

Part 2 builds an index of real photographs (scikit-image sample data) and queries altered copies
(5% crop, 0.6x resize, JPEG 50, +-20% brightness, mirror), unrelated photographs and noise.
The robustness table of the copy detector (200 real photographs, 16 attacks made with
albumentations, 10,000 distractors; neardup.local beside pHash and dHash) is part 1 of
``benchmarks/neardup_local.py``.

    .venv/bin/python benchmarks/neardup.py                 # 1,000,000 codes
    .venv/bin/python benchmarks/neardup.py --n 10000000    # the acceptance run (~1 GB RAM, minutes)

Uniform random codes are the friendly case for multi-index hashing (buckets fill evenly); real
pHash codes cluster, which puts more candidates in some buckets, so expect real indexes to be
somewhat slower than this figure at the same N.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import faiss  # noqa: E402

from safety.neardup.search import MIH_EXACT_RADIUS, MIH_NFLIP, MIH_WIDTHS, HammingSearcher  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_data(n: int, queries: int, radius: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    db = rng.integers(0, 256, (n, 8), dtype=np.uint8)
    q = rng.integers(0, 256, (queries, 8), dtype=np.uint8)
    planted = queries // 2
    rows = rng.integers(0, n, planted)
    for i in range(planted):
        k = int(rng.integers(0, radius + 3))
        bits = np.zeros(64, dtype=np.uint8)
        bits[rng.choice(64, size=k, replace=False)] = 1
        q[i] = db[rows[i]] ^ np.packbits(bits)
    return db, q


def pct(ts: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(ts) * 1e3, p))


def time_queries(fn, queries: np.ndarray) -> tuple[list[float], list[float], list[set]]:
    """Wall time and this thread's CPU time per single query (CPU time is what a query costs when
    other processes share the cores; on an idle machine the two agree)."""
    wall, cpu, results = [], [], []
    for i in range(len(queries)):
        t, c = time.perf_counter(), time.thread_time()
        res = fn(queries[i : i + 1])
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - t)
        results.append(res)
    return wall, cpu, results


def scale_benchmark(args: argparse.Namespace) -> bool:
    print(
        f"== radius search: N={args.n:,} 64-bit codes, radius {args.radius}, {args.queries} single queries, "
        f"{args.threads} FAISS thread(s), {os.cpu_count()} cores"
    )
    faiss.omp_set_num_threads(args.threads)
    t = time.perf_counter()
    db, queries = make_data(args.n, args.queries, args.radius, args.seed)
    print(f"data: {time.perf_counter() - t:.1f} s, codes {db.nbytes / 2**20:.0f} MB")

    m0 = rss_mb()
    t = time.perf_counter()
    ours = HammingSearcher(db, max_radius=args.radius)
    ours_build, ours_mem = time.perf_counter() - t, rss_mb() - m0
    m0 = rss_mb()
    t = time.perf_counter()
    flat = faiss.IndexBinaryFlat(64)
    flat.add(db)
    flat_build, flat_mem = time.perf_counter() - t, rss_mb() - m0
    db64 = db.view(np.uint64)[:, 0]
    fmih = None
    if args.faiss_multihash:
        m0 = rss_mb()
        t = time.perf_counter()
        fmih = faiss.IndexBinaryMultiHash(64, 3, 21)
        fmih.nflip = 2
        fmih.add(db)
        fmih_build, fmih_mem = time.perf_counter() - t, rss_mb() - m0

    def run_ours(q):
        return {(h.row, int(h.distance)) for h in ours.search(q, args.radius)[0]}

    def run_flat(q):
        lims, d, i = flat.range_search(q, args.radius + 1)
        return {(int(a), int(b)) for a, b in zip(i, d, strict=True)}

    def run_fmih(q):
        lims, d, i = fmih.range_search(q, args.radius + 1)
        return {(int(a), int(b)) for a, b in zip(i, d, strict=True)}

    def run_numpy(q):
        d = np.bitwise_count(db64 ^ q.view(np.uint64)[0, 0])
        idx = np.flatnonzero(d <= args.radius)
        return {(int(a), int(d[a])) for a in idx}

    run_ours(queries[:1]), run_flat(queries[:1])  # warm-up
    t_ours, c_ours, r_ours = time_queries(run_ours, queries)
    t_flat, c_flat, r_flat = time_queries(run_flat, queries)
    if fmih is not None:
        run_fmih(queries[:1])
        t_fm, c_fm, r_fm = time_queries(run_fmih, queries)
    nq_np = min(args.numpy_queries, args.queries)
    t_np, c_np, r_np = time_queries(run_numpy, queries[:nq_np])

    same_flat = r_ours == r_flat
    same_np = r_ours[:nq_np] == r_np
    matches = sum(len(r) for r in r_ours)
    with_match = sum(1 for r in r_ours if r)
    load = os.getloadavg()[0]
    print(
        f"\nload average while timing: {load:.1f} on {os.cpu_count()} cores"
        + (" (shared machine: the CPU-time columns are the comparable figures)" if load > 1.5 else "")
    )
    print(
        f"{'method':<44}{'build s':>9}{'+MB':>8}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'cpu p50':>9}{'cpu p95':>9}{'queries':>9}"
    )
    rows = [
        (
            f"Assay: {ours.kind} (b={'/'.join(map(str, MIH_WIDTHS))}, nflip<={MIH_NFLIP})",
            ours_build,
            ours_mem,
            t_ours,
            c_ours,
        ),
        ("faiss IndexBinaryFlat", flat_build, flat_mem, t_flat, c_flat),
    ]
    if fmih is not None:
        rows.append(("faiss IndexBinaryMultiHash (3, 21, nflip 2)", fmih_build, fmih_mem, t_fm, c_fm))
    rows.append(("numpy bitwise_count scan", 0.0, 0.0, t_np, c_np))
    for label, build_s, mem, wall, cpu in rows:
        print(
            f"{label:<44}{build_s:>9.1f}{mem:>8.0f}{pct(wall, 50):>9.3f}{pct(wall, 95):>9.3f}"
            f"{pct(cpu, 50):>9.3f}{pct(cpu, 95):>9.3f}{len(wall):>9}"
        )
    speedup, cpu_speedup = pct(t_flat, 50) / pct(t_ours, 50), pct(c_flat, 50) / pct(c_ours, 50)
    print(
        f"\nmatches: {matches} in {with_match}/{args.queries} "
        f"queries; identical to IndexBinaryFlat: {same_flat}; "
        f"identical to numpy scan (first {nq_np}): {same_np}"
        + (f"; faiss multi-hash identical: {r_fm == r_flat}" if fmih is not None else "")
    )
    print(
        f"speed-up over IndexBinaryFlat (p50): {speedup:.2f}x wall, {cpu_speedup:.2f}x CPU; "
        f"over numpy: {pct(t_np, 50) / pct(t_ours, 50):.1f}x wall"
    )
    exact = same_flat and same_np
    ok = True
    if args.radius <= MIH_EXACT_RADIUS:
        checks = [
            ("exact (identical to brute force)", exact),
            (
                f"p50 <= 2 ms (wall {pct(t_ours, 50):.3f}, CPU {pct(c_ours, 50):.3f})",
                pct(t_ours, 50) <= 2.0 or (load > 1.5 and pct(c_ours, 50) <= 2.0),
            ),
            (
                f">= 3x faster than IndexBinaryFlat (wall {speedup:.2f}x, CPU {cpu_speedup:.2f}x)",
                speedup >= 3.0 or (load > 1.5 and cpu_speedup >= 3.0),
            ),
        ]
        scale = (
            "at this N"
            if args.n >= 10_000_000
            else f"(acceptance is judged at N=10,000,000; this is N={args.n:,})"
        )
        print(f"acceptance {scale} (on a shared machine, CPU time is accepted in place of wall time):")
        for label, passed in checks:
            print(f"  [{'PASS' if passed else 'FAIL'}] {label}")
        ok = all(p for _, p in checks) if args.n >= 10_000_000 else exact
    else:
        ok = exact
    check_latency(ours, args.radius)
    return ok


def check_latency(ours: HammingSearcher, radius: int) -> None:
    """What one output image costs the neardup.hash check: 2 code types x (image, mirror)."""
    from safety.neardup.codes import ALL_CODE_TYPES, query_codes
    from safety.neardup.testing import photo

    im = photo("astronaut")  # 512 x 512, the gateway's default output size
    th, ts = [], []
    for _ in range(30):
        t = time.perf_counter()
        codes = query_codes(im, ALL_CODE_TYPES, mirror=True)
        th.append(time.perf_counter() - t)
        t = time.perf_counter()
        for q in codes.values():  # the benchmark index stands in for both code types' indexes
            ours.search(q, radius)
        ts.append(time.perf_counter() - t)
    print(
        f"per 512x512 image (pHash + dHash, image + mirror): hashing p50 {pct(th, 50):.2f} ms, "
        f"4 lookups p50 {pct(ts, 50):.2f} ms, total p50 "
        f"{pct([a + b for a, b in zip(th, ts, strict=True)], 50):.2f} ms"
    )


def robustness(args: argparse.Namespace) -> bool:
    from safety.neardup.builder import build_index
    from safety.neardup.query import LoadedIndex
    from safety.neardup.sources import read_source
    from safety.neardup.store import IndexStore
    from safety.neardup.testing import ALTERATIONS, INDEXED_PHOTOS, evaluate_robustness, photo

    print(
        f"\n== robustness: index of {len(INDEXED_PHOTOS)} real "
        f"photographs (scikit-image), radius {args.radius}, "
        f"pHash + dHash, mirrored query on"
    )
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "photos"
        src.mkdir()
        for name in INDEXED_PHOTOS:
            photo(name).save(src / f"{name}.png", compress_level=1)
        store = IndexStore(Path(tmp) / "indexes")
        build_index(store, "photos", read_source(src), workers=1)
        report = evaluate_robustness(
            LoadedIndex.open(store, "photos"), radius=min(args.radius, MIH_EXACT_RADIUS)
        )
    alts = list(ALTERATIONS)
    print("cells: found? pHash/dHash distance to the original (the closer of image and mirror)")
    print(f"{'photo':<22}" + "".join(f"{a:>18}" for a in alts))
    by = {(r.photo, r.alteration): r for r in report.rows}
    for name in INDEXED_PHOTOS:
        cells = []
        for a in alts:
            r = by[(name, a)]
            cells.append(
                f"{'yes' if r.found and not r.wrong_matches else 'NO'} "
                f"{r.phash_distance:>2}/{r.dhash_distance:<2}"
            )
        print(f"{name:<22}" + "".join(f"{c:>18}" for c in cells))
    found = sum(r.found for r in report.rows)
    print(
        f"altered copies found: {found}/{len(report.rows)}; wrong matches: "
        f"{sum(len(r.wrong_matches) for r in report.rows)}"
    )
    print(
        f"unrelated photos (+ their alterations) and noise: {report.unrelated_queries} queries, "
        f"{len(report.false_positives)} matched "
        f"{report.false_positives[:5] if report.false_positives else ''}"
    )
    return report.found_all() and not report.false_positives


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--n", type=int, default=1_000_000, help="synthetic codes (10,000,000 for the acceptance)"
    )
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--numpy-queries", type=int, default=200, help="queries also run through the numpy scan")
    ap.add_argument("--radius", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1, help="FAISS OpenMP threads (the gateway uses 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--faiss-multihash",
        action="store_true",
        help="also time FAISS IndexBinaryMultiHash (the structure Assay used before; slow to build)",
    )
    ap.add_argument("--skip-robustness", action="store_true")
    ap.add_argument("--skip-scale", action="store_true")
    args = ap.parse_args()
    ok = True
    if not args.skip_scale:
        ok &= scale_benchmark(args)
    if not args.skip_robustness:
        ok &= robustness(args)
    print(f"\nresult: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
