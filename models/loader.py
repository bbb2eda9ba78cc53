"""Builds the process's one backend from settings (``ASSAY_MODEL``)."""

from __future__ import annotations

import logging
from pathlib import Path

from core.errors import ConfigError
from core.settings import BUILTIN_MODEL, Settings
from models.base import Backend
from models.control import parse_control_models

log = logging.getLogger("assay.models")


def builtin_model_folder(settings: Settings) -> tuple[Path, bool]:
    """The shipped default model's folder; (a generated placeholder folder, True) while none ships."""
    from models import default as default_model

    weights = Path(default_model.WEIGHTS_DIR)
    if (weights / "model_index.json").is_file():
        return weights, False
    folder = settings.models_dir / "placeholder-untrained"
    if not (folder / "model_index.json").is_file():
        log.warning("no trained default model is shipped: writing a random-weight PLACEHOLDER to %s", folder)
        default_model.save_untrained(folder, seed=0)
    return folder, True


def load_backend(settings: Settings) -> Backend:
    model = settings.model
    if model.startswith(("http://", "https://")):
        from models.remote import RemoteBackend

        return RemoteBackend(
            model,
            model=settings.remote_model,
            api_key=settings.remote_api_key,
            timeout_s=settings.backend_timeout_s,
            retries=settings.backend_retries,
            breaker_failures=settings.remote_breaker_failures,
            breaker_reset_s=settings.remote_breaker_reset_s,
        )
    from models.diffusers_backend import DiffusersBackend

    if model == BUILTIN_MODEL:
        folder, placeholder = builtin_model_folder(settings)
        notes = ["PLACEHOLDER: untrained random weights; not a real model"] if placeholder else []
        return DiffusersBackend(
            str(folder),
            device=settings.device,
            dtype=settings.dtype,
            default_steps=settings.default_steps,
            sampler=settings.sampler,
            model_id=BUILTIN_MODEL,
            placeholder=placeholder,
            cache_dir=settings.models_dir,
            notes=notes,
        )
    if model.startswith("ray://"):
        raise ConfigError(
            f"ASSAY_MODEL={model}: gateways reach Ray Serve workers over HTTP, not the Ray client",
            param="ASSAY_MODEL",
            hint="serve the model with `assay worker` and set ASSAY_MODEL to the http://HOST:PORT/v1 "
            "it prints (see docs/deployment.md)",
        )
    return DiffusersBackend(
        model,
        device=settings.device,
        dtype=settings.dtype,
        revision=settings.model_revision,
        default_steps=settings.default_steps,
        sampler=settings.sampler,
        cache_dir=settings.models_dir,
        controls=parse_control_models(settings.control_models),
    )
