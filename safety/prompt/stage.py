"""Run the prompt checks of a policy on one prompt: the prompt stage outside the pipeline.

Why it exists: the pipeline runs prompt checks inside a request (with metrics and a ledger record);
the CLI (``assay prompt check``), the benchmark and tests need the same stage without a database.
The checks run one after the other: the lexicon, PII and persons checks take microseconds, and the
semantic check's forward pass already uses both cores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from safety.check import Check, CheckInput
from safety.verdict import Target, Verdict

__all__ = ["run_prompt_checks"]


def run_prompt_checks(
    checks: Sequence[tuple[Check, Mapping[str, Any]]], prompt: str, *, tenant: str
) -> list[Verdict]:
    """Run each ``(check, options)`` on ``prompt``; verdicts in the order of ``checks``. Errors propagate."""
    out: list[Verdict] = []
    for check, options in checks:
        out.extend(
            check.run(CheckInput(target=Target.prompt(), tenant=tenant, prompt=prompt, options=dict(options)))
        )
    return out
