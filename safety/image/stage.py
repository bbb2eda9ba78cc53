"""Run several image checks on one image side by side: the image stage outside the pipeline.

Why it exists: the image checks spend their time in native code that releases the GIL (onnxruntime,
dlib), so on two cores NudeNet and the face detector overlap; the faces and likeness checks share
one detection per image (see :class:`safety.image.faces.FaceEngine`). The pipeline has its own pool
for all (check, image) pairs of a request; the CLI and the benchmark use this helper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from PIL import Image

from safety.check import Check, CheckInput
from safety.verdict import Target, Verdict

_POOL: ThreadPoolExecutor | None = None


def default_pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="assay-image")
    return _POOL


def run_image_checks(
    checks: Sequence[tuple[Check, Mapping[str, Any]]],
    image: Image.Image,
    *,
    target: Target,
    tenant: str,
    pool: Executor | None = None,
    context_prompt: str | None = None,
) -> list[Verdict]:
    """Run each ``(check, options)`` on ``image`` concurrently; verdicts in the order of ``checks``.

    Fails closed: if any check raises, the first error (in check order) is raised after all finished.
    """
    if not checks:
        return []
    items = [
        CheckInput(
            target=target, tenant=tenant, image=image, options=dict(opts), context_prompt=context_prompt
        )
        for _, opts in checks
    ]
    if len(checks) == 1:
        return list(checks[0][0].run(items[0]))
    ex = pool or default_pool()
    futures = [ex.submit(check.run, item) for (check, _), item in zip(checks, items)]
    errors = [f.exception() for f in futures]
    for err in errors:
        if err is not None:
            raise err
    return [v for f in futures for v in f.result()]


def warm_up(checks: Sequence[tuple[Check, Mapping[str, Any]]], tenant: str = "__warm_up__") -> None:
    """Run every check once on a small blank image, so the first request does not pay for lazy set-up."""
    blank = Image.new("RGB", (64, 64), (128, 128, 128))
    run_image_checks(checks, blank, target=Target.output_image(0), tenant=tenant)
