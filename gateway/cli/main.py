"""The ``assay`` command line: the operator's entry points.

Exit codes: 0 ok; 1 blocked, held, or a failed check/component; 2 usage error or bad input.
Every Assay error goes out through :func:`run_cli` (one exit path) with its diagnostics.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import typer
import typer.core

from core.errors import AssayError, ContentBlocked, InvalidRequest
from gateway.store import migrate


class _AssayGroup(typer.core.TyperGroup):
    """The one exit path: an Assay error anywhere in any command prints its diagnostics and exits
    with its documented code (1 blocked/failed, 2 usage or bad input)."""

    def invoke(self, ctx):  # noqa: ANN001, ANN201
        try:
            return super().invoke(ctx)
        except AssayError as exc:
            typer.echo(f"error: {exc.diagnostics()}", err=True)
            ctx.exit(exc.exit_code)


app = typer.Typer(
    name="assay",
    help="Assay: compliance and provenance gateway for AI image generation.",
    cls=_AssayGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
tenants_app = typer.Typer(help="Tenants and their policy packs.", no_args_is_help=True)
policy_app = typer.Typer(help="Policy packs.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(tenants_app, name="tenants")
app.add_typer(policy_app, name="policy")
app.add_typer(db_app, name="db")

#: capability command groups: (module, attribute, name). Added when the module exists.
GROUPS = [
    ("gateway.cli.model", "app", "model"),
    ("gateway.cli.prompt", "app", "prompt"),
    ("gateway.cli.image", "app", "image"),
    ("gateway.cli.image", "likeness_app", "likeness"),
    ("gateway.cli.index", "app", "index"),
    ("gateway.cli.verify", "app", "verify"),
    ("gateway.cli.audit", "app", "audit"),
    ("gateway.cli.report", "app", "report"),
    ("gateway.cli.review", "app", "review"),
    ("gateway.cli.worker", "worker", "worker"),
    ("gateway.cli.licenses", "licenses", "licenses"),
]


def _add_groups() -> None:
    from core.plugins import import_optional

    for module_name, attr, name in GROUPS:
        module = import_optional(module_name)
        sub = getattr(module, attr, None) if module is not None else None
        if sub is None:
            continue
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=name)
        else:  # a single command function
            app.command(name=name)(sub)


def out(data: Any, as_json: bool, text: str | None = None) -> None:
    """Print ``data`` as JSON (``--json``) or ``text``."""
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    elif text is not None:
        typer.echo(text)


def state_from_env(**kw: Any):  # noqa: ANN201
    from core.settings import Settings
    from gateway.state import AppState

    return AppState(Settings(), **kw)


# --- serve ------------------------------------------------------------------------------------
@app.command()
def serve(
    host: str | None = typer.Option(None, help="Bind address (default ASSAY_HOST, 127.0.0.1)"),
    port: int | None = typer.Option(None, help="Port (default ASSAY_PORT, 8000)"),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes"),
    preload: bool = typer.Option(True, help="Load the model, checks and marks before accepting requests"),
) -> None:
    """Serve the gateway over HTTP."""
    import uvicorn

    from core.settings import Settings

    settings = Settings()
    state = state_from_env()  # migrates the database once, before any worker starts
    try:
        _dev_key(state)
    finally:
        state.close()
    import os

    os.environ["ASSAY_PRELOAD"] = "true" if preload else "false"  # Settings.preload of each worker
    folder = None
    if workers > 1:  # /metrics sums every worker (see gateway/metrics.py)
        from gateway.metrics import MULTIPROC_ENV

        folder = tempfile.mkdtemp(prefix="assay-metrics-")
        os.environ[MULTIPROC_ENV] = folder
    try:
        uvicorn.run(
            "gateway.serve:make_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            log_level="info",
        )
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _dev_key(state) -> None:  # noqa: ANN001
    """In development, the first start creates an admin key for tenant ``demo`` and prints it once."""
    from core.store.locks import exclusive
    from provenance.keys import write_private

    s = state.settings
    if s.is_production or not s.dev_api_key_file:
        return
    with exclusive(state.db, "dev-api-key"):  # replicas starting at once on a new database: one key
        if state.keys.count() > 0:
            return
        key, row = state.keys.create("demo", "admin", name="development key", policy_id=s.default_policy)
    path = s.data_dir / "dev-api-key"
    write_private(path, (key + "\n").encode(), replace=True)
    typer.echo(f"development API key for tenant 'demo' (role admin), also in {path}:\n  {key}", err=True)


# --- generate ---------------------------------------------------------------------------------
@app.command()
def generate(
    prompt: str = typer.Argument(..., help="What to draw"),
    output: Path = typer.Option(
        ..., "-o", "--output", help="Output file; with --n > 1, -1, -2 ... are added"
    ),
    size: str | None = typer.Option(None, help="WIDTHxHEIGHT (default: the policy's default size)"),
    seed: int | None = typer.Option(None, min=0),
    n: int = typer.Option(1, "--n", min=1),
    steps: int | None = typer.Option(None, min=1),
    policy: Path | None = typer.Option(None, help="Use this policy file instead of the tenant's"),
    tenant: str = typer.Option("local", help="Tenant the generation is recorded under"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON"),
) -> None:
    """Generate images through the whole compliance path; prints the record id."""
    from gateway.auth import Principal, Role
    from gateway.pipeline import PipelineRequest
    from gateway.policy import load_policy

    pol = load_policy(policy) if policy else None
    fmt = {".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".png": "png"}.get(output.suffix.lower())
    if fmt is None:
        raise InvalidRequest(f"output {output} must end in .png, .jpg, .jpeg or .webp", param="output")
    state = state_from_env()
    try:
        req = PipelineRequest(
            prompt=prompt,
            principal=Principal(key_id="cli", tenant=tenant, role=Role.ADMIN),
            n=n,
            size=size,
            seed=seed,
            steps=steps,
            policy_override=pol,
            output_format=fmt,
        )
        res = state.generate(req)
        files = []
        for im in res.released:
            path = (
                output
                if len(res.images) == 1
                else output.with_name(f"{output.stem}-{im.index + 1}{output.suffix}")
            )
            path.write_bytes(im.data or b"")
            files.append(str(path))
        data = {
            "record_id": res.record_id,
            "status": res.status,
            "decision": res.decision.action.value,
            "files": files,
            "review_id": res.review_id,
            "reasons": [r.text for r in res.decision.reasons],
            "model": res.model.model_dump(mode="json") if res.model else None,
        }
        out(
            data,
            as_json,
            "\n".join(
                [f"record {res.record_id}: {res.status}"]
                + [f"wrote {f}" for f in files]
                + [f"  {r.text}" for r in res.decision.reasons]
            ),
        )
        if res.status != "released":
            raise typer.Exit(1)
    except ContentBlocked as exc:
        out({"status": "blocked", **exc.details, "message": exc.message}, as_json)
        raise
    finally:
        state.close()


# --- keys and tenants -------------------------------------------------------------------------
@keys_app.command("create")
def keys_create(
    tenant: str = typer.Option(..., help="Tenant the key acts for"),
    role: str = typer.Option("requester", help="requester | reviewer | auditor | admin"),
    name: str | None = typer.Option(None, help="A label for the key"),
    policy: str | None = typer.Option(
        None, help="Policy id for a new tenant (default: ASSAY_DEFAULT_POLICY)"
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create an API key; the key is printed once and never stored."""
    from gateway.auth import Role

    try:
        r = Role(role)
    except ValueError:
        raise InvalidRequest(
            f"unknown role {role!r}", param="role", hint="one of requester, reviewer, auditor, admin"
        ) from None
    state = state_from_env()
    try:
        pol = policy or state.settings.default_policy
        state.policies.get(pol)
        key, row = state.keys.create(tenant, r, name=name, policy_id=pol)
        out({"key": key, **row.model_dump(mode="json")}, as_json, key)
        if not as_json:
            typer.echo(
                f"key id {row.id}, tenant {row.tenant}, role {row.role}: store it now, it is not shown again",
                err=True,
            )
    finally:
        state.close()


