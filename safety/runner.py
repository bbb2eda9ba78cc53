"""Running a policy's checks on a request's targets: how a check is called, how its failure is
reported and how long it took, in one place for the pipeline, ``assay image check`` and
``assay prompt check``.

Why it exists: a check is third-party code on hostile input, so every call goes through the same
mapping. A :class:`~core.errors.ComponentError` (a component that is down) passes as it is; an
:class:`~core.errors.InvalidRequest` about the prompt or an uploaded image is the client's fault
and passes too (a 4xx; on an *output* image it is our fault, so it is not); anything else becomes
a :class:`~core.errors.CheckFailed` naming the check and the target, its message with the prompt
taken out (third-party messages often quote their input). The gateway then fails closed.

Prompt checks run one after the other (the lexicon, PII and persons checks take microseconds, the
semantic check's forward pass already uses both cores); image checks run concurrently, all (check,
image) pairs of a call at once, because they spend their time in native code that releases the GIL
(onnxruntime, dlib). Imports run down only: ``core`` and ``safety``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import AssayError, CheckFailed, ComponentError, InvalidRequest
from safety.check import Check, CheckInput
from safety.redaction import PromptRedactor, describe
from safety.verdict import Target, TargetKind, Verdict

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

__all__ = ["CheckRunner", "CheckStep", "LatencyHook", "Step"]

#: ``hook(name, seconds)``: told how long each call of a check (or mark) took, failed ones too
LatencyHook = Callable[[str, float], None]


class CheckStep(Protocol):
    """A check named by a policy, with its options as parsed at policy load."""

    @property
    def name(self) -> str: ...

    @property
    def parsed(self) -> Any: ...


@dataclass(frozen=True)
class Step:
    """A :class:`CheckStep` built in code (tests, benchmarks), when there is no policy to name it."""

    name: str
    parsed: Any = None


class CheckRunner:
    """Runs named checks; see the module docstring.

    ``checks`` returns the check of a name (a registry's ``get``); ``pool`` runs image checks side
    by side (the runner makes and owns one of ``workers`` threads when none is given);
    ``on_latency`` is told each call's duration (the gateway's metrics).
    """

    def __init__(
        self,
        checks: Callable[[str], Check],
        *,
        pool: Executor | None = None,
        on_latency: LatencyHook | None = None,
        workers: int = 4,
    ) -> None:
        self._checks = checks
        self._own_pool = pool is None
        self._pool: Executor = pool or ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="assay-check"
        )
        self._on_latency = on_latency

    def close(self) -> None:
        """Stop the runner's own pool (a pool handed in belongs to the caller)."""
        if self._own_pool:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def run(self, name: str, item: CheckInput) -> list[Verdict]:
        """Run check ``name`` on ``item`` with the error mapping of the module docstring."""
        t0 = perf_counter()
        try:
            verdicts = list(self._checks(name).run(item))
        except AssayError as exc:
            if isinstance(exc, ComponentError):
                raise
            if isinstance(exc, InvalidRequest) and item.target.kind is not TargetKind.OUTPUT_IMAGE:
                raise  # the client's prompt or upload is at fault: a 4xx (still recorded, nothing released)
            raise CheckFailed(
                f"check {name} failed on {item.target}: {exc.message}", details={"check": name}
            ) from exc
        except Exception as exc:  # noqa: BLE001 - a check that cannot do its job fails closed
            # the type and the message without the prompt (third-party messages often quote their input)
            raise CheckFailed(
                f"check {name} failed on {item.target}: "
                f"{describe(exc, PromptRedactor([item.prompt, item.context_prompt]))}",
                details={"check": name},
            ) from exc
        finally:
            if self._on_latency is not None:
                self._on_latency(name, perf_counter() - t0)
        for v in verdicts:
            if not isinstance(v, Verdict):
                raise CheckFailed(f"check {name} returned {type(v).__name__}, not a Verdict")
        return verdicts

    def run_prompt(self, steps: Sequence[CheckStep], prompt: str, *, tenant: str) -> list[Verdict]:
        """Each step on ``prompt``, in order; verdicts in step order. The first error stops the rest."""
        out: list[Verdict] = []
        for step in steps:
            item = CheckInput(target=Target.prompt(), tenant=tenant, prompt=prompt, options=step.parsed)
            out += self.run(step.name, item)
        return out

    def run_images(
        self,
        steps: Sequence[CheckStep],
        images: Sequence[Image.Image],
        kind: TargetKind,
        *,
        tenant: str,
        context_prompt: str | None = None,
    ) -> list[Verdict]:
        """Every step on every image of ``kind``, concurrently; verdicts by image, then by step.

        Fails closed after all calls finished: the client's bad input first (it is what the client
        can fix), else the first error in that order.
        """
        items = [
            (
                step.name,
                CheckInput(
                    target=Target(kind=kind, index=i),
                    tenant=tenant,
                    image=img,
                    options=step.parsed,
                    context_prompt=context_prompt,
                ),
            )
            for i, img in enumerate(images)
            for step in steps
        ]
        if len(items) == 1:
            return self.run(*items[0])
        jobs: list[Future[list[Verdict]]] = [self._pool.submit(self.run, name, item) for name, item in items]
        out: list[Verdict] = []
        errors: list[AssayError] = []
        for job in jobs:
            try:
                out += job.result()
            except AssayError as exc:
                errors.append(exc)
        if errors:
            raise next((e for e in errors if isinstance(e, InvalidRequest)), errors[0])
        return out
