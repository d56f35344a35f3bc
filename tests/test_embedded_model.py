"""The real embedded model (SmolLM2-135M Q4_1 in llama.cpp): structured output and KV-cache reuse."""

import asyncio

import pytest
from pydantic import BaseModel, Field

from socialsim.llm.structured import complete_structured
from socialsim.llm.types import ChatRequest

pytestmark = pytest.mark.slow


class Feeling(BaseModel):
    emotion: str = Field(max_length=20)
    intensity: int = Field(ge=1, le=5)


def test_schema_constrained_generation_returns_a_valid_object(embedded_backend):
    messages = [{"role": "user", "content": "I failed my driving test again. Name my emotion and rate it 1-5."}]
    result = asyncio.run(complete_structured(embedded_backend, messages, Feeling))
    assert isinstance(result.value, Feeling) and 1 <= result.value.intensity <= 5
    assert result.completion.usage.completion_tokens > 0


def test_a_session_only_evaluates_the_new_tokens_of_its_next_turn(embedded_backend):
    history = [{"role": "system", "content": "You are a kind listener. Answer briefly."},
               {"role": "user", "content": "My dog died last week and the house feels empty."}]
    sampling = embedded_backend.default_sampling().with_(max_tokens=24)

    first = asyncio.run(embedded_backend.complete(ChatRequest(history, sampling, session="kv-test")))
    history += [{"role": "assistant", "content": first.text},
                {"role": "user", "content": "Thank you. I keep expecting to hear him at the door."}]
    second = asyncio.run(embedded_backend.complete(ChatRequest(history, sampling, session="kv-test")))
    new_tokens = second.usage.prompt_tokens - first.usage.prompt_tokens
    assert second.usage.prompt_tokens_evaluated <= new_tokens + 2
    assert second.usage.prompt_tokens_evaluated < second.usage.prompt_tokens / 2
