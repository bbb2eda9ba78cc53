"""``uvicorn gateway.serve:make_app --factory``: the app built from the environment (one per worker)."""

from fastapi import FastAPI

from core.settings import Settings
from gateway.app import create_app


def make_app() -> FastAPI:
    """Each worker loads the model, checks and marks before it accepts requests (``ASSAY_PRELOAD=false``:
    lazily, on first use)."""
    settings = Settings()
    return create_app(settings, preload=settings.preload)
