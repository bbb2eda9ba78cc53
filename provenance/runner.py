"""Applying a policy's marks to one image, in the fixed order, for the pipeline and the review
queue's release of held images.

Why it exists: the order of the marks is a rule, not a policy's choice (pixels first, then the
metadata label, the watermark, and the signature last, over the final bytes: see
:data:`provenance.mark_registry.MARK_ORDER`), and a mark that cannot do its job must stop the
release. A :class:`~core.errors.ComponentError` passes as it is; any other failure becomes a
:class:`~core.errors.MarkError` naming the mark and saying what failed in the words the caller
gives (``describe``: the gateway takes the prompt out, :func:`safety.redaction.describe`).
Imports run down only: ``core`` and ``provenance``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from time import perf_counter
from typing import Any, Protocol, TypeVar

from core.errors import AssayError, ComponentError, MarkError
from provenance.mark_registry import MARK_ORDER
from provenance.marks import Artifact, Mark, MarkContext

__all__ = ["MarkRunner", "MarkStep", "in_mark_order"]


class MarkStep(Protocol):
    """A mark named by a policy, with its options as parsed at policy load."""

    @property
    def name(self) -> str: ...

    @property
    def parsed(self) -> Any: ...


S = TypeVar("S", bound=MarkStep)


def in_mark_order(steps: Sequence[S]) -> list[S]:
    """``steps`` in :data:`MARK_ORDER`; marks it does not list follow, in the policy's order.
    A mark named twice applies once, with the options given last."""
    by_name = {s.name: s for s in steps}
    rank = {name: i for i, name in enumerate(MARK_ORDER)}
    return sorted(by_name.values(), key=lambda s: rank.get(s.name, len(rank)))


class MarkRunner:
    """Applies named marks; see the module docstring.

    ``marks`` returns the mark of a name (a registry's ``get``); ``on_latency(name, seconds)`` is
    told how long each application took, failed ones too (the gateway's metrics).
    """

    def __init__(
        self,
        marks: Callable[[str], Mark],
        *,
        on_latency: Callable[[str, float], None] | None = None,
    ) -> None:
        self._marks = marks
        self._on_latency = on_latency

    def apply(
        self,
        artifact: Artifact,
        ctx: MarkContext,
        steps: Sequence[MarkStep],
        *,
        describe: Callable[[BaseException], str],
    ) -> Artifact:
        """Apply each of ``steps`` to ``artifact`` in mark order; each mark sees ``ctx`` with its
        own options. ``describe(exc)`` is what a failure's message may say of a foreign error
        (its class and its message, the prompt taken out)."""
        for step in in_mark_order(steps):
            mark = self._marks(step.name)
            t0 = perf_counter()
            try:
                artifact = mark.apply(artifact, replace(ctx, options=step.parsed))
            except AssayError as exc:
                if isinstance(exc, ComponentError):
                    raise
                raise MarkError(f"mark {step.name} failed: {exc.message}") from exc
            except Exception as exc:  # noqa: BLE001 - a mark that cannot do its job stops the release
                raise MarkError(f"mark {step.name} failed: {describe(exc)}") from exc
            finally:
                if self._on_latency is not None:
                    self._on_latency(step.name, perf_counter() - t0)
        return artifact
