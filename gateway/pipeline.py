"""The pipeline: what happens to one generation request, top to bottom.

    validate ─► prompt checks ─► input-image checks ─► decide ─► backend ─► output-image checks
             ─► decide per image (allow / review / block) ─► marks ─► store ─► ledger ─► release

Read it in that order: :meth:`Pipeline.run` is the whole story, each stage is one method below it.

Two rules hold everywhere:

* **Fail closed.** An exception in a check, the backend, a mark or the store releases no image.
  The caller gets a clear error and, where the store is reachable, a ``failed`` record names the
  stage and the error.
* **Nothing leaves without its record.** Image bytes are returned only after the ledger append
  for this generation has succeeded; the released-image index rows that ``verify`` searches are
  written in that append's transaction, so no image is indexed without its record.

The pipeline is built from explicit collaborators (a policy source, the backend, the checks, the
release stage, the metrics), so a test builds it on fakes alone. It returns held outputs; the
caller hands them to the review queue (:meth:`gateway.state.AppState.generate`). Imports run down
only: :mod:`gateway.release`, :mod:`gateway.decision`, :mod:`gateway.policy` and the floors below;
never :mod:`gateway.state` or :mod:`gateway.review`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from sqlmodel import SQLModel
from ulid import ULID

from core.deadline import Deadline
from core.errors import (
    AssayError,
    BackendTimeout,
    ComponentError,
    ContentBlocked,
    InvalidRequest,
    Overloaded,
    PayloadTooLarge,
)
from core.images import DecodeLimits, decode_image
from gateway.admission import Admission, request_cost
from gateway.auth import Principal
from gateway.decision import combine, decide
from gateway.metrics import Metrics
from gateway.people import perceived_people
from gateway.policy import AdmissionRules, Policy
from gateway.release import (
    OutputImage,
    Release,
    ReleaseJob,
    Stages,
    content_id,
    recorded,
    redacted,
    stored_prompt,
)
from models.base import Backend, GenerationMode, GenerationRequest, GenerationResult, ModelInfo, check_result
from provenance.ledger import LedgerRecord, prompt_sha256
from provenance.ledger.bodies import ControlFacts, ErrorFacts, GenerationBody, GenerationStatus, RequestFacts
from safety.check import Check
from safety.redaction import PromptRedactor, describe, frames
from safety.runner import CheckRunner
from safety.verdict import Action, Decision, TargetKind, Verdict

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

log = logging.getLogger("assay.pipeline")


# --- what goes in and what comes out -------------------------------------------------------------
@dataclass
class Upload:
    """Raw bytes of an uploaded image, decoded by the pipeline under the policy's limits."""

    data: bytes
    name: str = "image"


@dataclass
class PipelineRequest:
    prompt: str
    principal: Principal
    n: int = 1
    size: str | None = None
    seed: int | None = None
    steps: int | None = None
    guidance: float | None = None
    negative_prompt: str | None = None
    images: list[Upload] = field(default_factory=list)  # edits: the input image(s)
    mask: Upload | None = None
    strength: float = 0.75
    #: a control input (ControlNet, T2I-Adapter, the built-in model's layout): checked as an input image
    control: Upload | None = None
    control_type: str | None = None
    control_strength: float = 1.0
    output_format: str = "png"
    user: str | None = None  # the end user on whose behalf the tenant calls (OpenAI `user`)
    policy_override: Policy | None = None  # CLI: --policy FILE

    @property
    def mode(self) -> GenerationMode:
        if not self.images:
            return GenerationMode.TXT2IMG
        return GenerationMode.INPAINT if self.mask is not None else GenerationMode.IMG2IMG


@dataclass
class PipelineResult:
    record_id: str
    status: GenerationStatus  # released | held | blocked
    decision: Decision
    images: list[OutputImage]
    model: ModelInfo | None
    policy: Policy
    verdicts: list[Verdict]
    timings: dict[str, float]
    created_at: datetime
    review_id: str | None = None

    @property
    def released(self) -> list[OutputImage]:
        return [im for im in self.images if im.action is Action.ALLOW]

    @property
    def held(self) -> list[OutputImage]:
        return [im for im in self.images if im.action is Action.REVIEW]


