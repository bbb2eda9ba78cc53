"""``assay audit list|show|export|proof|checkpoint|verify|keygen|retention|witness|cosign``: the ledger.

``witness`` runs a C2SP witness for another operator's log; ``cosign`` asks this log's witnesses.

``verify`` recomputes every leaf from the stored rows and rebuilds the tree (or, with ``--offline
EXPORT``, checks an export with nothing but the public key) and exits 1 naming the first index
that disagrees. Errors leave through the CLI's one exit path (:func:`gateway.cli.main.run_cli`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError

from core.errors import ConfigError, InvalidRequest

if TYPE_CHECKING:  # pragma: no cover
    from gateway.state import AppState
    from provenance.ledger.checkpoint import Checkpoints
    from provenance.ledger.query import AuditQuery

app = typer.Typer(
    help="The tamper-evident audit ledger: records, proofs, checkpoints, verification.", no_args_is_help=True
)


@contextmanager
def _state() -> Iterator[AppState]:
    from core.settings import Settings
    from gateway.state import AppState

    state = AppState(Settings())
    try:
        yield state
    finally:
        state.ledger.close()
        state.close()


def _checkpoints(state: AppState) -> Checkpoints:
    from provenance.ledger.checkpoint import Checkpoints, load_signer

    return Checkpoints(state.ledger, load_signer(state.settings))


def _emit(data: Any, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str) if as_json else text)


def _query(
    tenant: str | None,
    since: datetime | None,
    until: datetime | None,
    requester: str | None,
    decision: str | None,
    category: str | None,
    kind: str | None,
    model: str | None,
    policy: str | None,
    order: str = "desc",
) -> AuditQuery:
    from provenance.ledger.query import AuditQuery

    try:
        return AuditQuery(
            tenant=tenant,
            since=since,
            until=until,
            requester=requester,
            decision=decision,
            category=category,
            kind=kind,
            model=model,
            policy=policy,
            order=order,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidRequest(
            f"bad filter: {err.get('msg')}", param=".".join(str(p) for p in err.get("loc", ())) or None
        ) from None


_TENANT = typer.Option(None, help="Only this tenant (default: every tenant)")
_SINCE = typer.Option(None, help="Created at or after (ISO 8601, UTC if no offset)")
_UNTIL = typer.Option(None, help="Created before (ISO 8601)")
_REQUESTER = typer.Option(None, help="Requester id (needs --tenant)")
_DECISION = typer.Option(None, help="allow | review | block | failed | approved | rejected ...")
_CATEGORY = typer.Option(None, help="A category, e.g. sexual, real_person")
_KIND = typer.Option(None, help="generation | review | key | policy | index | erasure ...")
_MODEL = typer.Option(None, help="Model id")
_POLICY = typer.Option(None, help="Policy id")


@app.command("list")
def list_(
    tenant: str | None = _TENANT,
    since: datetime | None = _SINCE,
    until: datetime | None = _UNTIL,
    requester: str | None = _REQUESTER,
    decision: str | None = _DECISION,
    category: str | None = _CATEGORY,
    kind: str | None = _KIND,
    model: str | None = _MODEL,
    policy: str | None = _POLICY,
    limit: int = typer.Option(50, min=1, max=500),
    cursor: str | None = typer.Option(None, help="next_cursor of the previous page"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List records, newest first."""
    from provenance.ledger.query import page

    q = _query(tenant, since, until, requester, decision, category, kind, model, policy)
    with _state() as state:
        p = page(state.ledger, q, limit=limit, cursor=cursor)
        lines = [
            f"{r.index:>8}  {r.record_id}  {r.created_at:%Y-%m-%d %H:%M:%S}  {r.tenant:<14} {r.kind:<10} "
            f"{r.decision or '-':<9} {','.join(r.categories) or '-'}"
            for r in p.records
        ]
        if p.next_cursor:
            lines.append(f"more: --cursor {p.next_cursor}")
        _emit(
            {"data": [r.model_dump(mode="json") for r in p.records], "next_cursor": p.next_cursor},
            as_json,
            "\n".join(lines) or "(no records)",
        )


