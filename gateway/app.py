"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.plugins import import_optional
from core.settings import Settings
from gateway.api import errors as api_errors
from gateway.api.errors import error_body
from gateway.state import AppState

log = logging.getLogger("assay")

#: routers included when their module exists (capabilities add theirs here)
ROUTERS = [
    "gateway.api.health",
    "gateway.api.images",
    "gateway.api.verify",
    "gateway.api.audit",
    "gateway.api.tiles",
    "gateway.api.models",
    "gateway.api.reviews",
    "gateway.api.reports",
    "gateway.api.review_page",
    "gateway.api.verify_page",
    "gateway.api.audit_page",
]


class BodyLimit:
    """Refuses request bodies above ``limit`` bytes (413), by header and while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    too_big = int(v) > self.limit
                except ValueError:
                    too_big = False
                if too_big:
                    await self._reject(send)
                    return
        seen = 0
        sent_start = False

        async def limited() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal sent_start
            if msg["type"] == "http.response.start":
                sent_start = True
            await send(msg)

        try:
            await self.app(scope, limited, tracking_send)
        except _TooLarge:
            if not sent_start:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        resp = JSONResponse(
            error_body(413, f"request body exceeds {self.limit} bytes", code="payload_too_large"),
            status_code=413,
        )
        await resp({"type": "http"}, _empty_receive, send)


class _TooLarge(Exception):
    pass


async def _empty_receive() -> Message:  # pragma: no cover
    return {"type": "http.disconnect"}


def create_app(
    settings: Settings | None = None,
    *,
    state: AppState | None = None,
    preload: bool = False,
    **state_kwargs: Any,
) -> FastAPI:
    settings = settings or (state.settings if state else Settings())
    app_state = state or AppState(settings, **state_kwargs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if preload:
            app_state.preload()
        yield
        app_state.close()

    app = FastAPI(
        title="Assay",
        version="0.1.0",
        lifespan=lifespan,
        description="Compliance and provenance gateway for AI image generation.",
    )
    app.state.assay = app_state
    api_errors.install(app)
    for name in ROUTERS:
        module = import_optional(name)
        if module is not None:
            app.include_router(module.router)

    @app.middleware("http")
    async def count(request, call_next):  # noqa: ANN001, ANN202
        response = await call_next(request)
        route = request.scope.get("route")
        app_state.metrics.requests.labels(
            getattr(route, "path", "unmatched"), request.method, str(response.status_code)
        ).inc()
        return response

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app
