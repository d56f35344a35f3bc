import asyncio

import pytest
from pydantic import BaseModel, Field

from scripted import ScriptedBackend
from socialsim.llm.structured import StructuredOutputError, complete_structured, parse_lenient


class Reply(BaseModel):
    emotion: str
    intensity: int = Field(ge=1, le=5)


MESSAGES = [{"role": "user", "content": "hi"}]


def test_parse_accepts_fences_prose_and_raw_newlines():
    value, repaired = parse_lenient('Sure!\n```json\n{"emotion": "sad\nand tired", "intensity": 4}\n```', Reply)
    assert value == Reply(emotion="sad\nand tired", intensity=4) and not repaired


def test_truncated_json_is_repaired_and_counted():
    backend = ScriptedBackend(['{"emotion": "anxious", "intensity": 3'])
    result = asyncio.run(complete_structured(backend, MESSAGES, Reply))
    assert result.value == Reply(emotion="anxious", intensity=3)
    assert result.repaired and backend.stats.repairs == 1 and result.attempts == 1


def test_invalid_reply_is_reasked_with_the_error_then_accepted():
    backend = ScriptedBackend(['{"emotion": "angry", "intensity": 9}', '{"emotion": "angry", "intensity": 5}'])
    result = asyncio.run(complete_structured(backend, MESSAGES, Reply))
    assert result.value.intensity == 5 and result.attempts == 2
    reask = backend.requests[1].messages
    assert reask[-2]["content"] == '{"emotion": "angry", "intensity": 9}'
    assert "intensity" in reask[-1]["content"] and "less than or equal to 5" in reask[-1]["content"]
    assert backend.requests[0].sampling.seed != backend.requests[1].sampling.seed
    assert backend.stats.parse_failures == 1 and backend.stats.reasks == 1


def test_failure_is_loud_and_keeps_every_raw_reply():
    backend = ScriptedBackend(["I feel you.", "no json here", "still none"])
    with pytest.raises(StructuredOutputError) as err:
        asyncio.run(complete_structured(backend, MESSAGES, Reply, max_attempts=3))
    assert err.value.raw_outputs == ["I feel you.", "no json here", "still none"]
    assert backend.stats.structured_failures == 1 and backend.stats.parse_failures == 3


def test_schema_is_sent_with_the_request():
    backend = ScriptedBackend(['{"emotion": "calm", "intensity": 1}'])
    asyncio.run(complete_structured(backend, MESSAGES, Reply))
    assert backend.requests[0].json_schema["properties"]["intensity"]["maximum"] == 5
