"""`Pipeline` and the release stage on fakes alone: no AppState, no database, no model download.

The backend is :class:`models.testing.PhotoBackend`; checks and the mark are the fakes below; the
release stage writes to an in-memory blob store and an in-memory recorder. What these tests pin is
the pipeline's own logic: which images are released, held or blocked, what the record says, that a
failing stage releases nothing, and that the review queue's release path marks what a reviewer approved.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from PIL import Image

from core.errors import ComponentError, ContentBlocked
from core.store import TableRows
from gateway.admission import Admission
from gateway.auth import Principal, Role
from gateway.metrics import Metrics
from gateway.pipeline import GenerationFailed, Pipeline, PipelineRequest
from gateway.policy import Checks, Policy, StepSpec
from gateway.release import Release, ReleaseJob
from models.testing import PhotoBackend
from provenance.ledger import LedgerRecord
from provenance.ledger.bodies import GenerationBody, GenerationStatus, ReviewAction, ReviewBody, ReviewState
from provenance.marks import Artifact, MarkContext
from provenance.tables import ReleasedFeatures, ReleasedImage
from safety.check import CheckInput
from safety.verdict import Action, Category, Decision, TargetKind, Verdict

pytest.importorskip("skimage")


# --- fakes -----------------------------------------------------------------------------------------
class WordCheck:
    """Blocks a prompt that contains "forbidden" (score 0.95 >= the default block_at 0.8)."""

    name: ClassVar[str] = "fake.words"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.PROMPT})

    def run(self, item: CheckInput) -> list[Verdict]:
        if "forbidden" not in (item.prompt or ""):
            return []
        return [Verdict(check=self.name, category=Category.OTHER, score=0.95, target=item.target)]


class OddImageCheck:
    """Holds every output image with an odd index (score 0.6: review, not block)."""

    name: ClassVar[str] = "fake.odd"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.OUTPUT_IMAGE})

    def run(self, item: CheckInput) -> list[Verdict]:
        if (item.target.index or 0) % 2 == 0:
            return []
        return [Verdict(check=self.name, category=Category.REAL_PERSON, score=0.6, target=item.target)]


class StampMark:
    """Paints the top-left pixel and reports what it stamped (or fails, when told to)."""

    name: ClassVar[str] = "fake.stamp"

    def __init__(self) -> None:
        self.fail = False
        self.applied: list[str] = []

    def apply(self, artifact: Artifact, ctx: MarkContext) -> Artifact:
        if self.fail:
            raise RuntimeError("stamp ink ran out")
        artifact.image.putpixel((0, 0), (255, 0, 255))
        artifact.invalidate()
        artifact.facts[self.name] = {"content_id": ctx.content_id, "edit": ctx.edit}
        self.applied.append(ctx.content_id)
        return artifact


@dataclass
class Named:
    """A registry stand-in: ``get(name)`` from a dict."""

    items: dict[str, Any]

    def get(self, name: str) -> Any:
        return self.items[name]


@dataclass
class MemoryBlobs:
    data: dict[str, bytes] = field(default_factory=dict)

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        self.data[key] = data
        return key

    def get(self, key: str) -> bytes:
        return self.data[key]

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def exists(self, key: str) -> bool:
        return key in self.data


@dataclass
class MemoryRecorder:
    """The ledger's append, in memory; ``down`` makes it refuse like an unreachable store."""

    appended: list[tuple[LedgerRecord, list[Any]]] = field(default_factory=list)
    down: bool = False

    def append(self, record: LedgerRecord, *, with_rows: Sequence[Any] = ()) -> None:
        if self.down:
            raise ConnectionError("store unreachable")
        self.appended.append((record, list(with_rows)))


@dataclass
class Rig:
    pipeline: Pipeline
    release: Release
    backend: PhotoBackend
    mark: StampMark
    blobs: MemoryBlobs
    recorder: MemoryRecorder
    metrics: Metrics
    policy: Policy


POLICY = Policy(
    id="unit",
    checks=Checks(prompt=[StepSpec(name="fake.words")], output_image=[StepSpec(name="fake.odd")]),
    marks=[StepSpec(name="fake.stamp")],
    unsafe_allow_unmarked=True,
)


