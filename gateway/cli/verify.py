"""``assay verify IMAGE [--json]``: the same lookup as ``POST /v1/verify``, from the command line.

Prints the record id when a method finds one (exit 0); exit 1 when nothing of this gateway is
found; exit 2 for a file that cannot be read or decoded.

``app`` is a single command (not a group, so ``--json`` may follow the file name);
:mod:`gateway.cli.main` registers it as ``assay verify``.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from core.errors import AssayError, InvalidRequest


def _text(report) -> str:  # noqa: ANN001 - a VerifyReport
    c = report.c2pa
    lines = [
        f"file: {report.file.format or 'unknown'} {report.file.width}x{report.file.height}, "
        f"sha256 {report.file.sha256[:16]}…"
    ]
    c2pa = f"C2PA: {c.state}"
    if c.state in ("valid", "trusted", "invalid"):
        c2pa += f" (signer {c.signer or '?'}, issuer {c.issuer or '?'}; trust list: {c.trust_list})"
    if c.failures:
        c2pa += "; failures: " + ", ".join(f.code for f in c.failures)
    if c.error:
        c2pa += f"; {c.error}"
    lines.append(c2pa)
    x = report.xmp
    lines.append(
        "XMP label: "
        + (
            f"TC260:AIGC {json.dumps(x.tc260, ensure_ascii=False)}; source type {x.digital_source_type}"
            if x.tc260 or x.digital_source_type
            else ("present, no label" if x.present else "none")
        )
    )
    w = report.watermark
    lines.append(
        "watermark: "
        + (
            f"payload {w.payload} ({w.algorithm}"
            + (f", undid {w.transform})" if w.transform and w.transform != "none" else ")")
            if w.detected
            else ("not found" if w.available else f"not checked ({w.error})")
        )
    )
    p = report.phash
    lines.append(
        "perceptual hash: " + (p.skipped or f"{p.hash}, {len(p.matches)} match(es) within {p.radius} bits")
    )
    for r in report.records:
        how = ", ".join(f"{m.method} [{m.strength}] {m.detail}".rstrip() for m in r.methods)
        when = r.created_at.isoformat() if r.created_at else "?"
        lines.append(
            f"record {r.record_id} (content {r.content_id or '?'}, {when}, {r.system or '?'}): {how}"
        )
    lines.append(report.summary)
    return "\n".join(lines)


def verify(
    image: Path = typer.Argument(..., help="the image file to verify", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="print the full report as JSON"),
) -> None:
    """Verify IMAGE and print the record it points to."""
    try:
        try:
            data = image.read_bytes()
        except OSError as exc:
            raise InvalidRequest(f"cannot read {image}: {exc.strerror or exc}", param="IMAGE") from exc
        from gateway.cli.main import state_from_env
        from provenance.verify import verifier_for

        state = state_from_env()
        try:
            report = verifier_for(state).verify(data, name=str(image))
        finally:
            state.close()
    except AssayError as exc:
        typer.echo(f"error: {exc.diagnostics()}", err=True)
        raise typer.Exit(exc.exit_code) from None
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        typer.echo(_text(report))
    raise typer.Exit(0 if report.record_id else 1)


#: registered by gateway.cli.main as the command ``assay verify``
app = verify
