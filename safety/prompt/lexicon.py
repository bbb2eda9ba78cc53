"""The ``prompt.lexicon`` check: risky terms in English and Chinese, found through the evasions.

Why it exists: a term list is the fastest, most explainable gate there is — a reviewer sees exactly
which word fired and where — and with normalisation (:mod:`safety.prompt.normalize`) it survives the
usual evasions. It runs in well under 2 ms. Terms carry a severity (low reviews, medium and above
block under the default policy); co-occurrence rules turn harmless context (``child``) plus a risky
term (``nude``) into the category the pair means (``minors``).

Options (``LexiconOptions``) let a policy add term, allow and rule files, switch the leetspeak and
pinyin views, or restrict the categories it reports.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from core.plugins import typed_options
from safety.check import CheckInput
from safety.prompt.inputs import prompt_text, resolve_path
from safety.prompt.matcher import Hit, Pattern, TermMatcher
from safety.prompt.normalize import NormalizerConfig, get_normalizer
from safety.prompt.terms import (
    Mitigation,
    Rule,
    Term,
    builtin_allow_files,
    builtin_rules_file,
    builtin_term_files,
    load_allow_file,
    load_mitigations_file,
    load_rules_file,
    load_term_file,
)
from safety.verdict import Category, Target, TargetKind, Verdict

__all__ = ["LexiconCheck", "LexiconOptions", "build_lexicon_check"]

#: how many matches a verdict lists in its evidence
MAX_EVIDENCE_MATCHES = 20
#: each further distinct term of one category adds this much to its score (below the next severity)
_EXTRA_TERM_BONUS = 0.05


class LexiconOptions(BaseModel):
    """Options of ``prompt.lexicon`` in a policy (``checks.prompt[].options``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: use the built-in English and Chinese lists (``safety/prompt/data``)
    builtin: bool = True
    #: operator term files (same format as the built-in ones); relative to the data directory
    extra_terms: tuple[Path, ...] = ()
    #: operator allow-phrase files
    extra_allow: tuple[Path, ...] = ()
    #: operator co-occurrence rule files (YAML)
    extra_rules: tuple[Path, ...] = ()
    #: decode leetspeak (s3x, pr0n) and punctuation inside words
    leet: bool = True
    #: match Chinese homophones and typed pinyin of the terms flagged ``py``
    pinyin: bool = True
    #: report only these categories (all when empty)
    categories: tuple[Category, ...] = ()
    #: longest prompt the check reads; longer is a PayloadTooLarge (413)
    max_chars: int = Field(default=100_000, ge=1, le=1_000_000)


@dataclass(frozen=True)
class _Compiled:
    """Everything one set of options needs at run time, built once."""

    matcher: TermMatcher[Term]
    rules: tuple[Rule, ...]
    config: NormalizerConfig
    mitigations: tuple[Mitigation, ...] = ()


def _file_key(paths: tuple[Path, ...]) -> tuple[tuple[str, int, int], ...]:
    out = []
    for p in paths:
        try:
            st = p.stat()
            out.append((str(p), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(p), -1, -1))  # loading will name the missing file
    return tuple(out)


class LexiconCheck:
    """See the module docstring. Built once per process; thread-safe."""

    name: ClassVar[str] = "prompt.lexicon"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.PROMPT})

    def __init__(self, data_dir: Path | None = None) -> None:
        self._data_dir = Path(data_dir) if data_dir is not None else Path.cwd()
        self._compiled: dict[tuple[Any, ...], _Compiled] = {}
        self._lock = threading.Lock()
        self._compile(LexiconOptions())  # the default lists load at start-up, not on the first request

    # -- compile -----------------------------------------------------------------------------------
    def _paths(self, paths: tuple[Path, ...]) -> tuple[Path, ...]:
        return tuple(resolve_path(p, self._data_dir) for p in paths)

    def _compile(self, opts: LexiconOptions) -> _Compiled:
        terms_p, allow_p, rules_p = (
            self._paths(opts.extra_terms),
            self._paths(opts.extra_allow),
            self._paths(opts.extra_rules),
        )
        key = (
            opts.builtin,
            opts.leet,
            opts.pinyin,
            _file_key(terms_p),
            _file_key(allow_p),
            _file_key(rules_p),
        )
        found = self._compiled.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._compiled.get(key)
            if found is not None:
                return found
            term_files = (tuple(builtin_term_files()) if opts.builtin else ()) + terms_p
            allow_files = (tuple(builtin_allow_files()) if opts.builtin else ()) + allow_p
            rule_files = ((builtin_rules_file(),) if opts.builtin else ()) + rules_p
            terms = [t for f in term_files for t in load_term_file(f)]
            allow = [a for f in allow_files for a in load_allow_file(f)]
            rules = tuple(r for f in rule_files for r in load_rules_file(f))
            mitigations = tuple(m for f in rule_files for m in load_mitigations_file(f))
            config = NormalizerConfig(leet=opts.leet, pinyin=opts.pinyin)
            normalizer = get_normalizer(config)
            matcher = TermMatcher(
                [
                    Pattern(t.text, t, t.prefix, t.pinyin and opts.pinyin, mask=not t.is_context)
                    for t in terms
                ],
                [Pattern(a.text, None, a.prefix) for a in allow],
                normalizer,
            )
            compiled = _Compiled(matcher, rules, config, mitigations)
            # an edited operator file gets a new key: drop the stale compilation of the same files
            for old in [k for k in self._compiled if k[:3] == key[:3] and k != key]:
                del self._compiled[old]
            self._compiled[key] = compiled
            return compiled

    # -- run -----------------------------------------------------------------------------------
    def run(self, item: CheckInput) -> list[Verdict]:
        opts = typed_options(item.options, LexiconOptions)
        text = prompt_text(item, self.name, opts.max_chars)
        if not text.strip():
            return []
        compiled = self._compile(opts)
        prompt = get_normalizer(compiled.config).normalize(text)
        hits = compiled.matcher.find(prompt)
        verdicts = self._verdicts(hits, compiled.rules, item.target, compiled.mitigations)
        if opts.categories:
            verdicts = [v for v in verdicts if v.category in opts.categories]
        return verdicts

    def _verdicts(
        self,
        hits: list[Hit[Term]],
        rules: tuple[Rule, ...],
        target: Target,
        mitigations: tuple[Mitigation, ...] = (),
    ) -> list[Verdict]:
        by_cat: dict[str, list[Hit[Term]]] = defaultdict(list)
        for h in hits:
            by_cat[h.payload.category].append(h)
        out: dict[Category, tuple[float, Hit[Term], list[Hit[Term]], Rule | None]] = {}
        for cat, cat_hits in by_cat.items():
            if cat.startswith("ctx."):
                continue
            best = max(cat_hits, key=lambda h: (h.payload.severity.score, h.end - h.start))
            distinct = {h.payload.text for h in cat_hits}
            score = min(1.0, best.payload.severity.score + _EXTRA_TERM_BONUS * (len(distinct) - 1))
            out[Category(cat)] = (score, best, cat_hits, None)
        fired: set[Category] = set()  # categories some rule fired for: never mitigated
        for rule in rules:
            if all(c in by_cat for c in rule.all):
                fired.add(rule.category)
                involved = [h for c in rule.all for h in by_cat[c]]
                best = max(involved, key=lambda h: (h.payload.severity.score, h.end - h.start))
                score = rule.severity.score
                prev = out.get(rule.category)
                if (
                    prev is None or score > prev[0] or (score == prev[0] and prev[3] is None)
                ):  # a rule explains more
                    merged = involved + (prev[2] if prev else [])
                    out[rule.category] = (score, best, merged, rule)
        verdicts = []
        for cat, (score, best, cat_hits, fired_rule) in out.items():
            reason, evidence = _reason(best, fired_rule), _evidence(best, cat_hits, fired_rule)
            for m in mitigations:
                if (
                    m.category is cat
                    and fired_rule is None
                    and cat not in fired
                    and score > m.cap.score
                    and all(c in by_cat for c in m.when)
                    and all(h.payload.severity.score <= m.max_term.score for h in cat_hits)
                ):
                    ctx = next(h for c in m.when for h in by_cat[c])
                    score = m.cap.score
                    reason += f"; capped at {m.cap.value} by {m.id} ({ctx.text!r} is {m.when[0]} context)"
                    evidence["mitigation"] = {
                        "id": m.id,
                        "cap": m.cap.value,
                        "context": ctx.text,
                        "start": ctx.start,
                        "end": ctx.end,
                    }
                    break
            verdicts.append(
                Verdict(
                    check=self.name,
                    category=cat,
                    score=score,
                    target=target,
                    reason=reason,
                    evidence=evidence,
                )
            )
        return sorted(verdicts, key=lambda v: (-v.score, v.category.value))


