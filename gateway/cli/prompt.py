"""``assay prompt check "PROMPT" [--policy FILE] [--json]``: the prompt checks from the command line.

Runs the prompt checks the policy lists (``checks.prompt``), decides with the policy
(:func:`gateway.decision.decide`) and prints the decision (block, review or allow), the categories and
the evidence: which characters of the prompt, which term, rule or exemplar. Exit 1 when blocked;
bad input (a prompt too long for a check, a broken policy) exits 2 through the CLI's one exit path.
No database is needed: the policy is ``--policy`` or the default pack (``ASSAY_DEFAULT_POLICY``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:  # pragma: no cover
    from gateway.decision import Decision
    from gateway.policy import Policy
    from safety.verdict import Verdict

app = typer.Typer(
    help="Run the prompt checks (lexicon, semantic, PII, protected persons) on a prompt.",
    no_args_is_help=True,
)


@app.callback()
def _group() -> None:
    """Prompt checks (a command group, so that `assay prompt check` keeps its name)."""


def describe_verdict(v: Verdict, prompt: str) -> str:
    """One line a person reads: category, score, where in the prompt, and what fired (the check's
    own ``describe``, :mod:`safety.registry`)."""
    from safety.registry import BUILTIN_CHECKS

    ev = v.evidence
    where = ""
    if isinstance(ev.get("start"), int) and isinstance(ev.get("end"), int):
        shown = ev.get("text", prompt[ev["start"] : ev["end"]])
        where = f" at [{ev['start']}:{ev['end']}] {shown!r}"
    what = BUILTIN_CHECKS.describe(v.check, v) or v.reason
    return f"{v.category.value} {v.score:.2f} [{v.check}]{where}: {what}"


def report(
    prompt: str, policy: Policy, verdicts: list[Verdict], decision: Decision, checks: list[str]
) -> dict[str, Any]:
    return {
        "decision": decision.action.value,
        "categories": decision.categories,
        "policy": policy.id,
        "policy_digest": policy.digest,
        "checks": checks,
        "reasons": [r.text for r in decision.reasons],
        "verdicts": [v.model_dump(mode="json") for v in verdicts],
        "prompt_chars": len(prompt),
    }


@app.command("check")
def check(
    prompt: str = typer.Argument(..., help="The prompt to check (quote it)"),
    policy_file: Path | None = typer.Option(None, "--policy", help="Policy YAML (default: the default pack)"),
    tenant: str = typer.Option("local", help="Tenant (scopes the protected-persons list)"),
    as_json: bool = typer.Option(False, "--json", help="Print the decision and verdicts as JSON"),
) -> None:
    """Check PROMPT with the policy's prompt checks; print the decision and evidence; exit 1 if blocked."""
    from core.settings import Settings
    from gateway.decision import decide
    from gateway.policy import Action, load_policy
    from safety.registry import CheckRegistry
    from safety.runner import CheckRunner

    settings = Settings()
    policy = load_policy(policy_file or settings.policy_dir / f"{settings.default_policy}.yaml")
    specs = policy.checks.prompt
    runner = CheckRunner(CheckRegistry(settings).get)
    try:
        verdicts = runner.run_prompt(specs, prompt, tenant=tenant)
    finally:
        runner.close()
    decision = decide(verdicts, policy)
    if as_json:
        typer.echo(
            json.dumps(
                report(prompt, policy, verdicts, decision, [s.name for s in specs]),
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        typer.echo(f"decision: {decision.action.value}")
        typer.echo(f"categories: {', '.join(decision.categories) or '(none)'}")
        typer.echo(f"policy: {policy.id}; checks: {', '.join(s.name for s in specs) or '(none)'}")
        for v in verdicts:
            typer.echo(f"  {describe_verdict(v, prompt)}")
    if decision.action is Action.BLOCK:
        raise typer.Exit(1)
