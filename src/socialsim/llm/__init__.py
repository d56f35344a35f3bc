"""The LLM layer: one interface (:class:`Backend`), a registry of backends, structured output and a cache."""

from socialsim.llm.base import Backend
from socialsim.llm.cache import CachedBackend, RequestCache
from socialsim.llm.config import BackendConfig
from socialsim.llm.registry import available_backends, create_backend, register_backend
from socialsim.llm.stats import RunStats
from socialsim.llm.structured import Structured, StructuredOutputError, complete_structured, parse_lenient
from socialsim.llm.types import ChatRequest, Completion, Message, Sampling, Usage

__all__ = [
    "Backend", "BackendConfig", "CachedBackend", "ChatRequest", "Completion", "Message", "RequestCache",
    "RunStats", "Sampling", "Structured", "StructuredOutputError", "Usage", "available_backends",
    "complete_structured", "create_backend", "parse_lenient", "register_backend",
]
