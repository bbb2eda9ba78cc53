"""One error hierarchy for the whole gateway.

Every failure Assay can name is an :class:`AssayError`. Library code (``safety``, ``provenance``,
``models``) raises these; only ``gateway`` translates them, at one boundary, to HTTP responses
(:mod:`gateway.api.errors`) and CLI exit codes (:mod:`gateway.cli.main`). Each error carries a
stable machine ``code``, the HTTP ``status`` it maps to, and ``diagnostics()`` text that says what
went wrong and what to do about it.
"""

from __future__ import annotations

from typing import Any


class AssayError(Exception):
    """Root of every error Assay raises on purpose."""

    code: str = "assay_error"
    status: int = 500
    #: CLI exit code: 1 = blocked or a failed check, 2 = usage / bad input.
    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        param: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.param = param
        self.details = details or {}

    def diagnostics(self) -> str:
        text = self.message
        if self.param:
            text = f"{text} (field: {self.param})"
        if self.hint:
            text = f"{text}\nhint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.param:
            out["param"] = self.param
        if self.hint:
            out["hint"] = self.hint
        if self.details:
            out["details"] = self.details
        return out


# --- bad input (4xx, exit 2) -------------------------------------------------------------------
class InvalidRequest(AssayError):
    """The caller sent something Assay will not process; nothing was generated or stored half-way."""

    code = "invalid_request"
    status = 400
    exit_code = 2


class PayloadTooLarge(InvalidRequest):
    code = "payload_too_large"
    status = 413


class UnsupportedMedia(InvalidRequest):
    code = "unsupported_media"
    status = 415


class ImageDecodeError(InvalidRequest):
    """An uploaded or supplied image could not be decoded safely (corrupt, bomb, wrong format)."""

    code = "invalid_image"
    status = 400


class UnknownModel(InvalidRequest):
    code = "model_not_found"
    status = 404


class PolicyError(AssayError):
    """A policy file is malformed, names an unknown key, or has a bad value. Names file, key, line."""

    code = "invalid_policy"
    status = 500
    exit_code = 2


class ConfigError(AssayError):
    """Settings or on-disk configuration (certificates, keys, index files) are unusable."""

    code = "configuration_error"
    status = 500
    exit_code = 2


class NotFound(AssayError):
    code = "not_found"
    status = 404
    exit_code = 2


# --- auth --------------------------------------------------------------------------------------
class AuthError(AssayError):
    code = "invalid_api_key"
    status = 401
    exit_code = 2


class Forbidden(AssayError):
    code = "forbidden"
    status = 403
    exit_code = 2


class Gone(AssayError):
    """The thing existed but was withdrawn on purpose (an upheld complaint): it will not come back."""

    code = "content_withdrawn"
    status = 410
    exit_code = 2


class RateLimited(AssayError):
    code = "rate_limit_exceeded"
    status = 429

    def __init__(self, message: str, *, retry_after: float, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


# --- policy outcomes ---------------------------------------------------------------------------
class ContentBlocked(AssayError):
    """The policy blocked the request or every output. Carries the decision (categories, reasons)."""

    code = "content_policy_violation"
    status = 400
    exit_code = 1


# --- failures of a component (fail closed: 5xx, exit 1) ----------------------------------------
class ComponentError(AssayError):
    """A component the pipeline depends on failed; the gateway failed closed and released nothing."""

    code = "component_failure"
    status = 503


class CheckFailed(ComponentError):
    code = "check_failed"


class BackendError(ComponentError):
    code = "backend_error"
    status = 502


class BackendTimeout(BackendError):
    code = "backend_timeout"
    status = 504


class Overloaded(ComponentError):
    """Refused before any work: the model's queue is full, the expected wait exceeds the request's
    deadline, the tenant is at its share, or the upstream is refusing (circuit open, 429/503).
    Retryable: ``retry_after`` (seconds) goes out as the ``Retry-After`` header."""

    code = "overloaded"
    status = 503
    component = "admission"

    def __init__(self, message: str, *, retry_after: float, reason: str = "overloaded", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        self.reason = reason


class MarkError(ComponentError):
    code = "mark_failed"


class SigningError(MarkError):
    code = "signing_failed"


class StoreError(ComponentError):
    code = "store_unavailable"


class IntegrityError(AssayError):
    """Verification of stored evidence (ledger, checkpoint, manifest) found a disagreement."""

    code = "integrity_failure"
    status = 500
    exit_code = 1
