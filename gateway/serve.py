"""``uvicorn gateway.serve:make_app --factory``: the app built from the environment (one per worker)."""

from fastapi import FastAPI

from gateway.app import create_app
from gateway.settings import Settings


def make_app() -> FastAPI:
    return create_app(Settings(), preload=True)
