"""The LLM layer: one interface (:class:`Backend`), a registry of backends, structured output and a cache."""

from socialsim.llm.base import Backend
from socialsim.llm.cache import CachedBackend, RequestCache
from socialsim.llm.config import BackendSettings, LlamaCppSettings, OpenAISettings
from socialsim.llm.registry import (
    available_backends,
    backend_settings,
    create_backend,
    register_backend,
    resolve_settings,
)
from socialsim.llm.stats import RunStats
from socialsim.llm.structured import Structured, StructuredOutputError, complete_structured, parse_lenient
from socialsim.llm.types import ChatRequest, Completion, Message, Sampling, Usage

__all__ = [
    "Backend", "BackendSettings", "CachedBackend", "ChatRequest", "Completion", "LlamaCppSettings", "Message",
    "OpenAISettings", "RequestCache", "RunStats", "Sampling", "Structured", "StructuredOutputError", "Usage",
    "available_backends", "backend_settings", "complete_structured", "create_backend", "parse_lenient",
    "register_backend", "resolve_settings",
]
