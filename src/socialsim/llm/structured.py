"""Structured output: a pydantic model in, a validated instance out, or a loud failure.

1. The request carries the model's JSON schema (a grammar on llama.cpp, ``response_format`` on servers).
2. The reply is parsed leniently (code fences and prose around the object are ignored, raw newlines inside
   strings are accepted), then validated.
3. If that fails, the text is repaired with ``json_repair`` and validated again (counted as a repair).
4. If that fails too, the model is re-asked with the error, at most ``max_attempts`` calls in all.
5. Then :class:`StructuredOutputError` is raised with every raw reply kept for inspection: never a silent drop.
"""

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Generic, TypeVar

import json_repair
from pydantic import BaseModel, ValidationError

from socialsim.errors import BackendError
from socialsim.llm.base import Backend
from socialsim.llm.types import ChatRequest, Completion, Message, Sampling
from socialsim.prompts import render

T = TypeVar("T", bound=BaseModel)


class StructuredOutputError(BackendError):
    """The model never produced a valid object. ``raw_outputs`` holds every reply it gave."""

    def __init__(self, schema_name: str, raw_outputs: list[str], errors: list[str]) -> None:
        last = raw_outputs[-1][:200] if raw_outputs else ""
        super().__init__(
            f"no valid {schema_name} after {len(raw_outputs)} attempts: {errors[-1] if errors else 'no reply'}; "
            f"last reply: {last!r}",
            "a stronger model or a higher max_tokens usually helps",
        )
        self.raw_outputs, self.errors = raw_outputs, errors


@dataclass
class Structured(Generic[T]):
    value: T
    completion: Completion
    attempts: int
    repaired: bool
    raw_outputs: list[str] = field(default_factory=list)


def _json_span(text: str) -> str:
    """The outermost {...} in ``text`` (models like to wrap JSON in fences or prose)."""
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if start != -1 and end > start else text


def parse_lenient(text: str, model: type[T]) -> tuple[T, bool]:
    """Parse ``text`` into ``model``; returns (value, repaired). Raises ValueError with a short reason."""
    span = _json_span(text)
    try:
        return model.model_validate(json.loads(span, strict=False)), False
    except json.JSONDecodeError:
        pass
    except ValidationError as exc:
        raise ValueError(_short_error(exc)) from exc
    repaired = json_repair.loads(text)
    if not isinstance(repaired, dict) or not repaired:
        raise ValueError("the reply holds no JSON object")
    try:
        return model.model_validate(repaired), True
    except ValidationError as exc:
        raise ValueError(_short_error(exc)) from exc


@cache
def _schema(model: type[BaseModel]) -> dict:
    """The model's JSON schema, built once per class (pydantic rebuilds it on every call, costly per request)."""
    return model.model_json_schema()


def _short_error(exc: ValidationError) -> str:
    parts = [f"{'.'.join(map(str, e['loc'])) or 'object'}: {e['msg']}" for e in exc.errors()[:3]]
    return "; ".join(parts)


async def complete_structured(
    backend: Backend,
    messages: list[Message],
    model: type[T],
    sampling: Sampling | None = None,
    *,
    session: str | None = None,
    max_attempts: int = 3,
) -> Structured[T]:
    sampling = sampling or backend.default_sampling()
    schema = _schema(model)
    history = list(messages)
    raw_outputs: list[str] = []
    errors: list[str] = []
    for attempt in range(1, max_attempts + 1):
        request = ChatRequest(history, sampling.with_(seed=sampling.seed + attempt - 1), schema, session)
        completion = await backend.complete(request)
        raw_outputs.append(completion.text)
        try:
            value, repaired = parse_lenient(completion.text, model)
        except ValueError as exc:
            errors.append(str(exc))
            backend.stats.add(parse_failures=1)
            if attempt < max_attempts:
                backend.stats.add(reasks=1)
                history = [*messages, {"role": "assistant", "content": completion.text},
                           {"role": "user", "content": render("common/reask.j2", error=str(exc),
                                                              schema=json.dumps(schema))}]
            continue
        if repaired:
            backend.stats.add(repairs=1)
        return Structured(value, completion, attempt, repaired, raw_outputs)
    backend.stats.add(structured_failures=1)
    raise StructuredOutputError(model.__name__, raw_outputs, errors)