@app.command()
def show(
    record_id: str = typer.Argument(..., help="The record's id (a ULID)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show one record in full."""
    from core.errors import NotFound

    with _state() as state:
        rec = state.ledger.get(record_id)
        if rec is None:
            raise NotFound(f"no audit record {record_id!r}", param="record_id")
        data = rec.model_dump(mode="json")
        _emit(data, as_json, json.dumps(data, ensure_ascii=False, indent=2))


@app.command()
def export(
    output: Path = typer.Option(Path("-"), "-o", "--output", help="File to write ('-': stdout)"),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl (self-verifying) | csv"),
    personal_data: bool = typer.Option(True, help="Include prompt text and requester ids"),
    tenant: str | None = _TENANT,
    since: datetime | None = _SINCE,
    until: datetime | None = _UNTIL,
    requester: str | None = _REQUESTER,
    decision: str | None = _DECISION,
    category: str | None = _CATEGORY,
    kind: str | None = _KIND,
    model: str | None = _MODEL,
    policy: str | None = _POLICY,
) -> None:
    """Export records (streamed). A JSONL export verifies offline with `assay audit verify --offline`."""
    from provenance.ledger.export import export_csv, export_jsonl

    if fmt not in ("jsonl", "csv"):
        raise InvalidRequest(f"unknown format {fmt!r}", param="format", hint="jsonl or csv")
    q = _query(tenant, since, until, requester, decision, category, kind, model, policy, order="asc")
    with _state() as state:
        lines = (
            export_jsonl(state.ledger, _checkpoints(state), q, include_personal=personal_data)
            if fmt == "jsonl"
            else export_csv(state.ledger, q, include_personal=personal_data)
        )
        fh = sys.stdout if str(output) == "-" else output.open("w", encoding="utf-8", newline="")
        try:
            for line in lines:
                fh.write(line)
        finally:
            if fh is not sys.stdout:
                fh.close()
        if str(output) != "-":
            typer.echo(f"wrote {output}", err=True)


@app.command()
def proof(
    record_id: str | None = typer.Argument(None, help="Record to prove the inclusion of"),
    first: int | None = typer.Option(
        None, "--from", min=1, help="Instead: consistency proof from this tree size ..."
    ),
    second: int | None = typer.Option(None, "--to", min=1, help="... to this size (default: now)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """An inclusion proof of a record (or a consistency proof between two sizes) with its checkpoint."""
    from core.errors import NotFound

    if (record_id is None) == (first is None):
        raise InvalidRequest("give a RECORD_ID, or --from SIZE for a consistency proof", param="record_id")
    with _state() as state:
        cps = _checkpoints(state)
        if record_id is not None:
            rec = state.ledger.get(record_id)
            if rec is None:
                raise NotFound(f"no audit record {record_id!r}", param="record_id")
            cp = cps.covering(rec.index + 1)
            nodes = state.ledger.inclusion_proof(rec.index, cp.size)
            data: dict[str, Any] = {
                "record_id": rec.record_id,
                "index": rec.index,
                "tree_size": cp.size,
                "leaf_hash": rec.leaf_hash,
                "leaf": state.ledger.leaf_text(rec.index),
                "proof": [n.hex() for n in nodes],
                "checkpoint": cp.note,
            }
        else:
            assert first is not None
            cp = cps.covering(second) if second else cps.create()
            size2 = second or cp.size
            nodes = state.ledger.consistency_proof(first, size2)
            data = {
                "first": first,
                "second": size2,
                "first_root": state.ledger.root_at(first).hex(),
                "second_root": state.ledger.root_at(size2).hex(),
                "proof": [n.hex() for n in nodes],
                "checkpoint": cp.note,
            }
        text = "\n".join(f"{k}: {v}" for k, v in data.items() if k not in ("proof", "checkpoint", "leaf"))
        text += "\nproof:\n" + "\n".join(f"  {n}" for n in data["proof"]) + "\ncheckpoint:\n" + cp.note
        _emit(data, as_json, text)


@app.command()
def checkpoint(as_json: bool = typer.Option(False, "--json")) -> None:
    """Sign a checkpoint of the log now (if it grew) and print it as a C2SP signed note."""
    with _state() as state:
        cps = _checkpoints(state)
        cp = cps.create()
        _emit(
            {
                "origin": cp.origin,
                "tree_size": cp.size,
                "root": cp.root_b64,
                "note": cp.note,
                "public_key": cps.verifier.vkey(),
            },
            as_json,
            cp.note.rstrip("\n"),
        )


@app.command()
def verify(
    offline: Path | None = typer.Option(
        None, "--offline", help="Verify this JSONL export instead (no database needed)"
    ),
    public_key: str | None = typer.Option(
        None, "--public-key", help="Verifier key (vkey) or a file holding it"
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Recompute every leaf, rebuild the tree, check every checkpoint; exit 1 naming the first bad index."""
    from provenance.ledger.note import NoteVerifier

    key = None
    if public_key:
        p = Path(public_key)
        key = NoteVerifier.from_vkey(p.read_text() if p.is_file() else public_key)
    if offline is not None:
        report = _verify_offline(offline, key)
    else:
        from provenance.ledger.checkpoint import load_verifier
        from provenance.ledger.verify import verify_ledger

        with _state() as state:
            report = verify_ledger(
                state.ledger,
                key or load_verifier(state.settings),
                progress=lambda n: typer.echo(f"... {n} records", err=True),
            )
    _emit(report.model_dump(mode="json") | {"ok": report.ok}, as_json, report.summary())
    if not report.ok:
        raise typer.Exit(1)


def _verify_offline(path: Path, key):  # noqa: ANN001, ANN202
    from provenance.ledger.checkpoint import VKEY_FILE
    from provenance.ledger.export import verify_export
    from provenance.ledger.note import NoteVerifier

    if not path.is_file():
        raise InvalidRequest(f"no export file at {path}", param="offline")
    if key is None:
        from core.settings import Settings

        vfile = Settings().keys_dir / VKEY_FILE
        if vfile.is_file():
            key = NoteVerifier.from_vkey(vfile.read_text())
        else:
            with path.open(encoding="utf-8") as fh:
                header = json.loads(fh.readline() or "{}")
            if not header.get("public_key"):
                raise ConfigError("no public key: pass --public-key (the operator's .vkey)")
            key = NoteVerifier.from_vkey(header["public_key"])
            typer.echo(
                "warning: verifying with the key inside the export itself; pass --public-key with the "
                "operator's published key to rule out a re-signed export",
                err=True,
            )
    with path.open(encoding="utf-8") as fh:
        return verify_export(fh, key)


@app.command()
def keygen(
    origin: str | None = typer.Option(None, help="The log's name (default: <host>/assay-ledger/<random>)"),
) -> None:
    """Create the operator's checkpoint signing key in the keys dir (never overwrites one)."""
    from core.settings import KeySetupSettings
    from provenance.ledger.checkpoint import SKEY_FILE, VKEY_FILE, new_origin, write_key
    from provenance.ledger.note import NoteSigner

    settings = KeySetupSettings()  # in production too: the key it creates may not exist yet
    signer = NoteSigner.generate(origin or new_origin(settings))
    try:
        write_key(signer, settings.keys_dir)
    except FileExistsError:
        raise ConfigError(
            f"a checkpoint key already exists at {settings.keys_dir / SKEY_FILE}",
            hint="rotating the key starts a new log identity; move the old key away first",
        ) from None
    typer.echo(
        f"wrote {settings.keys_dir / SKEY_FILE} (secret) and {settings.keys_dir / VKEY_FILE} (publish it)",
        err=True,
    )
    typer.echo(signer.verifier.vkey())


@app.command()
def retention(as_json: bool = typer.Option(False, "--json")) -> None:
    """Erase personal data past each record's policy retention now (run it daily, e.g. from cron)."""
    from provenance.ledger.retention import apply_retention

    with _state() as state:
        res = apply_retention(state.ledger, state.policies.retention_rules(state.settings.default_policy))
        _emit(
            res.model_dump(),
            as_json,
            f"erased personal data of {res.erased_records} record(s); "
            f"erasure records: {', '.join(res.erasure_record_ids) or 'none'}",
        )


@app.command()
def witness(
    log_key: list[str] = typer.Option(
        ..., "--log-key", help="A log's checkpoint verifier key (vkey) or a file holding it; repeatable"
    ),
    state_dir: Path = typer.Option(
        Path(".assay-witness"), "--state-dir", help="Holds this witness's key and its state"
    ),
    name: str | None = typer.Option(
        None, "--name", help="The witness's key name (needed once, to create its key)"
    ),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8090, "--port", min=1, max=65535),
    print_key: bool = typer.Option(False, "--print-key", help="Print the witness's vkey and exit"),
) -> None:
    """Run a C2SP witness (POST /add-checkpoint) for other operators' logs, on its own key and state."""
    from gateway.api.witness import witness_app
    from provenance.ledger.note import NoteVerifier
    from provenance.ledger.witness import Witness, load_cosigner

    keys = []
    for k in log_key:
        p = Path(k)
        keys.append(NoteVerifier.from_vkey(p.read_text() if p.is_file() else k))
    cosigner = load_cosigner(state_dir, name)
    typer.echo(cosigner.public.vkey())
    if print_key:
        return
    import uvicorn

    w = Witness(cosigner, keys, state_dir / "state.json")
    typer.echo(f"witnessing {', '.join(sorted(w.logs))} on http://{host}:{port}/add-checkpoint", err=True)
    uvicorn.run(witness_app(w), host=host, port=port, log_level="warning")


@app.command()
def cosign(as_json: bool = typer.Option(False, "--json")) -> None:
    """Sign a checkpoint now and ask the configured witnesses (ASSAY_LEDGER_WITNESSES) to cosign it."""
    from gateway.api.tiles import http_post
    from provenance.ledger.witness import WitnessCollector, parse_witnesses

    with _state() as state:
        witnesses = parse_witnesses(state.settings.ledger_witnesses)
        if not witnesses:
            raise ConfigError("no witnesses configured", hint="set ASSAY_LEDGER_WITNESSES='<vkey> <url>'")
        quorum = state.settings.ledger_witness_quorum or len(witnesses)
        res = WitnessCollector(_checkpoints(state), witnesses, quorum, http_post).collect()
        refused = "".join(f"\n  {n}: {why}" for n, why in res.refused.items())
        _emit(
            res.__dict__,
            as_json,
            f"size {res.size}: cosigned by {len(res.cosigned_by)} of {len(witnesses)} "
            f"(quorum {quorum}): {'published' if res.published else 'NOT published'}"
            + (f"\nrefused:{refused}" if refused else ""),
        )
        if not res.published:
            raise typer.Exit(1)