class GenerationFailed(ComponentError):
    """Wraps a stage failure after it has been recorded; carries the record id of the failure."""

    def __init__(self, cause: AssayError, record_id: str | None, stage: str) -> None:
        super().__init__(cause.message, hint=cause.hint, param=cause.param, details=cause.details)
        self.cause = cause
        self.code = cause.code
        self.status = cause.status
        self.exit_code = cause.exit_code
        self.record_id = record_id
        self.stage = stage


# --- what the pipeline is built from ---------------------------------------------------------------
#: the policy of a tenant (``AppState.policy_for``)
PolicySource = Callable[[str], Policy]
#: the backend, looked up on each call (the gateway loads its model on first use)
BackendSource = Callable[[], Backend]


class CheckSource(Protocol):
    """Where the checks come from (the process's :class:`safety.registry.CheckRegistry`)."""

    def get(self, name: str) -> Check: ...


# --- the pipeline ---------------------------------------------------------------------------------
class Pipeline:
    """One generation request, top to bottom, on explicit collaborators (no gateway state).

    ``policies`` gives a tenant's policy, ``backend`` the model, ``checks`` the checks; ``release``
    marks, stores and records (:mod:`gateway.release`); ``metrics`` counts. ``admission``
    (:mod:`gateway.admission`) gives each call its slot on the model; the backend runs on
    ``backend_pool`` within ``backend_timeout_s()`` seconds, ``default_steps()`` estimates a
    request's cost where it names no steps (both read on each call). Held outputs are returned,
    not queued: the caller hands them to the review queue.
    """

    def __init__(
        self,
        *,
        policies: PolicySource,
        backend: BackendSource,
        checks: CheckSource,
        release: Release,
        metrics: Metrics,
        admission: Admission,
        backend_pool: Executor,
        backend_timeout_s: Callable[[], float],
        default_steps: Callable[[], int | None],
    ) -> None:
        self.policies = policies
        self.backend = backend
        # the registry is looked up on each call: a test or an embedding application may add
        # checks to it after the pipeline was built
        self.checks = CheckRunner(checks.get, on_latency=metrics.check_latency)
        self.release = release
        self.metrics = metrics
        self.admission = admission
        self.backend_pool = backend_pool
        self.backend_timeout_s = backend_timeout_s
        self.default_steps = default_steps

    def close(self) -> None:
        self.checks.close()

    # The whole story -------------------------------------------------------------------------
    def run(self, req: PipelineRequest) -> PipelineResult:
        record_id = str(ULID())
        created = datetime.now(UTC)
        policy = req.policy_override or self.policies(req.principal.tenant)
        verdicts: list[Verdict] = []
        ctx = _RunContext(
            record_id=record_id,
            created=created,
            policy=policy,
            req=req,
            stages=Stages(self.metrics),
            verdicts=verdicts,
        )
        timings = ctx.stages.timings
        try:
            with self._stage(ctx, "admission"):  # refused here, before any work, if it cannot be served
                self.admit(req, policy)
            with self._stage(ctx, "validate"):
                gen_req, inputs = self.validate(req, policy)
            with self._stage(ctx, "prompt_checks"):
                verdicts += self.check_prompt(req, policy)
            with self._stage(ctx, "input_checks"):
                # the control image is one more input image: the same checks, verdicts on input
                # image len(inputs) (the record's request.control names that index)
                checked = inputs + ([gen_req.control_image] if gen_req.control_image is not None else [])
                verdicts += self.check_images(checked, TargetKind.INPUT_IMAGE, req, policy)
            before = decide(verdicts, policy)
            if before.action is Action.BLOCK:
                self.record(ctx, decision=before, status=GenerationStatus.BLOCKED)
                raise ContentBlocked(
                    f"request blocked by policy {policy.id}: {before.explain()}",
                    details={
                        "record_id": record_id,
                        "categories": before.categories,
                        "reasons": [r.model_dump(mode="json") for r in before.reasons],
                    },
                )
            with self._stage(ctx, "backend"):
                result = self.generate(gen_req, tenant=req.principal.tenant, policy=policy)
            ctx.model = result.model
            timings["backend_s"] = result.elapsed_s
            with self._stage(ctx, "output_checks"):
                out_verdicts = self.check_images(result.images, TargetKind.OUTPUT_IMAGE, req, policy)
                # bias monitoring: perceived attributes of the faces image.faces found (gateway.people)
                people = perceived_people(result.images, out_verdicts, policy, req.prompt)
            verdicts += out_verdicts
            outputs = self.decide_outputs(record_id, result.images, out_verdicts, before, policy)
            for out in outputs:
                out.people = people.get(out.index)
            job = ReleaseJob(
                record_id=record_id,
                created=created,
                tenant=req.principal.tenant,
                policy=policy,
                model=result.model,
                output_format=req.output_format,
                verdicts=ctx.verdicts,
                prompt=req.prompt,
                negative_prompt=req.negative_prompt,
                edit=req.mode is not GenerationMode.TXT2IMG,
                input_image=inputs[0] if inputs else None,
                control_image=gen_req.control_image,
                control_type=gen_req.control_type,
            )
            with self._stage(ctx, "marks"):
                self.release.mark(job, outputs, result.images)
            with self._stage(ctx, "store"):
                ctx.index_rows = self.release.store(job, outputs, result.images)
            decision = combine([o.decision for o in outputs])  # each already includes `before`
            status = (
                GenerationStatus.RELEASED
                if any(o.action is Action.ALLOW for o in outputs)
                else GenerationStatus.HELD
                if any(o.action is Action.REVIEW for o in outputs)
                else GenerationStatus.BLOCKED
            )
            ctx.outputs = outputs
            with self._stage(ctx, "ledger"):
                self.record(ctx, decision=decision, status=status)
        except ContentBlocked:
            raise
        except GenerationFailed:
            raise
        except AssayError as exc:
            raise self._fail(ctx, exc) from exc
        except Exception as exc:  # noqa: BLE001 - anything unforeseen fails closed, recorded
            # the traceback's frames and a redacted message: the exception's own text may quote the prompt
            log.error(
                "pipeline stage %s raised %s\n%s", ctx.stage, describe(exc, _redactor(req)), frames(exc)
            )
            err = ComponentError(f"internal failure in stage {ctx.stage}: {exc.__class__.__name__}")
            err.__cause__ = exc  # the record's error type names the class that failed
            raise self._fail(ctx, err) from exc
        self.metrics.decision(status, decision.categories)
        result_obj = PipelineResult(
            record_id=record_id,
            status=status,
            decision=decision,
            images=outputs,
            model=result.model,
            policy=policy,
            verdicts=list(verdicts),
            timings=dict(timings),
            created_at=created,
        )
        if status is GenerationStatus.BLOCKED:
            raise ContentBlocked(
                f"every output was blocked by policy {policy.id}: {decision.explain()}",
                details={
                    "record_id": record_id,
                    "categories": decision.categories,
                    "reasons": [r.model_dump(mode="json") for r in decision.reasons],
                },
            )
        return result_obj

    # Stage 1: validate the request against the policy's limits and decode uploads -------------
    def validate(self, req: PipelineRequest, policy: Policy) -> tuple[GenerationRequest, list[Image.Image]]:
        lim = policy.limits
        if not isinstance(req.prompt, str) or not req.prompt.strip():
            raise InvalidRequest("prompt is empty", param="prompt")
        if len(req.prompt) > lim.max_prompt_chars:
            raise InvalidRequest(
                f"prompt has {len(req.prompt)} characters; policy {policy.id} allows {lim.max_prompt_chars}",
                param="prompt",
            )
        if _CONTROL.search(req.prompt):
            raise InvalidRequest("prompt contains control characters", param="prompt")
        try:
            req.prompt.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequest(
                "prompt is not valid Unicode text (lone surrogates)", param="prompt"
            ) from None
        if not 1 <= req.n <= lim.max_n:
            raise InvalidRequest(
                f"n={req.n} is outside 1..{lim.max_n} allowed by policy {policy.id}", param="n"
            )
        size = req.size or lim.default_size
        if size not in lim.sizes:
            raise InvalidRequest(
                f"size {size!r} is not allowed by policy {policy.id}",
                param="size",
                hint=f"allowed sizes: {', '.join(lim.sizes)}",
            )
        width, height = (int(x) for x in size.split("x"))
        if req.output_format not in ("png", "jpeg", "webp"):
            raise InvalidRequest(
                f"output_format {req.output_format!r} is not png, jpeg or webp", param="output_format"
            )
        if not 0.0 < req.strength <= 1.0:
            raise InvalidRequest("strength must be in (0, 1]", param="strength")
        if req.steps is not None and not 1 <= req.steps <= 150:
            raise InvalidRequest("steps must be in 1..150", param="steps")
        if req.guidance is not None and not 0.0 <= req.guidance <= 50.0:
            raise InvalidRequest("guidance must be in 0..50", param="guidance")
        limits = DecodeLimits(
            max_bytes=lim.max_upload_bytes,
            max_pixels=lim.max_input_pixels,
            max_side=lim.max_input_side,
            animated=lim.animated,
        )
        if len(req.images) > 1:
            raise InvalidRequest("one input image per edit is supported", param="image")
        inputs = []
        for i, up in enumerate(req.images):
            if len(up.data) > lim.max_upload_bytes:
                raise PayloadTooLarge(
                    f"{up.name}: {len(up.data)} bytes exceeds policy {policy.id}'s limit of "
                    f"{lim.max_upload_bytes} bytes",
                    param="image",
                )
            inputs.append(decode_image(up.data, limits=limits, name=up.name or f"image[{i}]"))
        mask = decode_image(req.mask.data, limits=limits, name="mask", mode="L") if req.mask else None
        control = self._control(req, policy, limits)
        gen = GenerationRequest(
            prompt=req.prompt,
            width=width,
            height=height,
            n=req.n,
            seed=req.seed,
            steps=req.steps,
            guidance=req.guidance,
            negative_prompt=req.negative_prompt,
            mode=req.mode,
            image=inputs[0] if inputs else None,
            mask=mask,
            strength=req.strength,
            control_image=control,
            control_type=req.control_type if control is not None else None,
            control_strength=req.control_strength,
        )
        self.backend().check_request(gen)
        return gen, inputs

    def _control(self, req: PipelineRequest, policy: Policy, limits: DecodeLimits) -> Image.Image | None:
        """The control image, decoded under the same limits as an edit's input; its type named."""
        if req.control is None:
            if req.control_type is not None:
                raise InvalidRequest(
                    f"control_type {req.control_type!r} needs a control_image", param="control_image"
                )
            return None
        served = list(getattr(self.backend(), "control_types", []) or [])
        if not req.control_type:
            raise InvalidRequest(
                "a control_image needs a control_type",
                param="control_type",
                hint=f"this model serves: {', '.join(served) or 'no control types'}",
            )
        if req.control_type not in served:  # fail closed: a backend that cannot control never ignores it
            raise InvalidRequest(
                f"model {self.backend().info.model_id} has no {req.control_type} control",
                param="control_type",
                hint=f"control types served: {', '.join(served) or 'none'} (GET /v1/models)",
            )
        if not 0.0 <= req.control_strength <= 2.0:
            raise InvalidRequest("control_strength must be in 0..2", param="control_strength")
        lim = policy.limits
        if len(req.control.data) > lim.max_upload_bytes:
            raise PayloadTooLarge(
                f"control_image: {len(req.control.data)} bytes exceeds policy {policy.id}'s limit of "
                f"{lim.max_upload_bytes} bytes",
                param="control_image",
            )
        return decode_image(req.control.data, limits=limits, name="control_image")

    # Stage 2: the prompt ----------------------------------------------------------------------
    def check_prompt(self, req: PipelineRequest, policy: Policy) -> list[Verdict]:
        return self.checks.run_prompt(policy.checks.prompt, req.prompt, tenant=req.principal.tenant)

    # Stages 3 and 5: images, all (check, image) pairs concurrently -----------------------------
    def check_images(
        self, images: list[Image.Image], kind: TargetKind, req: PipelineRequest, policy: Policy
    ) -> list[Verdict]:
        return self.checks.run_images(
            policy.checks.for_target(kind),
            images,
            kind,
            tenant=req.principal.tenant,
            context_prompt=req.prompt,
        )

    # Stage 0: admission (gateway.admission): refuse early what the model cannot serve in time ------
    def admit(self, req: PipelineRequest, policy: Policy) -> None:
        deadline = Deadline(self.backend_timeout_s())
        self.admission.precheck(
            req.principal.tenant, policy.admission, deadline, self._cost(req.n, req.size, req.steps, policy)
        )

    def _cost(self, n: int, size: str | None, steps: int | None, policy: Policy) -> float:
        try:
            w, h = (int(x) for x in (size or policy.limits.default_size).split("x"))
        except ValueError:  # validate() names the bad size; admission only estimates
            w, h = 512, 512
        default_steps = getattr(self.backend(), "default_steps", None) or self.default_steps()
        return request_cost(n if isinstance(n, int) else 1, w, h, steps, default_steps)

    # Stage 4: the backend, with a deadline that travels into it -------------------------------
    def generate(
        self, gen: GenerationRequest, *, tenant: str = "", policy: Policy | None = None
    ) -> GenerationResult:
        """Wait for a slot on the model (fairly, bounded: gateway.admission), then run the backend
        under the request's deadline. On a timeout the deadline is cancelled, so the backend stops at
        its next step (or its HTTP call ends) instead of holding the model; the slot is freed when
        the backend has actually returned."""
        timeout = self.backend_timeout_s()
        deadline = gen.deadline = Deadline(timeout)
        rules = policy.admission if policy is not None else AdmissionRules()
        cost = request_cost(
            gen.n, gen.width, gen.height, gen.steps, getattr(self.backend(), "default_steps", None)
        )
        ticket = self.admission.acquire(tenant, rules, deadline, cost)
        try:
            fut = self.backend_pool.submit(ticket.run, self.backend().generate, gen)
        except BaseException:
            ticket.release()
            raise
        try:
            result = fut.result(timeout=deadline.remaining())
        except FutureTimeout as exc:
            deadline.cancel(f"the model did not answer within {timeout:.0f} s")
            self.metrics.cancelled("timeout")
            raise BackendTimeout(f"the model did not answer within {timeout:.0f} s") from exc
        except BackendTimeout:
            self.metrics.cancelled("timeout")
            raise
        check_result(gen, result)
        return result

    # Stage 6: one decision per output image ---------------------------------------------------
    def decide_outputs(
        self,
        record_id: str,
        images: list[Image.Image],
        verdicts: list[Verdict],
        before: Decision,
        policy: Policy,
    ) -> list[OutputImage]:
        outputs = []
        for i, _img in enumerate(images):
            own = [v for v in verdicts if v.target.index == i]
            d = combine([before, decide(own, policy)])
            outputs.append(
                OutputImage(index=i, content_id=content_id(record_id, i), action=d.action, decision=d)
            )
        return outputs

    # Stages 7 and 8, marks and store: :class:`gateway.release.Release` (shared with the review queue)

    # Stage 9: the record -------------------------------------------------------------------------
    def record(
        self,
        ctx: _RunContext,
        *,
        decision: Decision,
        status: GenerationStatus,
        error: AssayError | None = None,
    ) -> str:
        req, policy = ctx.req, ctx.policy
        prompt_text = stored_prompt(req.prompt, policy, ctx.verdicts) if _digest_or_none(req.prompt) else None
        body = GenerationBody(
            status=status,
            request=RequestFacts(
                mode=req.mode,
                n=req.n,
                size=req.size or policy.limits.default_size,
                seed=req.seed,
                steps=req.steps,
                guidance=req.guidance,
                inputs=[hashlib.sha256(u.data).hexdigest() for u in req.images],
                prompt_storage=policy.prompt_storage.mode,
                control=_control_facts(req, policy),
            ),
            decision=decision,
            verdicts=ctx.verdicts,
            model=ctx.model,
            outputs=[recorded(o) for o in ctx.outputs],
            unsafe_allow_unmarked=policy.unsafe_allow_unmarked,
            timings_ms={k: round(v * 1000, 2) for k, v in ctx.timings.items()},
            key_id=req.principal.key_id,
            # the message is the redacted one (see _fail)
            error=(
                ErrorFacts(stage=ctx.stage, code=error.code, type=_error_type(error), message=error.message)
                if error is not None
                else None
            ),
        )
        rec = LedgerRecord(
            record_id=ctx.record_id,
            kind="generation",
            tenant=req.principal.tenant,
            requester=req.user or req.principal.key_id,
            prompt=prompt_text,
            prompt_digest=_digest_or_none(req.prompt),
            decision=(
                status.value
                if status in (GenerationStatus.FAILED, GenerationStatus.INVALID, GenerationStatus.REFUSED)
                else decision.action.value
            ),
            categories=sorted({v.category.value for v in ctx.verdicts}),
            model_id=ctx.model.model_id if ctx.model else None,
            policy_id=policy.id,
            policy_digest=policy.digest,
            created_at=ctx.created,
            body=body.to_body(),
        )
        # the released-image index rows go in with the record (one transaction): a crash between
        # the two cannot leave an indexed image without its record
        self.release.record(rec, ctx.index_rows)
        return ctx.record_id

    # Failure path -------------------------------------------------------------------------------
    def _fail(self, ctx: _RunContext, exc: AssayError) -> GenerationFailed:
        """Record the failure (when the store is reachable) and return the error to raise.

        The message that goes into the record, the logs and the response has the prompt taken out:
        an error raised by a component may quote its input, and the policy may allow only a digest.
        """
        exc = redacted(exc, _redactor(ctx.req))
        status = (
            GenerationStatus.INVALID
            if isinstance(exc, InvalidRequest)
            else GenerationStatus.REFUSED
            if isinstance(exc, Overloaded)
            else GenerationStatus.FAILED
        )
        self.metrics.decision(status, [])
        ctx.index_rows = []
        recorded: str | None = None
        # tried even after a failed ledger append: the store may answer again, and a record id is
        # unique, so an append that did land cannot be doubled
        ctx.outputs = []  # nothing was released: the failure record lists no outputs
        try:
            self.record(ctx, decision=Decision(action=Action.BLOCK), status=status, error=exc)
            recorded = ctx.record_id
        except Exception:  # noqa: BLE001 - the store is down too: the error itself still goes out
            log.warning("could not record the failure of %s", ctx.record_id)
        return GenerationFailed(exc, recorded, ctx.stage)

    @contextmanager
    def _stage(self, ctx: _RunContext, name: str) -> Iterator[None]:
        with ctx.stages(name):
            yield


