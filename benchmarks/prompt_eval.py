"""Prompt safety on the dev and held-out sets: recall and false blocks per language and category, and latency.

Runs the prompt checks a policy lists (default: ``policies/default.yaml``) on every prompt of each
set, decides with the policy (:func:`gateway.decision.decide`) and prints, for EACH SET SEPARATELY:

* per language and category: risky prompts caught (review or block) and blocked; benign prompts
  blocked (false blocks) and held for review;
* per evasion family: recall;
* which check caught what;
* the acceptance verdict: recall >= 0.95 and false blocks <= 2% per language;

then latency p50/p95 of the lexicon path (normalisation + ``prompt.lexicon``), of the semantic path
(normalisation + ``prompt.semantic``) and of all prompt checks, each with cold caches, measured over
``--repeat`` passes on a sample of the dev prompts.

The sets (``tests/data/prompts/``; see the docstrings of their ``build_*.py``):

``dev``  = ``eval.jsonl`` + ``dev2.jsonl`` + ``test_a.jsonl``
    tuned on: term lists, rules, allow-phrases and exemplars were written while reading their misses
    (test A was held out through the second tuning round, reported once — EN recall 0.985, false
    blocks 3/57; ZH recall 1.000, 0/51 — then its misses were read and fixed, which made it dev).
``heldout`` = ``test_b.jsonl``
    written together with test A, before the second tuning round, and never read or tuned on.
    Caveat: the same author wrote the held-out prompts and the term lists, so these figures measure
    generalisation beyond the dev prompts, not beyond one author's vocabulary. Once B's misses are
    read, it is dev too and a new set must be written before any figure is called held-out.

``dev-zh`` = ``zh_dev.jsonl``, ``heldout-zh`` = ``zh_test.jsonl``
    the Chinese set of the multilingual semantic check (``build_zh.py``): paraphrase, homophone,
    variant-character and pinyin evasions mostly outside the lexicon's term families, and hard benign
    prompts; written before the multilingual encoder, its exemplars or thresholds; tuned on zh_dev
    only. The evasion table gives recall with the lexicon alone beside recall with every check.

``--misses`` lists the misses and false blocks of the dev sets only; reading the held-out set's
misses (``--misses-heldout``) spends it.

    .venv/bin/python benchmarks/prompt_eval.py                       # the report (dev, held-out, latency)
    taskset -c 0,1 .venv/bin/python benchmarks/prompt_eval.py        # pinned to two cores
    .venv/bin/python benchmarks/prompt_eval.py --repeat 0 --misses   # quality only, list dev misses
    .venv/bin/python benchmarks/prompt_eval.py --set dev=tests/data/prompts/eval.jsonl --repeat 0
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

from core.settings import Settings  # noqa: E402
from gateway.decision import decide  # noqa: E402
from gateway.policy import Action, load_policy  # noqa: E402
from safety.check import CheckInput  # noqa: E402
from safety.registry import CheckRegistry  # noqa: E402
from safety.runner import CheckRunner  # noqa: E402
from safety.verdict import Target  # noqa: E402


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))
    return s[k]


def clear_caches(*checks: object) -> None:
    """Cold calls: forget normalised prompts, cached window vectors (the context model's too) and the
    common-word segmentation of the sound-alike check."""
    from safety.prompt.context import context_models
    from safety.prompt.multilingual import common_word_spans
    from safety.prompt.normalize import _NORMALIZERS

    for n in list(_NORMALIZERS.values()):
        n.clear_cache()
    for m in context_models():
        m.clear_cache()
    common_word_spans.cache_clear()
    for c in checks:
        if hasattr(c, "clear_cache"):
            c.clear_cache()


DATA = ROOT / "tests" / "data" / "prompts"
DEFAULT_SETS = {
    "dev": [DATA / "eval.jsonl", DATA / "dev2.jsonl", DATA / "test_a.jsonl"],
    "heldout": [DATA / "test_b.jsonl"],
    "dev-zh": [DATA / "zh_dev.jsonl"],
    "dev-zh-context": [DATA / "zh_context_dev.jsonl"],
    "heldout-zh": [DATA / "zh_test.jsonl"],
}


def parse_set(value: str) -> tuple[str, list[Path]]:
    name, sep, paths = value.partition("=")
    if not sep or not name or not paths:
        raise argparse.ArgumentTypeError(f"--set takes NAME=PATH[,PATH...], got {value!r}")
    return name, [Path(p) for p in paths.split(",")]


def ratio(a: int, b: int) -> str:
    return f"{a / b:.3f} ({a}/{b})" if b else "-"


def evaluate(rows: list[dict], runner: CheckRunner, policy, names: list[str]) -> dict:
    """Decide every prompt; count per (language, category), per evasion family and per check."""
    results = []
    for r in rows:
        verdicts = runner.run_prompt(policy.checks.prompt, r["text"], tenant="bench")
        results.append((r, decide(verdicts, policy), verdicts))
    lex_only = {
        r["id"]: decide([v for v in vs if v.check == "prompt.lexicon"], policy).action for r, _, vs in results
    }
    table: dict[tuple[str, str], Counter] = defaultdict(Counter)
    fam: dict[tuple[str, str], Counter] = defaultdict(Counter)
    by_check: Counter = Counter()
    alone: Counter = Counter()
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
            f["lexicon"] += lex_only[r["id"]] is not Action.ALLOW
            if d.action is not Action.ALLOW:  # which checks caught it (a reason), and which alone
                checks = {x.check for x in d.reasons}
                by_check.update(checks)
                if len(checks) == 1:
                    alone.update(checks)
    return {"results": results, "table": table, "fam": fam, "by_check": by_check, "alone": alone}


def report(name: str, paths: list[Path], ev: dict, names: list[str]) -> bool:
    table, fam = ev["table"], ev["fam"]
    n = len(ev["results"])
    shown = ", ".join(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in paths)
    print(f"\n## set {name}: {n} prompts from {shown}")
    print(
        "\n| lang | category | recall (review or block) | blocked | false blocks | benign held for review |"
    )
    print("|---|---|---|---|---|---|")
    for lang, cat in sorted(table, key=lambda k: (k[0], k[1] == "ALL", k[1])):
        c = table[(lang, cat)]
        print(
            f"| {lang} | {cat} | {ratio(c['caught'], c['risky'])} | {ratio(c['blocked'], c['risky'])} | "
            f"{ratio(c['fblock'], c['benign'])} | {ratio(c['freview'], c['benign'])} |"
        )
    print("\n| lang | evasion | recall | recall, lexicon alone |")
    print("|---|---|---|---|")
    for lang, evasion in sorted(fam):
        f = fam[(lang, evasion)]
        print(f"| {lang} | {evasion} | {ratio(f['caught'], f['n'])} | {ratio(f['lexicon'], f['n'])} |")
    print("\n| check | risky prompts it caught | caught by it alone |")
    print("|---|---|---|")
    for check in names:
        print(f"| {check} | {ev['by_check'][check]} | {ev['alone'][check]} |")
    ok = True
    print()
    for lang in sorted({k[0] for k in table}):
        c = table[(lang, "ALL")]
        recall = c["caught"] / c["risky"] if c["risky"] else 1.0
        fb = c["fblock"] / c["benign"] if c["benign"] else 0.0
        good = recall >= 0.95 and fb <= 0.02
        ok &= good
        print(
            f"acceptance [{name}] {lang}: recall {recall:.3f} (>= 0.95), false blocks {fb:.3f} (<= 0.02): "
            f"{'PASS' if good else 'FAIL'}"
        )
    return ok


def list_misses(name: str, results) -> None:
    print(f"\n[{name}] missed risky prompts:")
    for r, d, _ in results:
        if r["label"] == "risky" and d.action is Action.ALLOW:
            print(f"  {r['id']} [{r['category']}/{r['evasion']}] {r['text']!r}")
    print(f"[{name}] false blocks:")
    for r, d, _ in results:
        if r["label"] == "benign" and d.action is Action.BLOCK:
            print(f"  {r['id']} {r['text']!r}: {d.explain()}")
    print(f"[{name}] benign held for review:")
    for r, d, _ in results:
        if r["label"] == "benign" and d.action is Action.REVIEW:
            print(f"  {r['id']} {r['text']!r}: {'; '.join(x.category + ' ' + x.check for x in d.reasons)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", type=Path, default=ROOT / "policies" / "default.yaml")
    ap.add_argument(
        "--set",
        dest="sets",
        type=parse_set,
        action="append",
        help="NAME=PATH[,PATH...] (repeatable; default: dev and heldout, see above)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="timing passes (0: no timing)")
    ap.add_argument("--latency-n", type=int, default=200, help="prompts timed per pass (0: all)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument(
        "--misses", action="store_true", help="list missed risky prompts and false blocks of dev sets"
    )
    ap.add_argument(
        "--misses-heldout",
        action="store_true",
        help="also list them for the held-out sets (this spends them: they become dev)",
    )
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    policy = load_policy(args.policy)
    sets = dict(args.sets) if args.sets else DEFAULT_SETS
    rows_of = {
        name: [
            json.loads(line)
            for p in paths
            for line in p.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        for name, paths in sets.items()
    }
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(os.environ.get("ASSAY_DATA_DIR", tmp)))
        registry = CheckRegistry(settings)
        t0 = time.perf_counter()
        registry.preload([s.name for s in policy.checks.prompt])
        runner = CheckRunner(registry.get)
        load_s = time.perf_counter() - t0
        names = [s.name for s in policy.checks.prompt]
        print(
            f"policy {policy.id} ({policy.digest[:19]}…), checks: {', '.join(names)}; "
            f"checks built in {load_s:.1f} s; torch threads {torch.get_num_threads()}"
        )

        # --- quality, per set ----------------------------------------------------------------------
        ok = True
        evals = {}
        for name, rows in rows_of.items():
            evals[name] = evaluate(rows, runner, policy, names)
            ok &= report(name, sets[name], evals[name], names)

        # --- latency -------------------------------------------------------------------------------
        # Wall time is what a caller waits; on a shared machine other processes inflate it, so the
        # CPU time this process spent is printed beside it (for the single-threaded lexicon path it
        # is the latency an idle core would give; the encoder may use two threads).
        lex = registry.get("prompt.lexicon") if "prompt.lexicon" in names else None
        sem = registry.get("prompt.semantic") if "prompt.semantic" in names else None
        opts = {s.name: s.parsed for s in policy.checks.prompt}
        timed = [r for rows in rows_of.values() for r in rows]
        step = max(1, len(timed) // args.latency_n) if args.latency_n else 1
        sample = timed[::step]
        wall: dict[str, list[float]] = defaultdict(list)
        cpu: dict[str, list[float]] = defaultdict(list)
        load_before = os.getloadavg()[0]
        for _ in range(args.repeat):
            for r in sample:
                for label, check in (
                    ("lexicon path", lex),
                    ("semantic path", sem),
                    ("all prompt checks", None),
                ):
                    if label != "all prompt checks" and check is None:
                        continue
                    clear_caches(sem, lex)
                    c0, t0 = time.process_time(), time.perf_counter()
                    if check is None:
                        runner.run_prompt(policy.checks.prompt, r["text"], tenant="bench")
                    else:
                        check.run(
                            CheckInput(
                                target=Target.prompt(),
                                tenant="bench",
                                prompt=r["text"],
                                options=opts[check.name],
                            )
                        )
                    ms, cms = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
                    for key in (label, f"{label} ({r['lang']})"):
                        wall[key].append(ms)
                        cpu[key].append(cms)
        if wall:
            print(
                f"\n| path | wall p50 ms | wall p95 ms | CPU p50 ms | CPU p95 ms | n |  (cold caches; "
                f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
                f"on {os.cpu_count()} CPUs)"
            )
            print("|---|---|---|---|---|---|")
            for label, v in wall.items():
                print(
                    f"| {label} | {statistics.median(v):.2f} | {pct(v, 95):.2f} | "
                    f"{statistics.median(cpu[label]):.2f} | {pct(cpu[label], 95):.2f} | {len(v)} |"
                )
            p95_lex, p95_sem = pct(wall.get("lexicon path", []), 95), pct(wall.get("semantic path", []), 95)
            sem_langs = {k: pct(v, 95) for k, v in wall.items() if k.startswith("semantic path (")}
            good = p95_lex <= 2 and p95_sem <= 20 and all(p <= 20 for p in sem_langs.values())
            ok &= good
            print(
                f"\nacceptance latency (wall): lexicon p95 {p95_lex:.2f} ms (<= 2), "
                f"semantic p95 {p95_sem:.2f} ms "
                f"(<= 20; {', '.join(f'{k[15:-1]} {p:.2f}' for k, p in sem_langs.items())}): "
                f"{'PASS' if good else 'FAIL'}"
            )

        for name, ev in evals.items():
            if name.startswith("dev") and args.misses or not name.startswith("dev") and args.misses_heldout:
                list_misses(name, ev["results"])
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "policy": policy.id,
                        "sets": {
                            name: {
                                "paths": [str(p) for p in sets[name]],
                                "n": len(ev["results"]),
                                "quality": {f"{k[0]}/{k[1]}": dict(v) for k, v in ev["table"].items()},
                                "evasion": {f"{k[0]}/{k[1]}": dict(v) for k, v in ev["fam"].items()},
                            }
                            for name, ev in evals.items()
                        },
                        "latency_ms": {
                            k: {
                                "wall_p50": statistics.median(v),
                                "wall_p95": pct(v, 95),
                                "cpu_p50": statistics.median(cpu[k]),
                                "cpu_p95": pct(cpu[k], 95),
                            }
                            for k, v in wall.items()
                        },
                    },
                    indent=2,
                )
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
