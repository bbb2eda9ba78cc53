"""Generation backends: one `Backend` protocol, a diffusers backend, a remote OpenAI-compatible backend."""

from models.base import Backend, GenerationMode, GenerationRequest, GenerationResult, ModelInfo

__all__ = ["Backend", "GenerationMode", "GenerationRequest", "GenerationResult", "ModelInfo"]
