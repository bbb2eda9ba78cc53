"""``uvicorn gateway.serve:make_app --factory``: the app built from the environment (one per worker)."""

import os

from fastapi import FastAPI

from core.settings import Settings
from gateway.app import create_app


def make_app() -> FastAPI:
    """Each worker loads the model, checks and marks before it accepts requests (ASSAY_PRELOAD=0: lazily)."""
    return create_app(Settings(), preload=os.environ.get("ASSAY_PRELOAD", "1") != "0")
