"""Interactive evaluation puts the chatbot in the simulator's supporter seat: the same seeker, the same checks.

The seeker is scripted here (orchestration only); the real-model run is in test_chatbot_training.py.
"""

import asyncio
import json

from scripted import ScriptedBackend
from sim_backend import SUPPORTER_LINES, scripted_reply
from socialsim.chatbot.interactive import evaluate_interactive
from socialsim.corpus.readers import read_corpus
from socialsim.safety import crisis_reply
from socialsim.simulation.config import SimulationConfig
from test_simulation_loop import make_profile


class Seeker:
    """The backend provider's interface, with a scripted seeker (and no judge)."""

    def __init__(self, reply=scripted_reply):
        self.seeker = ScriptedBackend(reply)
        self.stats, self.structured_attempts = self.seeker.stats, 3

    def get(self, role):
        assert role == "seeker"
        return self.seeker


def converse(tmp_path, respond, seeker=None, n=1, **simulation):
    config = SimulationConfig(**{"max_turns": 8, "min_turns": 8, **simulation})
    return asyncio.run(evaluate_interactive([make_profile()], n, tmp_path / "ie", respond, seeker or Seeker(),
                                            config, None, chatbot="bot", progress=False))


def test_a_chatbot_that_repeats_itself_ends_the_dialogue_as_the_simulator_would(tmp_path):
    async def parrot(prompt):
        return "Tell me more about how that felt for you this week."

    result = converse(tmp_path, parrot, max_regenerations=1)
    [dialogue] = result.dialogues
    assert dialogue.termination == "repetition"
    assert dialogue.meta["rejected"] == {"supporter_repeat": 2} and dialogue.meta["chatbot"] == "bot"
    assert [t.speaker for t in dialogue.turns] == ["seeker", "supporter", "seeker"]


def test_the_chatbot_sees_the_dialogue_and_a_rerun_resumes(tmp_path):
    prompts = []

    async def bot(prompt):
        prompts.append(prompt)
        return f"[Question] {SUPPORTER_LINES[len(prompts) % len(SUPPORTER_LINES)]}"

    result = converse(tmp_path, bot, n=2)
    assert [len(d.turns) for d in result.dialogues] == [8, 8]
    first = result.dialogues[0]
    assert first.by("supporter")[0].text == SUPPORTER_LINES[1]  # the '[Strategy]' tag is parsed off
    assert first.by("supporter")[0].strategy == "Question"
    assert prompts[1][0]["role"] == "system" and prompts[1][-1]["content"] == first.by("seeker")[1].text
    assert first.meta["initial_intensity"] == first.by("seeker")[0].intensity
    calls = len(prompts)
    again = converse(tmp_path, bot, n=2)
    assert len(prompts) == calls and [d.id for d in again.dialogues] == [d.id for d in result.dialogues]
    assert len(list(read_corpus(tmp_path / "ie" / "dialogues.jsonl"))) == 2


def test_a_crisis_turn_the_chatbot_ignores_gets_the_safe_reply_and_is_counted(tmp_path):
    def seeker(request):
        return json.dumps({"message": "Some nights I want to kill myself.", "intensity": 5, "end": False})

    async def oblivious(prompt):
        return f"Have you tried a new hobby? ({len(prompt)})"

    result = converse(tmp_path, oblivious, Seeker(seeker), max_turns=2, min_turns=2, max_regenerations=0)
    [dialogue] = result.dialogues
    assert dialogue.by("supporter")[0].text == crisis_reply()
    assert result.summary["crisis_turns"] == 1
