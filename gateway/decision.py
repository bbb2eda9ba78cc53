"""Deciding: what the policy makes of a set of verdicts, in words a compliance officer reads.

Why it exists: checks only *find* things; the tenant's policy decides what a finding means. Each
verdict is compared with its category's rule (``review_at`` / ``block_at``); the strongest action
wins (block > review > allow), and every verdict that pushed the action up becomes a `Reason`.
The shapes (:class:`~safety.verdict.Action`, :class:`~safety.verdict.Reason`,
:class:`~safety.verdict.Decision`) live in :mod:`safety.verdict`, where the ledger's record models
can use them; this module imports them and :mod:`gateway.policy`.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.policy import Policy
from safety.verdict import Action, Decision, Reason, Verdict

__all__ = ["Action", "Decision", "Reason", "combine", "decide"]


def _reason(v: Verdict, action: Action, threshold: float) -> Reason:
    what = (
        f"{v.category.value} score {v.score:.2f} on {v.target} reached the {action.value} "
        f"threshold {threshold:.2f} (check {v.check})"
    )
    if v.reason:
        what += f": {v.reason}"
    return Reason(
        action=action,
        category=v.category.value,
        check=v.check,
        target=str(v.target),
        score=round(v.score, 4),
        threshold=threshold,
        text=what,
    )


def decide(verdicts: Iterable[Verdict], policy: Policy) -> Decision:
    """Apply ``policy``'s category rules to ``verdicts``."""
    action = Action.ALLOW
    reasons: list[Reason] = []
    for v in verdicts:
        rule = policy.rule_for(v.category)
        act = rule.action_for(v.score)
        if act is Action.ALLOW:
            continue
        threshold = rule.block_at if act is Action.BLOCK else rule.review_at
        reasons.append(_reason(v, act, float(threshold if threshold is not None else 0.0)))
        if act.rank > action.rank:
            action = act
    reasons.sort(key=lambda r: (-r.action.rank, -r.score))
    return Decision(action=action, reasons=reasons)


def combine(decisions: Iterable[Decision]) -> Decision:
    """The strongest of several decisions (e.g. prompt + input images), reasons merged."""
    action = Action.ALLOW
    reasons: list[Reason] = []
    for d in decisions:
        reasons.extend(d.reasons)
        if d.action.rank > action.rank:
            action = d.action
    reasons.sort(key=lambda r: (-r.action.rank, -r.score))
    return Decision(action=action, reasons=reasons)