@keys_app.command("list")
def keys_list(
    tenant: str | None = typer.Option(None),
    all_: bool = typer.Option(False, "--all", help="Include revoked"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List API keys (ids, tenants, roles; never the secrets)."""
    state = state_from_env()
    try:
        rows = state.keys.list(tenant, include_revoked=all_)
        out(
            [r.model_dump(mode="json") for r in rows],
            as_json,
            "\n".join(
                f"{r.id}  {r.tenant:<16} {r.role:<10} {r.name or ''}{'  REVOKED' if r.revoked_at else ''}"
                for r in rows
            )
            or "(no keys)",
        )
    finally:
        state.close()


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id."""
    state = state_from_env()
    try:
        row = state.keys.revoke(key_id)
        typer.echo(f"revoked {row.id}")
    finally:
        state.close()


@tenants_app.command("list")
def tenants_list(as_json: bool = typer.Option(False, "--json")) -> None:
    state = state_from_env()
    try:
        rows = state.keys.tenants()
        out(
            [{"id": t.id, "policy_id": t.policy_id} for t in rows],
            as_json,
            "\n".join(f"{t.id:<20} {t.policy_id}" for t in rows) or "(no tenants)",
        )
    finally:
        state.close()


@tenants_app.command("set-policy")
def tenants_set_policy(tenant: str, policy_id: str) -> None:
    """Assign a policy pack to a tenant (the tenant is created if new)."""
    state = state_from_env()
    try:
        state.policies.get(policy_id)
        state.keys.ensure_tenant(tenant, policy_id)
        state.keys.set_policy(tenant, policy_id)
        typer.echo(f"tenant {tenant}: policy {policy_id}")
    finally:
        state.close()


# --- policy and db ------------------------------------------------------------------------------
@policy_app.command("check")
def policy_check(
    files: list[Path] = typer.Argument(..., help="Policy YAML files"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Validate policy files; exit 2 naming file, key and line on the first bad one."""
    from core.errors import PolicyError
    from gateway.policy import load_policy

    results, failed = [], False
    for f in files:
        try:
            p = load_policy(f)
            results.append({"file": str(f), "ok": True, "id": p.id, "digest": p.digest})
            if not as_json:
                typer.echo(f"ok  {f}  id={p.id}  {p.digest}")
        except PolicyError as exc:
            failed = True
            results.append({"file": str(f), "ok": False, "error": exc.message})
            if not as_json:
                typer.echo(f"error: {exc.message}", err=True)
    if as_json:
        out(results, True)
    if failed:
        raise typer.Exit(2)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (Alembic) up to the newest schema."""
    from core.settings import Settings
    from core.store import Database

    s = Settings()
    s.ensure_dirs()
    db = Database(s.db_url)
    migrate(db)
    typer.echo(f"database at {db.engine.url.render_as_string(hide_password=True)} is up to date")


_add_groups()


def run_cli() -> None:
    """Console entry point (errors leave through `_AssayGroup.invoke`)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
