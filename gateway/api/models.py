"""``GET /v1/models``: what this gateway serves, in the OpenAI list shape with Assay's details.

The OpenAI client's ``client.models.list()`` works unchanged (``id``, ``object``, ``created``,
``owned_by``); the ``assay`` key says which family and pipeline class, which modes (text-to-image,
image-to-image, inpainting), which sampler and default steps, every adapter the weights carry and
the control types a request may name, so a caller learns before a request what would be a 400.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from core.errors import NotFound
from gateway.api.deps import PrincipalDep, StateDep
from gateway.state import AppState
from models.base import GenerationMode

router = APIRouter(tags=["models"])


def _entry(state: AppState) -> dict[str, Any]:
    backend = state.backend
    info = backend.info
    supports = getattr(backend, "supports", None)
    modes = [
        m.value for m in GenerationMode if m is GenerationMode.TXT2IMG or (callable(supports) and supports(m))
    ]
    return {
        "id": info.model_id,
        "object": "model",
        "created": 0,
        "owned_by": state.settings.provider_name,
        "assay": {
            "backend": info.backend,
            "pipeline_class": info.pipeline_class,
            "scheduler": info.scheduler,
            "default_steps": getattr(backend, "default_steps", None),
            "modes": modes,
            "adapters": list(getattr(info, "adapters", []) or []),
            # what a request's control_type may name (control models, or the model's own layout control)
            "control_types": list(getattr(backend, "control_types", []) or []),
            "weights_digest": info.weights_digest,
            "dtype": info.dtype,
            "device": info.device,
            "placeholder": info.placeholder,
        },
    }


@router.get("/v1/models", summary="The models this gateway serves (OpenAI list shape)")
async def list_models(state: StateDep, _principal: PrincipalDep) -> dict[str, Any]:
    return {"object": "list", "data": [await run_in_threadpool(_entry, state)]}


@router.get("/v1/models/{model_id:path}", summary="One model this gateway serves")
async def get_model(model_id: str, state: StateDep, _principal: PrincipalDep) -> dict[str, Any]:
    entry = await run_in_threadpool(_entry, state)
    if model_id != entry["id"]:
        raise NotFound(f"model {model_id!r} is not served here", param="model", hint=f"served: {entry['id']}")
    return entry
