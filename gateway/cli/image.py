"""``assay image check`` and ``assay likeness add|list|remove``: the image checks from the command line.

Two typer apps: ``app`` (registered as ``image``) and ``likeness_app`` (registered as ``likeness``).
Errors are Assay errors and leave through the CLI's one exit path (:func:`gateway.cli.main.run_cli`):
a hostile or broken image file exits 2 naming what is wrong; a blocked image exits 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from core.errors import InvalidRequest
from gateway.store import migrate

if TYPE_CHECKING:  # pragma: no cover
    from core.settings import Settings
    from gateway.decision import Decision
    from gateway.policy import Policy
    from safety.image.likeness import LikenessGallery
    from safety.verdict import Verdict

app = typer.Typer(help="Run the image checks (NSFW, faces, likeness) on an image file.", no_args_is_help=True)
likeness_app = typer.Typer(
    help="The tenant's protected-likeness gallery: people who must not be depicted.", no_args_is_help=True
)


def _read(path: Path, param: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidRequest(f"{path}: no such file", param=param) from None
    except OSError as exc:
        raise InvalidRequest(f"{path}: cannot read: {exc.strerror or exc}", param=param) from None


def _settings() -> Settings:
    from core.settings import Settings

    s = Settings()
    s.ensure_dirs()
    return s


def _report(
    image_path: Path,
    policy: Policy,
    names: list[str],
    verdicts: list[Verdict],
    decision: Decision,
    target: str,
) -> dict[str, Any]:
    return {
        "image": str(image_path),
        "policy": policy.id,
        "policy_digest": policy.digest,
        "target": target,
        "checks": names,
        "verdicts": [v.model_dump(mode="json") for v in verdicts],
        "decision": decision.action.value,
        "reasons": [r.text for r in decision.reasons],
    }


@app.command("check")
def check(
    image: Path = typer.Argument(..., help="Image file (PNG, JPEG, WebP, GIF, BMP, TIFF)"),
    policy_file: Path | None = typer.Option(
        None, "--policy", help="Policy YAML (default: the tenant's policy)"
    ),
    as_input: bool = typer.Option(
        False, "--as-input", help="Check it as an uploaded edit input (the policy's input_image checks)"
    ),
    tenant: str = typer.Option("local", help="Tenant whose policy and likeness gallery apply"),
    as_json: bool = typer.Option(False, "--json", help="Print verdicts and decision as JSON"),
) -> None:
    """Decode IMAGE safely, run the policy's image checks, print each verdict and the decision.

    Exit 1 if blocked.
    """
    from core.images import DecodeLimits, decode_image
    from gateway.decision import decide
    from gateway.policy import Action, load_policy
    from gateway.state import AppState
    from safety.registry import describe_verdict
    from safety.runner import CheckRunner
    from safety.verdict import Target, TargetKind

    state = AppState(_settings())
    runner = CheckRunner(state.checks.get)
    try:
        policy = load_policy(policy_file) if policy_file else state.policy_for(tenant)
        kind = TargetKind.INPUT_IMAGE if as_input else TargetKind.OUTPUT_IMAGE
        target = Target(kind=kind, index=0)
        img = decode_image(
            _read(image, "image"), limits=DecodeLimits.from_policy(policy.limits), name=str(image)
        )
        specs = policy.checks.for_target(kind)
        verdicts = runner.run_images(specs, [img], kind, tenant=tenant)
    finally:
        runner.close()
        state.close()
    decision = decide(verdicts, policy)
    if as_json:
        typer.echo(
            json.dumps(
                _report(image, policy, [s.name for s in specs], verdicts, decision, str(target)),
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        typer.echo(f"{image}: {img.width}x{img.height}, policy {policy.id}, checked as {target}")
        for spec in specs:
            found = [v for v in verdicts if v.check == spec.name]
            if not found:
                typer.echo(f"  {spec.name}: nothing found")
            for v in found:
                typer.echo(f"  {spec.name}: {describe_verdict(v)}")
        typer.echo(f"decision: {decision.explain()}")
    if decision.action is Action.BLOCK:
        raise typer.Exit(1)


# --- likeness gallery ---------------------------------------------------------------------------
def _gallery() -> LikenessGallery:
    from core.store import Database
    from safety.image.likeness import LikenessGallery

    settings = _settings()
    db = Database(settings.db_url)
    if settings.auto_migrate:
        migrate(db)
    return LikenessGallery(db)


@likeness_app.command("add")
def likeness_add(
    photos: list[Path] = typer.Argument(..., help="One or more photos of the person, one face each"),
    name: str = typer.Option(..., help="The person's name, as verdicts will show it"),
    tenant: str = typer.Option(..., help="Tenant whose gallery the person joins"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Enrol a protected person from PHOTO(s): one embedding per photo (the photos are not kept)."""
    gallery = _gallery()
    try:
        entries = [gallery.enroll(tenant, name, _read(p, "photo"), photo_name=str(p)) for p in photos]
    finally:
        gallery.db.dispose()
    if as_json:
        typer.echo(json.dumps([e.model_dump(mode="json") for e in entries], indent=2))
    else:
        for p, e in zip(photos, entries, strict=True):
            typer.echo(f"added {e.id}  {e.name!r}  tenant {e.tenant}  from {p}")


@likeness_app.command("list")
def likeness_list(
    tenant: str = typer.Option(..., help="Tenant whose gallery to list"),
    name: str | None = typer.Option(None, help="Only this person"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List gallery entries (ids, names, photo digests; never the embeddings)."""
    gallery = _gallery()
    try:
        rows = gallery.list(tenant, name)
    finally:
        gallery.db.dispose()
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
    else:
        typer.echo(
            "\n".join(
                f"{r.id}  {r.name:<30} {r.created_at:%Y-%m-%d}  photo sha256 {r.source_sha256[:16]}"
                for r in rows
            )
            or "(no entries)"
        )


@likeness_app.command("remove")
def likeness_remove(
    entry_id: str | None = typer.Argument(None, help="Entry id (from `list`)"),
    name: str | None = typer.Option(None, help="Remove every entry of this person instead"),
    tenant: str = typer.Option(..., help="Tenant whose gallery to change"),
) -> None:
    """Delete an entry, or all of a person's entries: the embeddings are erased, not hidden."""
    if (entry_id is None) == (name is None):
        raise InvalidRequest("give an entry id or --name, not both", param="entry_id")
    gallery = _gallery()
    try:
        n = gallery.remove(tenant, entry_id=entry_id, name=name)
    finally:
        gallery.db.dispose()
    typer.echo(f"removed {n} entr{'y' if n == 1 else 'ies'} from tenant {tenant}")
