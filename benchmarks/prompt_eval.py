"""Prompt safety on the evaluation set: recall and false blocks per category and language, and latency.

Runs the prompt checks a policy lists (default: ``policies/default.yaml``) on every prompt of
``tests/data/prompts/eval.jsonl``, decides with the policy (:func:`gateway.decision.decide`) and prints

* per language and category: risky prompts caught (review or block) and blocked; benign prompts
  blocked (false blocks) and held for review;
* per evasion family: recall;
* latency p50/p95 of the lexicon path (normalisation + ``prompt.lexicon``), of the semantic path
  (normalisation + ``prompt.semantic``) and of all prompt checks, each with a cold normalisation
  cache, measured over ``--repeat`` passes;
* the acceptance verdict: recall >= 0.95 and false blocks <= 2% per language.

    .venv/bin/python benchmarks/prompt_eval.py                       # the report
    taskset -c 0,1 .venv/bin/python benchmarks/prompt_eval.py        # pinned to two cores
    .venv/bin/python benchmarks/prompt_eval.py --misses              # also list misses and false blocks
    .venv/bin/python benchmarks/prompt_eval.py --set tests/data/prompts/heldout.jsonl --repeat 0

``eval.jsonl`` was used while the term lists were written (its misses were looked at and fixed);
``heldout.jsonl`` was written afterwards and never tuned on: report both.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.decision import decide  # noqa: E402
from gateway.policy import Action, load_policy  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from safety.check import CheckInput  # noqa: E402
from safety.prompt.normalize import get_normalizer  # noqa: E402
from safety.prompt.stage import run_prompt_checks  # noqa: E402
from safety.registry import CheckRegistry  # noqa: E402
from safety.verdict import Target  # noqa: E402


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))
    return s[k]


def clear_caches(*checks: object) -> None:
    """Cold calls: forget normalised prompts and cached window vectors."""
    from safety.prompt.normalize import _NORMALIZERS

    for n in list(_NORMALIZERS.values()):
        n.clear_cache()
    for c in checks:
        if hasattr(c, "clear_cache"):
            c.clear_cache()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", type=Path, default=ROOT / "policies" / "default.yaml")
    ap.add_argument("--set", dest="eval_set", type=Path, default=ROOT / "tests" / "data" / "prompts" / "eval.jsonl")
    ap.add_argument("--repeat", type=int, default=3, help="timing passes (0: no timing)")
    ap.add_argument("--latency-n", type=int, default=200, help="prompts timed per pass (0: all)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--misses", action="store_true", help="list missed risky prompts and false blocks")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    policy = load_policy(args.policy)
    rows = [json.loads(line) for line in args.eval_set.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(os.environ.get("ASSAY_DATA_DIR", tmp)))
        registry = CheckRegistry(settings)
        t0 = time.perf_counter()
        specs = [(registry.get(s.name), s.options) for s in policy.checks.prompt]
        load_s = time.perf_counter() - t0
        names = [s.name for s in policy.checks.prompt]
        print(f"policy {policy.id} ({policy.digest[:19]}…), checks: {', '.join(names)}; "
              f"{len(rows)} prompts; checks built in {load_s:.1f} s; torch threads {torch.get_num_threads()}")

        # --- quality -----------------------------------------------------------------------------
        results = []
        for r in rows:
            verdicts = run_prompt_checks(specs, r["text"], tenant="bench")
            d = decide(verdicts, policy)
            results.append((r, d, verdicts))
        table: dict[tuple[str, str], Counter] = defaultdict(Counter)
        fam: dict[tuple[str, str], Counter] = defaultdict(Counter)
        for r, d, _ in results:
            cat = r["category"] or "general"
            for key in ((r["lang"], cat), (r["lang"], "ALL")):
                c = table[key]
                if r["label"] == "risky":
                    c["risky"] += 1
                    c["caught"] += d.action is not Action.ALLOW
                    c["blocked"] += d.action is Action.BLOCK
                else:
                    c["benign"] += 1
                    c["fblock"] += d.action is Action.BLOCK
                    c["freview"] += d.action is Action.REVIEW
            if r["label"] == "risky":
                f = fam[(r["lang"], r["evasion"])]
                f["n"] += 1
                f["caught"] += d.action is not Action.ALLOW

        # which checks caught the risky prompts (a reason at review or block), and which alone
        by_check: Counter = Counter()
        alone: Counter = Counter()
        for r, d, _ in results:
            if r["label"] == "risky" and d.action is not Action.ALLOW:
                checks = {x.check for x in d.reasons}
                by_check.update(checks)
                if len(checks) == 1:
                    alone.update(checks)

        def ratio(a: int, b: int) -> str:
            return f"{a / b:.3f} ({a}/{b})" if b else "-"

        print("\n| lang | category | recall (review or block) | blocked | false blocks | benign held for review |")
        print("|---|---|---|---|---|---|")
        for (lang, cat) in sorted(table, key=lambda k: (k[0], k[1] == "ALL", k[1])):
            c = table[(lang, cat)]
            print(f"| {lang} | {cat} | {ratio(c['caught'], c['risky'])} | {ratio(c['blocked'], c['risky'])} | "
                  f"{ratio(c['fblock'], c['benign'])} | {ratio(c['freview'], c['benign'])} |")
        print("\n| lang | evasion | recall |")
        print("|---|---|---|")
        for (lang, ev) in sorted(fam):
            f = fam[(lang, ev)]
            print(f"| {lang} | {ev} | {ratio(f['caught'], f['n'])} |")

        print("\n| check | risky prompts it caught | caught by it alone |")
        print("|---|---|---|")
        for name in names:
            print(f"| {name} | {by_check[name]} | {alone[name]} |")

        # --- latency ---
        # Wall time is what a caller waits; on a shared machine other processes inflate it, so the
        # CPU time this process spent is printed beside it (for the single-threaded lexicon path it
        # is the latency an idle core would give; the encoder may use two threads).
        lex = registry.get("prompt.lexicon") if "prompt.lexicon" in names else None
        sem = registry.get("prompt.semantic") if "prompt.semantic" in names else None
        opts = {s.name: s.options for s in policy.checks.prompt}
        step = max(1, len(rows) // args.latency_n) if args.latency_n else 1
        sample = rows[::step]
        wall: dict[str, list[float]] = defaultdict(list)
        cpu: dict[str, list[float]] = defaultdict(list)
        load_before = os.getloadavg()[0]
        for _ in range(args.repeat):
            for r in sample:
                for label, check in (("lexicon path", lex), ("semantic path", sem), ("all prompt checks", None)):
                    if label != "all prompt checks" and check is None:
                        continue
                    clear_caches(sem)
                    c0, t0 = time.process_time(), time.perf_counter()
                    if check is None:
                        run_prompt_checks(specs, r["text"], tenant="bench")
                    else:
                        check.run(CheckInput(target=Target.prompt(), tenant="bench", prompt=r["text"],
                                             options=opts[check.name]))
                    wall[label].append((time.perf_counter() - t0) * 1000)
                    cpu[label].append((time.process_time() - c0) * 1000)
        if wall:
            print(f"\n| path | wall p50 ms | wall p95 ms | CPU p50 ms | CPU p95 ms | n |  (cold caches; "
                  f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs)")
            print("|---|---|---|---|---|---|")
            for label, v in wall.items():
                print(f"| {label} | {statistics.median(v):.2f} | {pct(v, 95):.2f} | {statistics.median(cpu[label]):.2f} | "
                      f"{pct(cpu[label], 95):.2f} | {len(v)} |")

        # --- acceptance ----------------------------------------------------------------------------
        ok = True
        print()
        for lang in sorted({r["lang"] for r in rows}):
            c = table[(lang, "ALL")]
            recall = c["caught"] / c["risky"]
            fb = c["fblock"] / c["benign"]
            good = recall >= 0.95 and fb <= 0.02
            ok &= good
            print(f"acceptance {lang}: recall {recall:.3f} (>= 0.95), false blocks {fb:.3f} (<= 0.02): "
                  f"{'PASS' if good else 'FAIL'}")
        if wall:
            p95_lex, p95_sem = pct(wall.get("lexicon path", []), 95), pct(wall.get("semantic path", []), 95)
            print(f"acceptance latency (wall): lexicon p95 {p95_lex:.2f} ms (<= 2), semantic p95 {p95_sem:.2f} ms "
                  f"(<= 20): {'PASS' if p95_lex <= 2 and p95_sem <= 20 else 'FAIL'}")

        if args.misses:
            print("\nmissed risky prompts:")
            for r, d, v in results:
                if r["label"] == "risky" and d.action is Action.ALLOW:
                    print(f"  {r['id']} [{r['category']}/{r['evasion']}] {r['text']!r}")
            print("false blocks:")
            for r, d, v in results:
                if r["label"] == "benign" and d.action is Action.BLOCK:
                    print(f"  {r['id']} {r['text']!r}: {d.explain()}")
            print("benign held for review:")
            for r, d, v in results:
                if r["label"] == "benign" and d.action is Action.REVIEW:
                    print(f"  {r['id']} {r['text']!r}: {'; '.join(x.category + ' ' + x.check for x in d.reasons)}")
        if args.json:
            args.json.write_text(json.dumps({
                "policy": policy.id, "n": len(rows),
                "quality": {f"{k[0]}/{k[1]}": dict(v) for k, v in table.items()},
                "evasion": {f"{k[0]}/{k[1]}": dict(v) for k, v in fam.items()},
                "latency_ms": {k: {"wall_p50": statistics.median(v), "wall_p95": pct(v, 95),
                                   "cpu_p50": statistics.median(cpu[k]), "cpu_p95": pct(cpu[k], 95)}
                               for k, v in wall.items()},
            }, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
