"""FastAPI dependencies as ``Annotated`` aliases: the app state, the caller, role checks, limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from core.errors import AuthError, Forbidden
from gateway.auth import Principal, Role
from gateway.ratelimit import RateLimiter, limits_from_settings
from gateway.state import AppState


def get_state(request: Request) -> AppState:
    return request.app.state.assay


StateDep = Annotated[AppState, Depends(get_state)]


def get_principal(request: Request, state: StateDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("missing API key", hint="send 'Authorization: Bearer <key>'")
    principal = state.keys.authenticate(token)
    request.state.principal = principal
    RateLimiter(state.db).charge(principal.key_id, limits_from_settings(state.settings)[0])
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role):  # noqa: ANN201 - returns a dependency
    allowed = set(roles) | {Role.ADMIN}

    def dep(principal: PrincipalDep) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(
                f"role {principal.role.value} may not do this; needs one of "
                f"{', '.join(sorted(r.value for r in allowed))}"
            )
        return principal

    return dep


def requester_within_quota(
    principal: Annotated[Principal, Depends(require_roles(Role.REQUESTER))], state: StateDep
) -> Principal:
    """A requester (generations, edits), charged one request against the key's daily quota."""
    RateLimiter(state.db).charge(principal.key_id, limits_from_settings(state.settings)[1])
    return principal


RequesterDep = Annotated[Principal, Depends(requester_within_quota)]
ReviewerDep = Annotated[Principal, Depends(require_roles(Role.REVIEWER))]
AuditorDep = Annotated[Principal, Depends(require_roles(Role.AUDITOR))]
AdminDep = Annotated[Principal, Depends(require_roles())]
