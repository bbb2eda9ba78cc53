"""The C2PA manifest Assay signs for one image: actions, soft binding, and the Assay assertion.

Why these assertions:
- ``c2pa.actions.v2`` — C2PA 2.2 §18.14.2 requires the first action to be ``c2pa.created`` (or
  ``c2pa.opened`` for an edit, whose input is the parent ingredient) with the IPTC
  ``digitalSourceType``; ``softwareAgent`` and ``when`` carry SB 942's "name and version of the
  GenAI system" and "time and date of creation".
- ``c2pa.soft-binding`` — names the invisible watermark (algorithm and payload), so a copy whose
  manifest was stripped can be tied back to this manifest via the watermark.
- ``org.assay.record`` — the ledger record id, content id, policy id and digest, the model that
  produced the image and the check summary: what an auditor needs to find the record. No prompt
  text unless the policy allows it (prompts are personal data).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from provenance.ledger.bodies import WatermarkFacts
from provenance.marks import Artifact, MarkContext
from provenance.source_type import source_type_for

ASSAY_ASSERTION = "org.assay.record"
SOFT_BINDING = "c2pa.soft-binding"
ACTIONS = "c2pa.actions.v2"
INGREDIENT_LABEL = "assay-input"
CONTROL_LABEL = "assay-control"


def assay_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("assay-gateway")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "0.0.0+source"


def iso_utc(t: datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def software_agent(ctx: MarkContext) -> dict[str, Any]:
    """``softwareAgent``: Assay and the generative model (id and version) that made the image."""
    m = ctx.model
    version = m.revision or (m.weights_digest[:23] if m.weights_digest else None) or "unversioned"
    return {"name": f"Assay {assay_version()} / {m.model_id}", "version": version}


def soft_binding(fact: WatermarkFacts | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The soft-binding assertion for the watermark fact the watermark step left, if any: its
    scheme names the algorithm, its payload (hex) is the value."""
    if fact is None:
        return None
    wm = WatermarkFacts.model_validate(fact)
    return {
        "label": SOFT_BINDING,
        "data": {
            "alg": wm.scheme,
            "blocks": [{"scope": {}, "value": base64.b64encode(bytes.fromhex(wm.payload)).decode("ascii")}],
        },
    }


def _model_info(ctx: MarkContext) -> dict[str, Any]:
    keep = (
        "backend",
        "model_id",
        "revision",
        "weights_digest",
        "pipeline_class",
        "scheduler",
        "steps",
        "guidance",
        "width",
        "height",
        "placeholder",
    )
    info = ctx.model.model_dump(mode="json")
    out = {k: info[k] for k in keep if info.get(k) is not None}
    seeds = info.get("seeds") or []
    seed = seeds[ctx.image_index] if ctx.image_index < len(seeds) else info.get("seed")
    if seed is not None:
        out["seed"] = seed
    return out


def assay_assertion(ctx: MarkContext, *, provider: str, include_prompt: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "record_id": ctx.record_id,
        "content_id": ctx.content_id,
        "image_index": ctx.image_index,
        "provider": provider,
        "created": iso_utc(ctx.created_at),
        "policy": {"id": ctx.policy_id, "digest": ctx.policy_digest},
        "model": _model_info(ctx),
        "checks": _json_safe(ctx.check_summary),
    }
    if include_prompt and ctx.prompt is not None:
        data["prompt"] = ctx.prompt
    return {"label": ASSAY_ASSERTION, "data": data}


def _json_safe(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_json_safe(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, datetime):
        return iso_utc(v)
    if hasattr(v, "model_dump"):
        return _json_safe(v.model_dump(mode="json"))
    return str(v)


def build_manifest(
    artifact: Artifact,
    ctx: MarkContext,
    *,
    provider: str,
    include_prompt: bool,
    edit_with_ingredient: bool,
    control_ingredient: bool = False,
) -> dict[str, Any]:
    """The manifest definition handed to ``c2pa.Builder`` for one image. With ``control_ingredient``
    the action that made the pixels (``c2pa.created``, or ``c2pa.edited``) names the control image
    (an ``inputTo`` ingredient) among its ``ingredientIds``."""
    when = iso_utc(ctx.created_at)
    agent = software_agent(ctx)
    if ctx.edit:
        first: dict[str, Any] = {"action": "c2pa.opened", "when": when, "softwareAgent": agent}
        if edit_with_ingredient:
            first["parameters"] = {"ingredientIds": [INGREDIENT_LABEL]}
        actions = [
            first,
            {
                "action": "c2pa.edited",
                "digitalSourceType": source_type_for(True),
                "softwareAgent": agent,
                "when": when,
            },
        ]
    else:
        actions = [
            {
                "action": "c2pa.created",
                "digitalSourceType": source_type_for(False),
                "softwareAgent": agent,
                "when": when,
            }
        ]
    if control_ingredient:
        actions[-1]["parameters"] = {"ingredientIds": [CONTROL_LABEL]}
    assertions: list[dict[str, Any]] = [{"label": ACTIONS, "data": {"actions": actions}}]
    sb = soft_binding(artifact.facts.get("watermark"))
    if sb is not None:
        assertions.append(sb)
    assertions.append(assay_assertion(ctx, provider=provider, include_prompt=include_prompt))
    return {
        "claim_generator_info": [{"name": "Assay", "version": assay_version()}],
        "title": f"{ctx.content_id}.{'jpg' if artifact.format == 'jpeg' else artifact.format}",
        "format": artifact.media_type,
        "assertions": assertions,
    }
