"""The moderator page at ``/review``: server-rendered (Jinja2 templates shipped in the package), no CDN.

Flow: sign in with a reviewer key -> a session cookie (HttpOnly, SameSite=Strict; Secure over HTTPS)
-> the queue (filters, counts per state, overdue) -> an item: the held image with the checks' boxes
drawn over it, the prompt with the matched spans highlighted, near-duplicate matches with their
distance and source, the policy rule that fired, the history -> claim, approve, reject, escalate.
Keyboard: a approve, r reject, c claim, e escalate, n next (``static/review.js``).

Every state-changing form carries the session's CSRF token and is refused (403) without it. The
read-only filter form is a GET and carries none (a token in a URL would leak into logs). Pages send
a strict Content-Security-Policy (no inline script or style), ``no-store`` and ``frame-ancestors
'none'``. All actions go through :class:`gateway.review.queue.ReviewQueue`, so the page enforces
exactly the API's rules (tenants, four-eyes, requesters) and every action reaches the ledger.
"""

from __future__ import annotations

import functools
import inspect
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError

from core.errors import AssayError, AuthError, Forbidden, InvalidRequest, NotFound
from gateway.api.deps import StateDep
from gateway.auth import Role
from gateway.review import evidence
from gateway.review.i18n import LANG_COOKIE, LANGS, Translator, pick_lang
from gateway.review.models import REASON_CODES, CaseDecisionIn, DecisionIn, QueueFilter, ReviewState
from gateway.review.queue import ReviewQueue
from gateway.review.sessions import COOKIE, LOGIN_CSRF_COOKIE, SESSION_TTL, PageSession, PageSessions, csrf_ok
from gateway.state import AppState
from safety.registry import BUILTIN_CHECKS, describe_verdict
from safety.verdict import Category, TargetKind

router = APIRouter(prefix="/review", include_in_schema=False)