@dataclass
class _RunContext:
    record_id: str
    created: datetime
    policy: Policy
    req: PipelineRequest
    stages: Stages
    verdicts: list[Verdict]
    model: ModelInfo | None = None
    outputs: list[OutputImage] = field(default_factory=list)
    index_rows: list[SQLModel] = field(default_factory=list)  # index rows, stored with the record

    @property
    def stage(self) -> str:
        return self.stages.current

    @property
    def timings(self) -> dict[str, float]:
        return self.stages.timings


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _redactor(req: PipelineRequest) -> PromptRedactor:
    return PromptRedactor([req.prompt, req.negative_prompt])


def _control_facts(req: PipelineRequest, policy: Policy) -> ControlFacts | None:
    """The control image as recorded: its digest, type, strength, and which input image the
    verdicts name it as (it is checked after the edit's inputs)."""
    if req.control is None:
        return None
    return ControlFacts(
        sha256=hashlib.sha256(req.control.data).hexdigest(),
        control_type=req.control_type or "",
        strength=req.control_strength,
        input_index=len(req.images),
        checks=[s.name for s in policy.checks.for_target(TargetKind.INPUT_IMAGE)],
    )


def _error_type(exc: AssayError) -> str:
    """The class that failed: the foreign exception an Assay error wraps, else the Assay error's own."""
    cause = exc.__cause__
    return (
        cause.__class__.__name__
        if cause is not None and not isinstance(cause, AssayError)
        else exc.__class__.__name__
    )


def _digest_or_none(prompt: object) -> str | None:
    try:
        return prompt_sha256(prompt) if isinstance(prompt, str) else None
    except UnicodeEncodeError:
        return None
