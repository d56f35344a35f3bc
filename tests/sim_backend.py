"""A test-only scripted backend that plays both dialogue roles (orchestration tests only, never a user option).

Registered with ``register_backend("sim-script", SimScript)``. ``llm.model = "delay=0.01"`` sleeps per call; the
environment variable ``SIM_SCRIPT_DIE=K`` makes it raise a BackendError from the K-th call on (a backend that dies
mid-run, without changing the run's configuration).
"""

import asyncio
import json
import os

from socialsim.errors import BackendError
from socialsim.llm.base import Backend
from socialsim.llm.types import ChatRequest, Completion, Usage


def is_seeker(request: ChatRequest) -> bool:
    return "message" in (request.json_schema or {}).get("properties", {})  # the seeker's reply schema


SEEKER_LINES = (
    "Hi, work has been crushing me lately.", "My manager piles extra shifts on me every week.",
    "Honestly I cry in the car before going in.", "It started in spring when two colleagues quit.",
    "I tried talking to HR once but nothing changed.", "Sleep is the worst part, I wake at four.",
    "My sister says I should just quit, but rent is due.", "Maybe I could ask for a fixed schedule.",
    "That actually sounds doable, writing it down first.", "Thank you, I feel a little lighter now.",
    "Weekends are gone too, I only do laundry.", "I guess I am afraid of being seen as weak.",
)
SUPPORTER_LINES = (
    "What has been weighing on you most this week?", "That sounds exhausting, you carry a lot.",
    "How long has it been like this?", "It makes sense that you feel drained.",
    "Who else knows how hard this has been?", "Many people in your place would feel the same.",
    "Would a short talk with your manager be possible?", "You have been very patient with yourself.",
    "Writing down what you need first could help.", "I am glad this conversation helped a bit.",
    "What would a fair week look like to you?", "Taking care of your sleep matters too.",
)


def scripted_reply(request: ChatRequest) -> str:
    """A distinct, well-formed reply for the role and turn of ``request`` (with the strategy a policy fixed in the
    schema, if any)."""
    turn = sum(1 for m in request.messages if m["role"] == "user") - 1
    if is_seeker(request):
        return json.dumps({"message": SEEKER_LINES[turn % len(SEEKER_LINES)],
                           "intensity": max(1, 4 - turn // 3), "end": False})
    strategy = (request.json_schema or {}).get("properties", {}).get("strategy", {}).get("const", "Question")
    return json.dumps({"situation": f"situation {turn}", "thought": f"thought {turn}", "action": f"action {turn}",
                       "strategy": strategy, "strategy_reason": "exploring first",
                       "response": SUPPORTER_LINES[turn % len(SUPPORTER_LINES)]})


class SimScript(Backend):
    kind = "sim-script"

    def __init__(self, config, stats=None) -> None:
        super().__init__(config, stats)
        options = dict(part.split("=") for part in (config.model or "").split(",") if "=" in part)
        self.delay = float(options.get("delay", 0))
        self.die = int(os.environ.get("SIM_SCRIPT_DIE", 0))
        self.calls = 0

    @property
    def model_id(self) -> str:
        return "sim-script"

    async def complete(self, request: ChatRequest) -> Completion:
        self.calls += 1
        if self.die and self.calls >= self.die:
            raise BackendError("connection to the model server lost")
        if self.delay:
            await asyncio.sleep(self.delay)
        text = scripted_reply(request)
        self.stats.add(calls=1, completion_tokens=len(text.split()))
        return Completion(text=text, model="sim-script", usage=Usage(10, len(text.split()), 10))