@pytest.fixture
def rig() -> Any:
    backend = PhotoBackend()
    mark = StampMark()
    blobs, recorder, metrics = MemoryBlobs(), MemoryRecorder(), Metrics()
    release = Release(marks=Named({mark.name: mark}), blobs=blobs, recorder=recorder, metrics=metrics)
    pool = ThreadPoolExecutor(max_workers=1)
    calls: list[str] = []
    pipeline = Pipeline(
        policies=lambda tenant: calls.append(tenant) or POLICY,
        backend=lambda: backend,
        checks=Named({c.name: c for c in (WordCheck(), OddImageCheck())}),
        release=release,
        metrics=metrics,
        admission=Admission(concurrency=1, queue_size=4, max_wait_s=30.0, metrics=metrics),
        backend_pool=pool,
        backend_timeout_s=lambda: 30.0,
        default_steps=lambda: 4,
    )
    yield Rig(pipeline, release, backend, mark, blobs, recorder, metrics, POLICY)
    pipeline.close()
    pool.shutdown()


ME = Principal(key_id="k1", tenant="acme", role=Role.REQUESTER)


def _count(metrics: Metrics, status: str) -> float:
    value = metrics.registry.get_sample_value("assay_decisions_total", {"status": status})
    return value or 0.0


def _approval(review_id: str) -> dict[str, Any]:
    return ReviewBody(
        review_id=review_id,
        action=ReviewAction.APPROVED,
        actor="reviewer",
        actor_role="reviewer",
        from_=ReviewState.CLAIMED,
        to=ReviewState.APPROVED,
        reason_code="no_violation",
        comment_sha256=None,
    ).to_body()


# --- tests -----------------------------------------------------------------------------------------
def test_allowed_images_are_marked_stored_and_recorded_held_ones_are_returned_not_queued(rig: Rig) -> None:
    res = rig.pipeline.run(
        PipelineRequest(prompt="a cat on a mat", principal=ME, n=2, size="256x256", seed=3)
    )
    assert res.status == "released" and res.policy is POLICY
    assert [o.action for o in res.images] == [Action.ALLOW, Action.REVIEW]
    assert res.review_id is None  # the caller hands held images to the queue
    released, held = res.released[0], res.held[0]
    # only the released image went through the mark; its bytes are the marked ones
    assert rig.mark.applied == [f"{res.record_id}-0"]
    assert released.data is not None and hashlib.sha256(released.data).hexdigest() == released.sha256
    assert Image.open(io.BytesIO(released.data)).convert("RGB").getpixel((0, 0)) == (255, 0, 255)
    assert held.data is None and held.blob_key in rig.blobs.data  # the unmarked held image, for the reviewer
    assert released.blob_key in rig.blobs.data and rig.blobs.data[released.blob_key] == released.data
    # one record, the index rows of the released image (and only of it) in its append
    [(rec, rows)] = rig.recorder.appended
    assert rec.record_id == res.record_id and rec.kind == "generation" and rec.tenant == "acme"
    assert rec.decision == "review" and rec.categories == ["real_person"] and rec.model_id == "test-photo"
    assert [r.content_id for r in rows if isinstance(r, ReleasedImage)] == [released.content_id]
    assert [r.content_id for r in rows if isinstance(r, ReleasedFeatures)] == [released.content_id]
    [keys] = [r for r in rows if isinstance(r, TableRows)]  # its local features' index keys
    assert {v["content_id"] for v in keys.values} == {released.content_id}
    assert rec.body["outputs"][0]["marks"] == {
        "fake.stamp": {"content_id": released.content_id, "edit": False}
    }
    assert "error" not in rec.body  # written only for failures
    body = GenerationBody.model_validate(rec.body)
    assert body.status is GenerationStatus.RELEASED and body.key_id == "k1"
    assert [(o.index, o.action, o.blob) for o in body.outputs] == [
        (0, Action.ALLOW, released.blob_key),
        (1, Action.REVIEW, held.blob_key),
    ]
    assert body.request.size == "256x256" and body.request.n == 2 and body.request.inputs == []
    assert body.to_body() == rec.body  # one shape, both ways
    assert set(res.timings) >= {"validate_s", "backend_s", "marks_s", "store_s", "ledger_s"}
    assert _count(rig.metrics, "released") == 1