def _match_dict(h: Hit[Term]) -> dict[str, Any]:
    t = h.payload
    return {
        "start": h.start,
        "end": h.end,
        "text": h.text,
        "term": t.text + ("*" if t.prefix else ""),
        "category": t.category,
        "severity": t.severity.value,
        "source": t.source,
        "view": h.view,
    }


def _evidence(best: Hit[Term], hits: list[Hit[Term]], rule: Rule | None) -> dict[str, Any]:
    ev = _match_dict(best)
    if rule is not None:
        ev["rule"] = rule.id
        ev["rule_severity"] = rule.severity.value
    ordered = sorted(
        {(h.start, h.end, h.payload.text, h.payload.category): h for h in hits}.values(),
        key=lambda h: (h.start, h.end),
    )
    ev["matches"] = [_match_dict(h) for h in ordered[:MAX_EVIDENCE_MATCHES]]
    return ev


def _reason(best: Hit[Term], rule: Rule | None) -> str:
    t = best.payload
    via = "" if best.view == "base" else f" (seen through the {best.view} view)"
    if rule is not None:
        return (
            f"rule {rule.id}: {' + '.join(rule.all)} co-occur; e.g. {best.text!r} "
            f"matched term {t.text!r}{via}"
        )
    return f"{best.text!r} matched the {t.severity.value}-severity {t.category} term {t.text!r}{via}"


def build_lexicon_check(settings: Any) -> LexiconCheck:
    """Registry factory: one lexicon check per process."""
    return LexiconCheck(getattr(settings, "data_dir", None))


def describe(v: Verdict) -> str:
    """What fired: the rule and its term, or the term (the registry's ``describe``)."""
    ev = v.evidence
    if "rule" in ev:
        return f"rule {ev['rule']} (term {ev.get('term')!r}, {ev.get('source', '')})"
    return f"term {ev.get('term')!r} ({ev.get('severity')}, {ev.get('source', '')})"
