"""The real embedded model (SmolLM2-135M Q4_1 in llama.cpp): structured output and KV-cache reuse."""

import asyncio
from typing import Literal

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


class Odd(BaseModel):
    code: Literal["zq-7x"]  # a value the model would never write unprompted: the grammar must force it
    mood: Literal["calm", "tense"]


def test_grammar_is_enforced_even_when_the_model_would_write_something_else(embedded_backend):
    messages = [{"role": "user", "content": "Tell me a short story about a cat."}]
    sampling = embedded_backend.default_sampling().with_(temperature=0.9, max_tokens=40)
    for seed in range(3):
        request = ChatRequest(messages, sampling.with_(seed=seed), json_schema=Odd.model_json_schema(),
                              session=f"odd-{seed}")
        completion = asyncio.run(embedded_backend.complete(request))
        assert Odd.model_validate_json(completion.text).code == "zq-7x"  # no repair: the raw text is valid


def test_a_new_dialogue_reuses_the_system_prompt_of_the_same_role_from_a_recycled_context():
    from socialsim.llm.config import LlamaCppSettings
    from socialsim.llm.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(LlamaCppSettings(temperature=0.0, max_tokens=8, max_sessions=2))
    supporter = {"role": "system", "content": "You are a caring supporter in an online chat. " * 12}
    seeker = {"role": "system", "content": "You play a tired nurse who needs support. " * 12}
    sampling = backend.default_sampling()

    def ask(session: str, system: dict, text: str):
        messages = [system, {"role": "user", "content": text}]
        return asyncio.run(backend.complete(ChatRequest(messages, sampling, session=session)))

    ask("d1/seeker", seeker, "Hello.")
    ask("d1/supporter", supporter, "I feel lonely since I moved.")
    # The pool is full: d1/seeker is the least recently used, but d2's supporter takes d1's supporter context.
    second = ask("d2/supporter", supporter, "My exams start next week and I panic.")
    assert second.usage.prompt_tokens_evaluated < second.usage.prompt_tokens / 3


def test_two_roles_taking_turns_on_two_contexts_each_keep_their_cache():
    """A new session takes an unused or least recently used sequence, never the one the other role of the same
    dialogue just used (which shares a few template tokens with it)."""
    from socialsim.llm.config import LlamaCppSettings
    from socialsim.llm.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(LlamaCppSettings(temperature=0.0, max_tokens=8, max_sessions=2, parallel=2))
    histories = {"d/seeker": [{"role": "system", "content": "You play a tired nurse who needs support. " * 6}],
                 "d/supporter": [{"role": "system", "content": "You are a caring supporter. " * 6}]}

    async def turn(session: str, text: str):
        histories[session].append({"role": "user", "content": text})
        reply = await backend.complete(ChatRequest(histories[session], backend.default_sampling(), session=session))
        histories[session].append({"role": "assistant", "content": reply.text})
        return reply

    async def dialogue():
        return [await turn(s, t) for s, t in [("d/seeker", "Start."), ("d/supporter", "I am so tired."),
                                              ("d/seeker", "How are you?"), ("d/supporter", "Night shifts.")]]

    replies = asyncio.run(dialogue())
    asyncio.run(backend.aclose())
    for later in replies[2:]:  # each role's second turn evaluates only its new tokens
        assert later.usage.prompt_tokens_evaluated < later.usage.prompt_tokens / 2, later.usage