_PKG = Path(__file__).resolve().parent.parent / "review"
_ENV = Environment(
    loader=FileSystemLoader(str(_PKG / "templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
_STATIC = {"review.css": "text/css; charset=utf-8", "review.js": "text/javascript; charset=utf-8"}
_CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
_ACTIONS = ("claim", "unclaim", "approve", "reject", "escalate", "comment", "decide")
_DONE = {
    "claim": "done_claimed",
    "unclaim": "done_unclaimed",
    "approve": "done_approved",
    "reject": "done_rejected",
    "escalate": "done_escalated",
    "comment": "done_commented",
    "approved_first": "done_approved_first",
    "no_next": "no_next",
}
_STATE_CHOICES = ["open", "pending", "claimed", "escalated", "approved", "rejected", "all"]


def _sessions(state: AppState) -> PageSessions:
    return PageSessions(state.db, state.keys)


def _queue(state: AppState) -> ReviewQueue:
    return state.review_queue


def _lang(request: Request) -> str:
    return pick_lang(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def _local(path: str | None) -> str:
    """A redirect target inside the page only (no open redirects)."""
    if not path or not path.startswith("/review") or "//" in path or "\\" in path:
        return "/review/queue"
    return path


def _render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    t0 = time.perf_counter()
    lang = _lang(request)
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    html = _ENV.get_template(name).render(t=Translator(lang), lang=lang, back=back, **ctx)
    resp = HTMLResponse(html, status_code=status, headers=_HEADERS)
    started = getattr(request.state, "t0", t0)
    resp.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return resp


def _secure(request: Request, state: AppState) -> bool:
    """Mark cookies Secure over HTTPS, also behind a TLS-terminating proxy that the public URL names."""
    return request.url.scheme == "https" or (state.settings.public_base_url or "").startswith("https://")


def _to_login() -> RedirectResponse:
    return RedirectResponse("/review/login", status_code=303, headers=_HEADERS)


def _error(request: Request, exc: AssayError, session: PageSession | None = None) -> HTMLResponse:
    status = exc.status if 400 <= exc.status < 600 else 500
    return _render(
        request,
        "error.html",
        status=status,
        message=exc.message,
        hint=exc.hint,
        me=session.principal if session else None,
        csrf=session.csrf if session else "",
    )


def page(handler: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
    """Resolve the session (or redirect to the login), render Assay errors as an HTML page."""

    @functools.wraps(handler)
    async def wrapped(request: Request, state: StateDep, **kw: Any) -> Response:
        request.state.t0 = time.perf_counter()
        session = await run_in_threadpool(_sessions(state).resolve, request.cookies.get(COOKIE))
        if session is None:
            return _to_login()
        try:
            return await handler(request, state, session, **kw)
        except AssayError as exc:
            return _error(request, exc, session)

    # FastAPI reads the endpoint's parameters: hide ``session`` (it is not a request parameter)
    sig = inspect.signature(handler)
    wrapped.__signature__ = sig.replace(parameters=[p for n, p in sig.parameters.items() if n != "session"])  # type: ignore[attr-defined]
    return wrapped


async def _form(request: Request) -> dict[str, str]:
    try:
        form = await request.form(max_files=0, max_fields=20)
    except Exception as exc:  # noqa: BLE001 - starlette raises several parse errors
        raise InvalidRequest(f"cannot read the form: {exc}") from exc
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _require_csrf(session: PageSession, form: dict[str, str]) -> None:
    if not csrf_ok(session.csrf, form.get("csrf")):
        raise Forbidden("the form's security token is missing or wrong; reload the page and try again")


# --- static files, language, login ---------------------------------------------------------------
_FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" '
    b'fill="#1d5fd1"/><path d="M4 8.5l2.5 2.5L12 5" stroke="#fff" stroke-width="2" fill="none"/></svg>'
)


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name == "favicon.svg":
        return Response(
            _FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
        )
    if name not in _STATIC:
        raise NotFound("no such file")
    return Response(
        (_PKG / "static" / name).read_bytes(),
        media_type=_STATIC[name],
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/lang/{code}")
async def set_lang(code: str, back: str | None = None) -> RedirectResponse:
    resp = RedirectResponse(_local(back), status_code=303)
    if code in LANGS:
        resp.set_cookie(
            LANG_COOKIE, code, max_age=365 * 86400, path="/review", samesite="strict", httponly=True
        )
    return resp


@router.get("")
async def root() -> RedirectResponse:
    return RedirectResponse("/review/queue", status_code=303)


@router.get("/login")
async def login_form(request: Request, state: StateDep) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    resp = _render(request, "login.html", csrf=token, me=None, failed=False)
    resp.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=1800,
        path="/review",
        httponly=True,
        samesite="strict",
        secure=_secure(request, state),
    )
    return resp


@router.post("/login")
async def login(request: Request, state: StateDep) -> Response:
    form = await _form(request)
    if not csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE), form.get("csrf")):
        return _error(
            request, Forbidden("the sign-in form's security token is missing or wrong; reload the page")
        )
    try:
        token, _session = await run_in_threadpool(_sessions(state).login, form.get("key", ""))
    except (AuthError, Forbidden):
        return _render(request, "login.html", status=401, csrf=form.get("csrf"), me=None, failed=True)
    resp = RedirectResponse("/review/queue", status_code=303, headers=_HEADERS)
    resp.set_cookie(
        COOKIE,
        token,
        max_age=int(SESSION_TTL.total_seconds()),
        path="/review",
        httponly=True,
        samesite="strict",
        secure=_secure(request, state),
    )
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/review")
    return resp


@router.post("/logout")
@page
async def logout(request: Request, state: StateDep, session: PageSession) -> Response:
    _require_csrf(session, await _form(request))
    await run_in_threadpool(_sessions(state).logout, request.cookies.get(COOKIE))
    resp = _to_login()
    resp.delete_cookie(COOKIE, path="/review")
    return resp


# --- the queue ---------------------------------------------------------------------------------------
@router.get("/queue")
@page
async def queue_page(request: Request, state: StateDep, session: PageSession) -> Response:
    p = request.query_params
    try:
        flt = QueueFilter(
            state=p.get("state") or "open",
            tenant=p.get("tenant") or None,
            category=p.get("category") or None,
            policy=p.get("policy") or None,
            overdue=p.get("overdue") == "1",
            mine=p.get("mine") == "1",
            offset=int(p.get("offset") or 0),
            limit=50,
        )
    except (ValidationError, ValueError) as exc:
        raise InvalidRequest(f"bad filter: {exc}") from None
    result = await run_in_threadpool(_queue(state).page, session.principal, flt)
    base = {
        k: v
        for k, v in {
            "state": flt.state,
            "tenant": flt.tenant,
            "category": flt.category,
            "policy": flt.policy,
            "overdue": "1" if flt.overdue else None,
            "mine": "1" if flt.mine else None,
        }.items()
        if v
    }

    def link(**over: Any) -> str:
        q = {**base, **{k: v for k, v in over.items() if v is not None}}
        return "/review/queue?" + urlencode(q)

    prev_link = link(offset=max(0, flt.offset - flt.limit)) if flt.offset > 0 else None
    next_link = link(offset=flt.offset + flt.limit) if flt.offset + flt.limit < result.total else None
    return _render(
        request,
        "queue.html",
        me=session.principal,
        csrf=session.csrf,
        page=result,
        flt=flt,
        states=_STATE_CHOICES,
        categories=[c.value for c in Category],
        link=link,
        prev_link=prev_link,
        next_link=next_link,
        flash=_DONE.get(p.get("done", "")),
    )


@router.get("/next")
@page
async def next_item(request: Request, state: StateDep, session: PageSession) -> Response:
    nxt = await run_in_threadpool(
        _queue(state).next_item, session.principal, request.query_params.get("after")
    )
    return RedirectResponse(
        f"/review/items/{quote(nxt)}" if nxt else "/review/queue?done=no_next", status_code=303
    )


# --- one item ----------------------------------------------------------------------------------------
def _figure(data: bytes, url: str, verdicts: list, kind: TargetKind, index: int) -> dict[str, Any]:
    # decoded as the checks saw it (EXIF orientation applied), so the boxes land where they were found
    size = evidence.decoded_size(data)
    ev = evidence.image_evidence(verdicts, kind, index, size)
    return {
        "index": index,
        "url": url,
        "w": size[0],
        "h": size[1],
        "boxes": ev.boxes,
        "findings": ev.findings,
    }


def _item_view(state: AppState, session: PageSession, review_id: str) -> dict[str, Any]:
    q = _queue(state)
    item, payload = q.payload(session.principal, review_id)
    detail = q.detail(session.principal, review_id)
    me = session.principal
    figures, inputs = [], []
    for h in payload.images:
        if h.blob and state.blobs.exists(h.blob):
            figures.append(
                _figure(
                    state.blobs.get(h.blob),
                    f"/review/items/{review_id}/images/{h.index}",
                    payload.verdicts,
                    TargetKind.OUTPUT_IMAGE,
                    h.index,
                )
            )
    for n, key in enumerate(payload.inputs):
        if key and state.blobs.exists(key):
            inputs.append(
                _figure(
                    state.blobs.get(key),
                    f"/review/items/{review_id}/inputs/{n}",
                    payload.verdicts,
                    TargetKind.INPUT_IMAGE,
                    n,
                )
            )
    st = detail.state
    requester = me.key_id in (item.requester_key_id, item.requester_user)
    mine = st is ReviewState.CLAIMED and detail.claimed_by == me.key_id
    deciders = detail.case.first_deciders if detail.case else []
    can_claim = (
        not requester
        and me.key_id not in deciders
        and st in (ReviewState.PENDING, ReviewState.ESCALATED)
        and (st is ReviewState.PENDING or me.role is Role.ADMIN)
        and detail.first_approver != me.key_id
    )
    return {
        "item": detail,
        "figures": figures,
        "inputs": inputs,
        "segments": evidence.prompt_segments(detail.prompt, payload.verdicts),
        "neardups": evidence.near_duplicates(payload.verdicts),
        # each finding in its check's own words, and what each check is (safety.registry)
        "described": [describe_verdict(v) for v in detail.verdicts],
        "check_help": {name: entry.description for name, entry in BUILTIN_CHECKS.items()},
        "mine": mine,
        "can_claim": can_claim,
        "requester": requester,
        "codes": {k: [c.value for c in v] for k, v in REASON_CODES.items()},
        "policy_digest": item.policy_digest,
    }


@router.get("/items/{review_id}")
@page
async def item_page(request: Request, state: StateDep, session: PageSession, review_id: str) -> Response:
    view = await run_in_threadpool(_item_view, state, session, review_id)
    return _render(
        request,
        "item.html",
        me=session.principal,
        csrf=session.csrf,
        flash=_DONE.get(request.query_params.get("done", "")),
        **view,
    )


def _png(data: bytes) -> Response:
    return Response(data, media_type="image/png", headers={**_HEADERS, "Cache-Control": "private, no-store"})


@router.get("/items/{review_id}/images/{index}")
@page
async def item_image(
    request: Request, state: StateDep, session: PageSession, review_id: str, index: int
) -> Response:
    return _png(await run_in_threadpool(_queue(state).held_image, session.principal, review_id, index))


@router.get("/items/{review_id}/inputs/{n}")
@page
async def item_input(
    request: Request, state: StateDep, session: PageSession, review_id: str, n: int
) -> Response:
    data = await run_in_threadpool(_queue(state).input_image, session.principal, review_id, n)
    return _png(await run_in_threadpool(evidence.as_png, data))


@router.get("/items/{review_id}/neardup/{k}")
@page
async def item_neardup(
    request: Request, state: StateDep, session: PageSession, review_id: str, k: int
) -> Response:
    def load() -> bytes:
        _item, payload = _queue(state).payload(session.principal, review_id)
        matches = evidence.near_duplicates(payload.verdicts)
        path = matches[k].path if 0 <= k < len(matches) else None
        if not path:
            raise NotFound(f"review {review_id} has no near-duplicate source {k}")
        return evidence.source_png(path)

    return _png(await run_in_threadpool(load))


@router.post("/items/{review_id}/{action}")
@page
async def act(
    request: Request, state: StateDep, session: PageSession, review_id: str, action: str
) -> Response:
    if action not in _ACTIONS:
        raise NotFound(f"no action {action!r}")
    form = await _form(request)
    _require_csrf(session, form)
    q = _queue(state)
    me = session.principal
    done = action
    if action == "claim":
        await run_in_threadpool(q.claim, me, review_id)
    elif action == "unclaim":
        await run_in_threadpool(q.unclaim, me, review_id)
    elif action == "comment":
        await run_in_threadpool(q.comment, me, review_id, form.get("comment", ""))
    elif action == "decide":  # a complaint or an appeal (gateway.review.cases)
        try:
            case_decision = CaseDecisionIn(
                outcome=form.get("outcome") or "",
                comment=form.get("comment") or None,
            )
        except ValidationError as exc:
            msg = exc.errors()[0].get("msg", "invalid decision")
            raise InvalidRequest(f"decide: {msg}", param="outcome") from None
        await run_in_threadpool(state.cases.decide, me, review_id, case_decision)
    else:
        try:
            decision = DecisionIn(
                reason_code=form.get("reason_code") or "", comment=form.get("comment") or None
            )
        except ValidationError as exc:
            msg = exc.errors()[0].get("msg", "invalid decision")
            raise InvalidRequest(f"{action}: {msg}", param="reason_code") from None
        fn = {"approve": q.approve, "reject": q.reject, "escalate": q.escalate}[action]
        detail = await run_in_threadpool(fn, me, review_id, decision)
        if action == "approve" and detail.state is not ReviewState.APPROVED:
            done = "approved_first"
    return RedirectResponse(
        f"/review/items/{quote(review_id)}?done={done}", status_code=303, headers=_HEADERS
    )
