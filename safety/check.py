"""The `Check` protocol and the input a check receives.

Why it exists: the pipeline runs whatever checks a tenant's policy names, on the prompt, on each
uploaded input image and on each output image, without knowing what any check does. A check is
built once per process (models load at start-up), must be thread-safe (the pipeline runs image
checks concurrently), and returns a list of verdicts — an empty list means "nothing found". A check
that cannot do its job raises; the pipeline then fails closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pydantic import BaseModel

from safety.verdict import Target, TargetKind, Verdict

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image


@dataclass(frozen=True)
class CheckInput:
    """What one check looks at: the prompt text or one decoded image, plus who asked.

    ``options`` are the check's options as its policy step parsed them at load (the model its
    registry entry names; None: the model's defaults), read with :func:`core.plugins.typed_options`;
    ``tenant`` scopes tenant-owned data such as the likeness gallery or an operator's protected-person list.
    """

    target: Target
    tenant: str
    prompt: str | None = None
    image: Image.Image | None = None
    options: BaseModel | None = None
    #: the prompt that accompanies an image (lets an image check explain itself); may be None
    context_prompt: str | None = None


@runtime_checkable
class Check(Protocol):
    """A content check. See module docstring."""

    @property
    def name(self) -> str:
        """The registry name used in policies, e.g. ``prompt.lexicon`` or ``image.nsfw``."""
        ...

    @property
    def targets(self) -> frozenset[TargetKind]:
        """Which targets it can look at."""
        ...

    def run(self, item: CheckInput) -> list[Verdict]: ...


# A check may also define ``warm(options) -> None`` (its parsed options): the gateway calls it at
# start-up for each policy that names the check (load an index, build a search structure) so no
# request pays for it.
