"""The release stage: marks -> store -> record, the one way a generated image leaves the gateway.

Two callers release images: the pipeline (outputs the policy allowed at once) and the review queue
(held outputs a reviewer approved). Both hand this stage a :class:`ReleaseJob` (who and what the
images belong to) and get back :class:`OutputImage` s with their marked bytes, so the marks, the
blob store and the released-image index rows are written by one piece of code. The rule both rely
on: nothing is returned before the record that names the images is in the ledger, and the index
rows that ``verify`` searches go into that append's transaction (a crash between the two cannot
leave an indexed image without its record). A failure releases nothing.

Imports run down only: :mod:`gateway.policy`, :mod:`gateway.blobs`, :mod:`gateway.metrics` and
the floors below (``provenance``, ``models``, ``safety``, ``core``). :mod:`gateway.pipeline` and
:mod:`gateway.review.queue` import this module; it imports neither of them, nor
:mod:`gateway.state` (which wires it).
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlmodel import SQLModel

from core.errors import AssayError, ComponentError
from gateway.blobs import BlobStore
from gateway.metrics import Metrics
from gateway.policy import Policy
from models.base import ModelInfo
from provenance.ledger import LedgerRecord
from provenance.ledger.bodies import GenerationOutput, MarkFacts, PeopleFacts, ReviewBody
from provenance.marks import Artifact, Mark, MarkContext
from provenance.released import release_row, system_name
from provenance.released_features import feature_rows
from provenance.runner import MarkRunner
from safety.redaction import PromptRedactor, describe, frames
from safety.verdict import Action, Decision, TargetKind, Verdict

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

log = logging.getLogger("assay.release")


# --- what the stage works on ---------------------------------------------------------------------
class MarkSource(Protocol):
    """Where the marks come from (the process's :class:`provenance.mark_registry.MarkRegistry`)."""

    def get(self, name: str) -> Mark: ...


class Recorder(Protocol):
    """Where records go (the :class:`provenance.ledger.Ledger`): an append returns once it is durable."""

    def append(self, record: LedgerRecord, *, with_rows: Sequence[Any] = ()) -> Any: ...


@dataclass(frozen=True)
class ReleaseJob:
    """Who and what the images of one generation belong to; the same for every image released."""

    record_id: str  # the generation's ledger record id
    created: datetime  # the generation's time (the C2PA manifest says when the image was made)
    tenant: str
    policy: Policy
    model: ModelInfo | None
    output_format: str  # png | jpeg | webp
    verdicts: list[Verdict]  # every verdict of the generation (the manifest's check summary)
    prompt: str  # goes into the manifest only where the policy allows it; else only redacts errors
    negative_prompt: str | None = None
    edit: bool = False  # img2img / inpaint
    input_image: Image.Image | None = None  # the edit's input (the C2PA ingredient)
    control_image: Image.Image | None = None  # the control input (a C2PA ingredient, inputTo)
    control_type: str | None = None

    def redactor(self) -> PromptRedactor:
        """Takes the prompt out of a component's error message (see :mod:`safety.redaction`)."""
        return PromptRedactor([self.prompt, self.negative_prompt])


@dataclass
class OutputImage:
    index: int
    content_id: str
    action: Action
    decision: Decision
    data: bytes | None = None  # released (marked) bytes; None unless action is allow
    media_type: str | None = None
    sha256: str | None = None
    blob_key: str | None = None  # released bytes, or the unmarked held image for review
    facts: MarkFacts = field(default_factory=MarkFacts)  # what the marks report (released images)
    released_image: Image.Image | None = None  # the marked pixels (for the released-image index)
    people: PeopleFacts | None = None  # bias monitoring: perceived attributes of its faces


class Stages:
    """Which stage a run is in and how long each took; every stage's latency also goes to ``metrics``."""

    def __init__(self, metrics: Metrics, first: str = "validate") -> None:
        self.metrics = metrics
        self.current = first
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.current = name
        t0 = time.perf_counter()
        try:
            yield
        finally:
            dt = time.perf_counter() - t0
            self.timings[f"{name}_s"] = dt
            self.metrics.stage_latency(name, dt)


def content_id(record_id: str, index: int) -> str:
    """The id of image ``index`` of generation ``record_id`` (ProduceID, C2PA instance, index key)."""
    return f"{record_id}-{index}"


# --- the stage ------------------------------------------------------------------------------------
class Release:
    """Marks, then the blob store, then the record (with the index rows, in one ledger append)."""

    def __init__(
        self,
        *,
        marks: MarkSource,
        blobs: BlobStore,
        recorder: Recorder,
        metrics: Metrics,
        features: bool = True,
    ) -> None:
        # the registry is looked up on each call: marks may be added to it after this was built
        self.marks = MarkRunner(marks.get, on_latency=metrics.mark_latency)
        self.blobs = blobs
        self.recorder = recorder
        self.metrics = metrics
        #: also index each released image's local features (ASSAY_RELEASED_FEATURES)
        self.features = features

    # Marks, in the fixed order, on released images only -----------------------------------------
    def mark(self, job: ReleaseJob, outputs: list[OutputImage], images: Sequence[Image.Image | None]) -> None:
        policy = job.policy
        redact = job.redactor()

        def foreign(exc: BaseException) -> str:
            return describe(exc, redact)

        summary = {
            "verdicts": len(job.verdicts),
            "categories": sorted({v.category.value for v in job.verdicts}),
        }
        for out in outputs:
            if out.action is not Action.ALLOW:
                continue
            image = _image(images, out.index, job.record_id)
            if job.model is None:
                raise ComponentError(f"record {job.record_id} names no model; its images cannot be marked")
            art = Artifact(image=image.copy(), format=job.output_format)
            mctx = MarkContext(
                record_id=job.record_id,
                content_id=out.content_id,
                image_index=out.index,
                tenant=job.tenant,
                policy_id=policy.id,
                policy_digest=policy.digest,
                model=job.model,
                created_at=job.created,
                edit=job.edit,
                input_image=job.input_image,
                control_image=job.control_image,
                control_type=job.control_type,
                check_summary=summary,
                prompt=job.prompt if policy.prompt_in_manifest else None,
            )
            art = self.marks.apply(art, mctx, policy.marks, describe=foreign)
            out.data = art.encode()
            out.released_image = art.image
            out.media_type = art.media_type
            out.sha256 = hashlib.sha256(out.data).hexdigest()
            out.facts = MarkFacts.model_validate(art.facts)

    # Bytes to the blob store (released images, and held ones for the reviewer), and the rows of the
    # released-image index that `verify` searches (content id, watermark payload, pHash, local
    # features); the rows are written with the record, in the ledger's transaction (:meth:`record`)
    def store(
        self, job: ReleaseJob, outputs: list[OutputImage], images: Sequence[Image.Image | None]
    ) -> list[SQLModel]:
        rows: list[SQLModel] = []
        for out in outputs:
            if out.action is Action.ALLOW and out.data is not None:
                out.blob_key = self.blobs.put(out.data)
                released = out.released_image or _image(images, out.index, job.record_id)
                rows.append(
                    release_row(
                        job.record_id,
                        out.content_id,
                        released,
                        tenant=job.tenant,
                        created_at=job.created,
                        system=system_name(job.model),
                        watermark=out.facts.watermark.payload if out.facts.watermark else None,
                        manifest_digest=out.facts.c2pa.manifest_digest if out.facts.c2pa else None,
                    )
                )
                if self.features:
                    rows.extend(feature_rows(out.content_id, job.record_id, released))
            elif out.action is Action.REVIEW:
                buf = io.BytesIO()
                _image(images, out.index, job.record_id).save(buf, format="PNG")
                out.blob_key = self.blobs.put(buf.getvalue())
        return rows

    # The record, with the index rows in its transaction -----------------------------------------
    def record(self, record: LedgerRecord, rows: Sequence[SQLModel] = ()) -> None:
        self.recorder.append(record, with_rows=list(rows))

    # A held generation, after a reviewer approved it ---------------------------------------------
    def release_approved(
        self,
        job: ReleaseJob,
        held: dict[int, Image.Image],
        decisions: dict[int, Decision],
        record: LedgerRecord,
    ) -> list[OutputImage]:
        """Mark and store the approved images ``held`` (index -> unmarked pixels) of ``job``'s
        generation, then append ``record`` (the review record; its body, a :class:`ReviewBody`,
        gains the released outputs)."""
        body = ReviewBody.model_validate(record.body)
        stages = Stages(self.metrics, first="marks")
        images: list[Image.Image | None] = [held.get(i) for i in range(max(held) + 1)] if held else []
        outputs = [
            OutputImage(
                index=i, content_id=content_id(job.record_id, i), action=Action.ALLOW, decision=decisions[i]
            )
            for i in sorted(held)
        ]
        try:
            with stages("marks"):
                self.mark(job, outputs, images)
            with stages("store"):
                rows = self.store(job, outputs, images)
            released = body.model_copy(update={"outputs": [recorded(o) for o in outputs]})
            with stages("ledger"):
                self.record(record.model_copy(update={"body": released.to_body()}), rows)
        except Exception as exc:
            for o in outputs:
                o.data = None
            if isinstance(exc, AssayError):
                redacted(exc, job.redactor())
                raise
            log.error(
                "release of held generation %s failed in stage %s: %s\n%s",
                job.record_id,
                stages.current,
                describe(exc, job.redactor()),
                frames(exc),
            )
            raise ComponentError(
                f"release failed in stage {stages.current}: {exc.__class__.__name__}"
            ) from exc
        return outputs


def recorded(out: OutputImage) -> GenerationOutput:
    """What the record says about one output image (the generation's record and an approval's)."""
    return GenerationOutput(
        index=out.index,
        content_id=out.content_id,
        action=out.action,
        sha256=out.sha256,
        blob=out.blob_key,
        media_type=out.media_type,
        marks=out.facts,
        people=out.people,
    )


def _image(images: Sequence[Image.Image | None], index: int, record_id: str) -> Image.Image:
    image = images[index] if 0 <= index < len(images) else None
    if image is None:
        raise ComponentError(f"image {index} of record {record_id} is missing")
    return image


def redacted(exc: AssayError, redact: PromptRedactor) -> AssayError:
    """Take the prompt out of ``exc``'s message, in place (the error belongs to this request and is
    about to be raised, recorded and logged; its class and cause stay for the record's ``type``)."""
    message = redact(exc.message)
    if message != exc.message:
        exc.message = message
        exc.args = (message,)
    return exc


_REDACT_CATEGORIES = {"pii", "real_person", "likeness"}


def stored_prompt(prompt: str, policy: Policy, verdicts: list[Verdict]) -> str | None:
    """The prompt as the policy says to store it: plain text, redacted text, or nothing (digest only)."""
    mode = policy.prompt_storage.mode
    if mode == "digest":
        return None
    if mode == "plain":
        return prompt
    spans = sorted(
        {
            (int(v.evidence["start"]), int(v.evidence["end"]))
            for v in verdicts
            if v.target.kind is TargetKind.PROMPT
            and v.category.value in _REDACT_CATEGORIES
            and isinstance(v.evidence.get("start"), int)
            and isinstance(v.evidence.get("end"), int)
        }
    )
    out, pos = [], 0
    for start, end in spans:
        if start < pos:
            continue
        out.append(prompt[pos:start])
        out.append("[REDACTED]")
        pos = end
    out.append(prompt[pos:])
    return "".join(out)
