"""The ``prompt.lexicon`` check: risky terms in English and Chinese, found through the evasions.

Why it exists: a term list is the fastest, most explainable gate there is — a reviewer sees exactly
which word fired and where — and with normalisation (:mod:`safety.prompt.normalize`) it survives the
usual evasions. It runs in well under 2 ms. Terms carry a severity (low reviews, medium and above
block under the default policy); co-occurrence rules turn harmless context (``child``) plus a risky
term (``nude``) into the category the pair means (``minors``).

Two things keep a term list from judging a word out of its context:

* **benign context** (:mod:`safety.prompt.context`): a risky word in a prevention, memorial, news,
  medical or teaching prompt ("预防自杀的公益海报") is held for review, not blocked, when a context cue
  is present and the multilingual encoder places the prompt nearer that category's benign-context
  exemplars than its risky ones — never for minors, a co-occurrence rule or a critical term;
* **sound-alikes**: every Chinese term of two characters or more also matches its homophones and its
  typed pinyin (沙人 for 杀人, ``zi sha``), held for review — unless the characters typed are a common
  word of their own (小学, 实验室: pieces of the encoder's vocabulary) or part of a written term.

Options (``LexiconOptions``) let a policy add term, allow and rule files, switch the leetspeak,
pinyin and sound-alike views and the context model, or restrict the categories it reports.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from core.plugins import typed_options
from safety.check import CheckInput
from safety.prompt.context import ContextModel, ContextOptions, cue_kind, get_context_model
from safety.prompt.inputs import prompt_text, resolve_path
from safety.prompt.matcher import Hit, Pattern, TermMatcher
from safety.prompt.multilingual import common_word_spans
from safety.prompt.normalize import NormalizedPrompt, NormalizerConfig, get_normalizer, is_cjk
from safety.prompt.terms import (
    Mitigation,
    Rule,
    Severity,
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
    #: also match homophones and typed pinyin of every other Chinese term of two or more characters
    #: (and of the context terms rules use); a verdict resting on such a sound-alike is held for
    #: review, not blocked (the sound of a risky word is weaker evidence than the word)
    sound_alike: bool = True
    #: report only these categories (all when empty)
    categories: tuple[Category, ...] = ()
    #: longest prompt the check reads; longer is a PayloadTooLarge (413)
    max_chars: int = Field(default=100_000, ge=1, le=1_000_000)
    #: the benign-context model: a strong prevention, memorial, news... context holds a block for
    #: review (see safety/prompt/context.py); never for minors
    context: ContextOptions = ContextOptions()


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

    def __init__(self, data_dir: Path | None = None, *, preload_context: bool = True) -> None:
        self._data_dir = Path(data_dir) if data_dir is not None else Path.cwd()
        self._compiled: dict[tuple[Any, ...], _Compiled] = {}
        self._lock = threading.Lock()
        self._compile(LexiconOptions())  # the default lists load at start-up, not on the first request
        self._context_models: dict[tuple[Path, ...], ContextModel] = {}
        if preload_context:
            self._context_model(ContextOptions())  # the encoder too, when the default uses it

    def _context_model(self, opts: ContextOptions) -> ContextModel | None:
        if not opts.enabled:
            return None
        extra = self._paths(opts.extra_context)
        found = self._context_models.get(extra)
        if found is None:
            cache = self._data_dir / "cache" / "prompt-semantic"
            found = self._context_models[extra] = get_context_model(cache, extra)
        return found

    def clear_cache(self) -> None:
        """Forget the context model's cached window vectors (benchmarks time cold calls this way)."""
        for m in self._context_models.values():
            m.clear_cache()

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
            opts.sound_alike,
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
            patterns = [
                Pattern(t.text, t, t.prefix, t.pinyin and opts.pinyin, mask=not t.is_context) for t in terms
            ]
            if opts.pinyin and opts.sound_alike:
                patterns += [
                    Pattern(t.text, replace(t, sound=True), t.prefix, pinyin=True, sound_only=True)
                    for t in terms
                    if _sounds(t)
                ]
            matcher = TermMatcher(
                patterns,
                [Pattern(a.text, None, a.prefix) for a in allow],
                normalizer,
            )
            compiled = _Compiled(matcher, rules, config, mitigations)
            # an edited operator file gets a new key: drop the stale compilation of the same files
            for old in [k for k in self._compiled if k[:4] == key[:4] and k != key]:
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
        hits = _drop_coincidences(_drop_echoes(compiled.matcher.find(prompt)), text)
        verdicts = self._verdicts(hits, compiled.rules, item.target, compiled.mitigations)
        if opts.context.enabled and any(cue_kind(h.payload.category) for h in hits):
            verdicts = self._in_context(verdicts, hits, prompt, opts.context, compiled.rules)
        if opts.categories:
            verdicts = [v for v in verdicts if v.category in opts.categories]
        return verdicts

    def _in_context(
        self,
        verdicts: list[Verdict],
        hits: list[Hit[Term]],
        prompt: NormalizedPrompt,
        opts: ContextOptions,
        rules: tuple[Rule, ...],
    ) -> list[Verdict]:
        """Cap the verdicts a strong benign context explains (see :mod:`safety.prompt.context`)."""
        cues = [h for h in hits if cue_kind(h.payload.category) is not None]
        present = {h.payload.category for h in hits}
        fired = {r.category for r in rules if all(c in present for c in r.all)}  # never lowered
        model: ContextModel | None = None
        out: list[Verdict] = []
        for v in verdicts:
            ev = v.evidence
            if (
                v.category not in opts.categories
                or v.category in fired
                or v.score <= opts.cap.score
                or "rule" in ev
                or "mitigation" in ev
                or any(Severity(m["severity"]).score > opts.max_term.score for m in ev.get("matches", ()))
            ):
                out.append(v)
                continue
            model = model or self._context_model(opts)
            if model is None or v.category.value not in model.categories():
                out.append(v)
                continue
            window = _window_around(prompt, int(ev["start"]))
            found = model.assess(window, v.category.value)
            if found is None or not found.strong(opts.floor, opts.margin):
                out.append(v)
                continue
            cue = min(cues, key=lambda h: abs(h.start - int(ev["start"])))
            kind = found.exemplar.context.value
            reason = (
                f"{v.reason}; held at {opts.cap.value} by its benign {kind} context: {cue.text!r} is a cue "
                f"of {cue_kind(cue.payload.category)} and the prompt is close ({found.similarity:.2f}) to "
                f"the {kind} example {found.exemplar.text!r}, closer than to any {v.category.value} "
                f"example ({found.risky_similarity:.2f}, {found.risky!r})"
            )
            evidence = dict(ev, context=found.evidence(cue.text), cap=opts.cap.value)
            out.append(v.model_copy(update={"score": opts.cap.score, "reason": reason, "evidence": evidence}))
        return sorted(out, key=lambda v: (-v.score, v.category.value))

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
            if rule.severity is Severity.CRITICAL:  # a critical rule fires on written words only
                if all(any(not h.payload.sound for h in by_cat.get(c, ())) for c in rule.all):
                    pass
                else:
                    continue
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
            if fired_rule is None:
                decisive = [best]
            else:  # one hit per category of the rule, a written one where there is one
                decisive = [
                    min((h for h in cat_hits if h.payload.category == c), key=lambda h: h.payload.sound)
                    for c in fired_rule.all
                ]
            heard = [h for h in decisive if h.payload.sound]
            # a rule resting on a sound-alike is held at low; a term verdict keeps its written terms
            written = 0.0
            if fired_rule is None:
                written = max((h.payload.severity.score for h in cat_hits if not h.payload.sound), default=0)
            if heard and score > max(Severity.LOW.score, written):
                score = max(Severity.LOW.score, written)
                reason += (
                    f"; held at low: {heard[0].text!r} sounds like {heard[0].payload.text!r} "
                    "(a homophone or typed pinyin, not the word itself)"
                )
                evidence["sound_alike"] = [h.payload.text for h in heard]
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


