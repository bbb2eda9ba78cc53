"""``assay report bias``: who the released outputs show, aggregated from the ledger.

Prints a table (counts, shares, the perceived-gender disparity vs parity with a 95% interval) and,
with ``--chart PATH``, writes a chart (``.svg`` always; ``.png`` with matplotlib). See
:mod:`gateway.reports.bias`. Errors leave through the CLI's one exit path.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer

app = typer.Typer(help="Reports over the audit ledger (bias monitoring).", no_args_is_help=True)


@app.command()
def bias(
    by: str = typer.Option(
        "prompt",
        help="Group by: prompt (occupation/role named) | model | tenant | policy | day | week | month",
    ),
    tenant: str | None = typer.Option(None, help="Only this tenant (default: every tenant)"),
    since: datetime | None = typer.Option(None, help="Created at or after (ISO 8601, UTC if no offset)"),
    until: datetime | None = typer.Option(None, help="Created before (ISO 8601)"),
    model: str | None = typer.Option(None, help="Model id"),
    policy: str | None = typer.Option(None, help="Policy id"),
    outputs: str = typer.Option("released", help="released (allowed or approved by a reviewer) | all"),
    chart: Path | None = typer.Option(None, help="Write a chart here (.svg, or .png with matplotlib)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Perceived gender, age bracket and skin tone of the faces in released outputs, per group."""
    from core.errors import InvalidRequest
    from gateway.cli.audit import _query, _state
    from gateway.reports.bias import GroupBy, bias_report, table, write_chart

    groupings = GroupBy.__args__  # type: ignore[attr-defined]
    if by not in groupings:
        raise InvalidRequest(f"--by must be one of {', '.join(groupings)}, not {by!r}", param="by")
    if outputs not in ("released", "all"):
        raise InvalidRequest(f"--outputs must be released or all, not {outputs!r}", param="outputs")
    query = _query(tenant, since, until, None, None, None, "generation", model, policy)
    with _state() as state:
        report = bias_report(state.ledger, query, by=by, outputs=outputs)  # type: ignore[arg-type]
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        typer.echo(table(report))
    if chart is not None:
        write_chart(report, chart)
        typer.echo(f"chart written to {chart}", err=as_json)