def test_a_blocked_prompt_never_reaches_the_backend_and_is_recorded(rig: Rig, monkeypatch) -> None:  # noqa: ANN001
    called: list[Any] = []
    monkeypatch.setattr(rig.backend, "generate", lambda req: called.append(req))
    with pytest.raises(ContentBlocked) as info:
        rig.pipeline.run(PipelineRequest(prompt="something forbidden", principal=ME, size="256x256"))
    assert called == []
    [(rec, rows)] = rig.recorder.appended
    assert rec.record_id == info.value.details["record_id"] and rec.decision == "block" and rows == []
    assert rec.body["status"] == "blocked" and rec.body["outputs"] == []
    assert rig.blobs.data == {}


def test_a_failing_mark_releases_nothing_and_records_the_stage(rig: Rig) -> None:
    rig.mark.fail = True
    with pytest.raises(GenerationFailed) as info:
        rig.pipeline.run(PipelineRequest(prompt="a cat", principal=ME, size="256x256", seed=1))
    err = info.value
    assert err.stage == "marks" and err.code == "mark_failed" and err.record_id is not None
    [(rec, rows)] = rig.recorder.appended
    assert rec.decision == "failed" and rows == [] and rec.body["outputs"] == []
    error = GenerationBody.model_validate(rec.body).error
    assert error is not None and error.stage == "marks" and error.type == "RuntimeError"
    assert rig.blobs.data == {}  # the store stage never ran
    assert _count(rig.metrics, "failed") == 1


def test_the_failure_still_goes_out_when_the_recorder_is_down_too(rig: Rig) -> None:
    rig.recorder.down = True
    with pytest.raises(GenerationFailed) as info:
        rig.pipeline.run(PipelineRequest(prompt="a cat", principal=ME, size="256x256", seed=1))
    assert info.value.stage == "ledger" and info.value.record_id is None
    assert rig.recorder.appended == []


def test_an_approved_held_image_is_released_through_the_same_stage(rig: Rig) -> None:
    res = rig.pipeline.run(PipelineRequest(prompt="a cat", principal=ME, n=2, size="256x256", seed=3))
    held = res.held[0]
    unmarked = Image.open(io.BytesIO(rig.blobs.data[held.blob_key]))
    job = ReleaseJob(
        record_id=res.record_id,
        created=res.created_at,
        tenant="acme",
        policy=rig.policy,
        model=res.model,
        output_format="png",
        verdicts=res.verdicts,
        prompt="a cat",
    )
    review = LedgerRecord(
        record_id="01JAAAAAAAAAAAAAAAAAAAAAAA",
        kind="review",
        tenant="acme",
        decision="approved",
        subject_id=res.record_id,
        created_at=res.created_at,
        body=_approval("01JDDDDDDDDDDDDDDDDDDDDDDD"),
    )
    outs = rig.release.release_approved(job, {held.index: unmarked}, {held.index: held.decision}, review)
    [out] = outs
    assert out.content_id == held.content_id and out.action is Action.ALLOW and out.data is not None
    assert rig.mark.applied[-1] == held.content_id
    rec, rows = rig.recorder.appended[-1]
    assert rec.record_id == review.record_id
    assert [r.content_id for r in rows if isinstance(r, ReleasedImage)] == [held.content_id]
    body = ReviewBody.model_validate(rec.body)
    assert body.action is ReviewAction.APPROVED and body.to is ReviewState.APPROVED
    assert rec.body["from"] == "claimed" and "priority" not in rec.body  # optional parts left out
    assert body.outputs is not None
    assert [(o.content_id, o.action, o.sha256) for o in body.outputs] == [
        (held.content_id, Action.ALLOW, out.sha256)
    ]
    assert body.outputs[0].marks.model_extra == {"fake.stamp": {"content_id": held.content_id, "edit": False}}


def test_a_failed_release_of_an_approved_image_returns_no_bytes(rig: Rig) -> None:
    rig.recorder.down = True
    image = Image.new("RGB", (64, 64), "white")
    job = ReleaseJob(
        record_id="01JBBBBBBBBBBBBBBBBBBBBBBB",
        created=datetime.now(UTC),
        tenant="acme",
        policy=rig.policy,
        model=rig.backend.info,
        output_format="png",
        verdicts=[],
        prompt="a cat",
    )
    review = LedgerRecord(
        record_id="01JCCCCCCCCCCCCCCCCCCCCCCC",
        kind="review",
        tenant="acme",
        created_at=job.created,
        body=_approval("01JEEEEEEEEEEEEEEEEEEEEEEE"),
    )
    with pytest.raises(ComponentError, match="release failed in stage ledger"):
        rig.release.release_approved(job, {0: image}, {0: Decision(action=Action.REVIEW)}, review)