def _sounds(t: Term) -> bool:
    """Whether ``t`` gets a sound-alike copy: Chinese, two characters or more, not already ``py``,
    and not a benign-context cue (a cue heard, not written, must not lower anything)."""
    return (
        not t.pinyin
        and sum(1 for c in t.text if is_cjk(c)) >= 2
        and all(is_cjk(c) for c in t.text)
        and cue_kind(t.category) is None
    )


def _drop_echoes(hits: list[Hit[Term]]) -> list[Hit[Term]]:
    """Sound-alike hits the written hits explain: the term's own echo (杀人 heard in 杀人), and one
    that reaches into a written word (粹屠 in 纳粹屠杀: the characters belong to words the lexicon
    knows). A sound-alike that holds a written word whole (同性恋 inside 同性恋都该sǐ) stays."""
    written = [h for h in hits if not h.payload.sound]

    def explained(h: Hit[Term]) -> bool:
        for w in written:
            if w.start < h.end and h.start < w.end:
                if w.payload.text == h.payload.text or not (h.start <= w.start and w.end <= h.end):
                    return True
        return False

    return written + [h for h in hits if h.payload.sound and not explained(h)]


def _drop_coincidences(hits: list[Hit[Term]], text: str) -> list[Hit[Term]]:
    """A sound-alike hit on characters that are (part of) a common word of their own is a coincidence
    of sound (小学 sounds like a risky word, 实验室 holds one): drop it. The common words are the
    multi-character pieces of the multilingual encoder's vocabulary (:func:`common_word_spans`)."""
    if not any(h.payload.sound for h in hits):
        return hits
    words = common_word_spans(text)
    return [h for h in hits if not h.payload.sound or not any(s < h.end and h.start < e for s, e in words)]


def _window_around(prompt: NormalizedPrompt, start: int) -> str:
    """The window of the base view (the semantic check's windows) holding original offset ``start``."""
    from safety.prompt.semantic import split_windows

    base = prompt.base
    spans = split_windows(base.text, _CONTEXT_WINDOW_WORDS)
    for s, e in spans:
        if s < e and base.starts[s] <= start < max(base.ends[s:e]):
            return base.text[s:e]
    return base.text


#: words (Chinese characters) per window the context model reads (as the semantic check's default)
_CONTEXT_WINDOW_WORDS = 40


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
