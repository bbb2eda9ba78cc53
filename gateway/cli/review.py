"""``assay review list|show|approve|reject|escalate|assign|webhook``: the review queue without a browser.

Every command acts as the reviewer (or admin) whose API key is given with ``--key`` or
``ASSAY_REVIEWER_KEY``: the same tenant scoping, four-eyes and requester rules as the API and the
page apply, and each action is a ledger record. ``approve``/``reject`` claim the item first when
the caller does not hold it yet. Errors leave through the CLI's one exit path
(:func:`gateway.cli.main.run_cli`): 2 for bad input or a refused action, 1 for a conflict.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError

from core.errors import InvalidRequest

if TYPE_CHECKING:  # pragma: no cover
    from gateway.auth import Principal
    from gateway.review.models import ReviewDetail
    from gateway.state import AppState

app = typer.Typer(
    help="The moderation review queue: list, show, approve, reject held generations.", no_args_is_help=True
)

_KEY = typer.Option(
    None,
    "--key",
    help="Reviewer or admin API key (default: ASSAY_REVIEWER_KEY)",
    show_default=False,
)
_JSON = typer.Option(False, "--json", help="Print JSON")


def _open(key: str | None) -> tuple[AppState, Principal]:
    from core.settings import Settings
    from gateway.state import AppState

    settings = Settings()
    if not key and settings.reviewer_key is not None:
        key = settings.reviewer_key.get_secret_value()
    if not key:
        raise InvalidRequest(
            "no API key: pass --key or set ASSAY_REVIEWER_KEY", param="--key", hint="a reviewer or admin key"
        )
    state = AppState(settings)
    try:
        return state, state.keys.authenticate(key)
    except Exception:
        state.close()
        raise


def _emit(data: Any, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str) if as_json else text)


def _decision(reason: str, comment: str | None):  # noqa: ANN202
    from gateway.review.models import DecisionIn

    try:
        return DecisionIn(reason_code=reason, comment=comment)
    except ValidationError as exc:
        raise InvalidRequest(f"--reason/--comment: {exc.errors()[0]['msg']}", param="reason") from None


def _describe(d: ReviewDetail) -> str:
    lines = [
        f"review {d.id}  [{d.state.value}]  tenant {d.tenant}  policy {d.policy_id}",
        f"  generation record {d.record_id}, priority {d.priority}, due {d.due_at:%Y-%m-%d %H:%M} UTC"
        + (" (OVERDUE)" if d.overdue else ""),
        f"  approvals {d.approvals}/{d.approvals_needed}"
        + (f", first by {d.first_approver}" if d.first_approver else "")
        + (f", claimed by {d.claimed_by} until {d.lease_until:%H:%M:%S} UTC" if d.claimed_by else ""),
        f"  prompt: {d.prompt!r}" if d.prompt is not None else "  prompt: (not stored)",
        "  why held:",
    ]
    lines += [f"    - {r.text}" for r in d.reasons]
    lines.append("  findings:")
    lines += [f"    - {v.summary()}" for v in d.verdicts]
    lines.append("  history:")
    lines += [
        f"    {e.at:%Y-%m-%d %H:%M:%S} {e.action:<14} {e.actor} ({e.actor_role})"
        + (f" {e.reason_code}" if e.reason_code else "")
        + (f": {e.comment}" if e.comment else "")
        for e in d.events
    ]
    if d.decided_at:
        lines.append(
            f"  decided {d.state.value} by {d.decided_by} ({d.reason_code}) at {d.decided_at:%Y-%m-%d %H:%M}"
        )
    return "\n".join(lines)


@app.command("list")
def list_(
    key: str | None = _KEY,
    state_: str = typer.Option(
        "open", "--state", help="open | pending | claimed | escalated | approved | rejected | all"
    ),
    tenant: str | None = typer.Option(None, help="Only this tenant"),
    category: str | None = typer.Option(None, help="Only items held for this category"),
    overdue: bool = typer.Option(False, "--overdue", help="Only items past their SLA"),
    limit: int = typer.Option(50, min=1, max=200),
    offset: int = typer.Option(0, min=0),
    as_json: bool = _JSON,
) -> None:
    """List the queue (priority first), with counts per state."""
    from gateway.review.models import QueueFilter

    try:
        flt = QueueFilter(
            state=state_, tenant=tenant, category=category, overdue=overdue, limit=limit, offset=offset
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidRequest(f"bad filter {'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
    state, me = _open(key)
    try:
        page = state.review_queue.page(me, flt)
    finally:
        state.close()
    c = page.counts
    text = [
        f"pending {c.pending} · claimed {c.claimed} · escalated {c.escalated} · approved {c.approved} · "
        f"rejected {c.rejected} · overdue {c.overdue}   ({page.total} match)"
    ]
    text += [
        f"{r.id}  {r.state.value:<9} p{r.priority:<4} {r.tenant:<12} {','.join(r.categories):<20} "
        f"due {r.due_at:%Y-%m-%d %H:%M}{' LATE' if r.overdue else ''}  {r.approvals}/{r.approvals_needed}"
        for r in page.data
    ]
    _emit(page.model_dump(mode="json"), as_json, "\n".join(text))


@app.command()
def show(review_id: str, key: str | None = _KEY, as_json: bool = _JSON) -> None:
    """Everything about one item: prompt, why it was held, findings, history."""
    state, me = _open(key)
    try:
        d = state.review_queue.detail(me, review_id)
    finally:
        state.close()
    _emit(d.model_dump(mode="json"), as_json, _describe(d))


def _decide(
    kind: str, review_id: str, key: str | None, reason: str, comment: str | None, as_json: bool
) -> None:
    from gateway.review.models import ReviewState

    decision = _decision(reason, comment)
    state, me = _open(key)
    try:
        q = state.review_queue
        d = q.detail(me, review_id)
        if not (d.state is ReviewState.CLAIMED and d.claimed_by == me.key_id):
            q.claim(me, review_id)
        d = getattr(q, kind)(me, review_id, decision)
        q.webhooks.run_due()  # deliver the decision now (the server's dispatcher retries failures)
    finally:
        state.close()
    note = ""
    if kind == "approve" and d.state is not ReviewState.APPROVED:
        note = f" (approval {d.approvals} of {d.approvals_needed}: another reviewer must approve)"
    _emit(d.model_dump(mode="json"), as_json, f"review {d.id}: {d.state.value}{note}")


_REASON = typer.Option(..., "--reason", help="Reason code (see `assay review codes`)")
_COMMENT = typer.Option(None, "--comment", help="Why (required with --reason other)")


@app.command()
def approve(
    review_id: str,
    key: str | None = _KEY,
    reason: str = _REASON,
    comment: str | None = _COMMENT,
    as_json: bool = _JSON,
) -> None:
    """Approve (claims first if needed). The last approval releases the marked image."""
    _decide("approve", review_id, key, reason, comment, as_json)


@app.command()
def reject(
    review_id: str,
    key: str | None = _KEY,
    reason: str = _REASON,
    comment: str | None = _COMMENT,
    as_json: bool = _JSON,
) -> None:
    """Reject (claims first if needed). The held image is discarded unless the policy keeps it."""
    _decide("reject", review_id, key, reason, comment, as_json)


@app.command()
def escalate(
    review_id: str,
    key: str | None = _KEY,
    reason: str = _REASON,
    comment: str | None = _COMMENT,
    as_json: bool = _JSON,
) -> None:
    """Hand the item to an admin."""
    _decide("escalate", review_id, key, reason, comment, as_json)


@app.command()
def codes() -> None:
    """The reason codes each decision takes."""
    from gateway.review.models import REASON_CODES

    for kind, allowed in REASON_CODES.items():
        typer.echo(f"{kind}: {', '.join(c.value for c in allowed)}")


@app.command()
def assign(
    reviewer_key_id: str,
    tenant: str,
    key: str | None = _KEY,
    remove: bool = typer.Option(False, "--remove", help="Take the assignment away"),
) -> None:
    """(admin) Let a reviewer key work a tenant's queue."""
    state, me = _open(key)
    try:
        if remove:
            done = state.review_queue.assignments.unassign(me, reviewer_key_id, tenant)
            typer.echo(f"{reviewer_key_id} {'no longer reviews' if done else 'was not assigned to'} {tenant}")
        else:
            state.review_queue.assignments.assign(me, reviewer_key_id, tenant)
            typer.echo(f"{reviewer_key_id} now reviews {tenant}")
    finally:
        state.close()


@app.command()
def webhook(
    tenant: str,
    url: str | None = typer.Argument(None, help="https URL (omit with --remove)"),
    secret: str | None = typer.Option(
        None, "--secret", help="HMAC key, 16+ characters (default: ASSAY_WEBHOOK_SECRET)", show_default=False
    ),
    remove: bool = typer.Option(False, "--remove"),
    key: str | None = _KEY,
) -> None:
    """(admin) Set or remove a tenant's decision webhook."""
    from core.errors import Forbidden
    from gateway.auth import Role

    state, me = _open(key)
    try:
        if me.role is not Role.ADMIN:
            raise Forbidden("only an admin sets webhooks")
        if remove:
            state.review_queue.webhooks.remove(tenant)
            typer.echo(f"webhook of {tenant} removed")
            return
        if not secret and state.settings.webhook_secret is not None:
            secret = state.settings.webhook_secret.get_secret_value()
        if not url or not secret:
            raise InvalidRequest("give the URL and --secret (or --remove)", param="url")
        state.review_queue.webhooks.set(tenant, url, secret)
        typer.echo(f"webhook of {tenant}: {url}")
    finally:
        state.close()
