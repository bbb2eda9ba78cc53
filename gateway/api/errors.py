"""The one boundary where Assay errors become HTTP responses (OpenAI-style error bodies).

``{"error": {"message", "type", "param", "code"}, "assay": {...}}``: the official openai client
reads the first part; the ``assay`` part carries the record id, categories and reasons.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import AssayError, Overloaded, RateLimited

log = logging.getLogger("assay.api")

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
}


def error_body(
    status: int, message: str, *, code: str, param: str | None = None, extra: dict | None = None
) -> dict:
    body = {
        "error": {
            "message": message,
            "type": _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error"),
            "param": param,
            "code": code,
        }
    }
    if extra:
        body["assay"] = extra
    return body


def assay_error_response(exc: AssayError) -> JSONResponse:
    extra = dict(exc.details)
    if exc.hint:
        extra["hint"] = exc.hint
    record_id = getattr(exc, "record_id", None)
    if record_id:
        extra["record_id"] = record_id
    stage = getattr(exc, "stage", None)
    if stage:
        extra["stage"] = stage
    headers = {}
    retry_after = _retry_after(exc)
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, int(retry_after + 0.999)))
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(
        error_body(exc.status, exc.message, code=exc.code, param=exc.param, extra=extra or None),
        status_code=exc.status,
        headers=headers,
    )


def _retry_after(exc: AssayError) -> float | None:
    """Seconds after which a retry may succeed: a rate limit's or an overload's (also when the
    pipeline has wrapped it, after recording it, in its ``cause``)."""
    for err in (exc, getattr(exc, "cause", None)):
        if isinstance(err, (RateLimited, Overloaded)):
            return float(err.retry_after)
    return None


def install(app: FastAPI) -> None:
    @app.exception_handler(AssayError)
    async def _assay(_req: Request, exc: AssayError) -> JSONResponse:
        if exc.status >= 500:
            log.warning("%s: %s", exc.code, exc.message)
        return assay_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        first = errs[0] if errs else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header", "form")]
        msg = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
            for e in errs[:5]
        )
        return JSONResponse(
            error_body(400, msg, code="invalid_request", param=".".join(loc) or None), status_code=400
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(exc.status_code, str(exc.detail), code="http_error"),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(_req: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body(500, "internal error", code="internal_error"), status_code=500)
