"""What every prompt check does before it looks at the text: take the prompt, refuse what it cannot read.

Why it exists: the gateway enforces the policy's ``limits.max_prompt_chars`` at the edge, but a check
is also called from the CLI, benchmarks and tests, and must never crash on what it is given: an empty
prompt is a clean "nothing found", an over-long one a clear :class:`~core.errors.PayloadTooLarge`,
a call on the wrong target a :class:`~core.errors.CheckFailed` (a wiring error, fail closed).
Check options arrive typed: the policy parsed them when it loaded (:func:`core.plugins.typed_options`).
"""

from __future__ import annotations

from pathlib import Path

from core.errors import CheckFailed, PayloadTooLarge
from safety.check import CheckInput
from safety.verdict import TargetKind

__all__ = ["prompt_text", "resolve_path"]


def prompt_text(item: CheckInput, check: str, max_chars: int) -> str:
    """The prompt of ``item``; ``""`` when there is none to look at."""
    if item.target.kind is not TargetKind.PROMPT:
        raise CheckFailed(
            f"{check} looks at prompts only, not at {item.target}",
            hint=f"list {check} under checks.prompt in the policy",
        )
    text = item.prompt or ""
    if not isinstance(text, str):
        raise CheckFailed(f"{check}: the prompt must be text, got {type(text).__name__}")
    if len(text) > max_chars:
        raise PayloadTooLarge(
            f"the prompt has {len(text)} characters; {check} reads at most {max_chars}",
            param="prompt",
            hint="shorten the prompt (the policy's limits.max_prompt_chars should stay below this)",
        )
    return text


def resolve_path(path: Path, data_dir: Path) -> Path:
    """Operator files named in options: absolute, or relative to the data directory."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else (data_dir / path)
